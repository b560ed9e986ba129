"""One stream client's pending output: a slow client never slows the others, and never loses a bar.

The fan-out puts encoded events here without ever waiting; the client's own greenlet takes everything pending in one
write. While the client does not read (its socket full, its greenlet blocked in a write), events pile up: pending
`update`s are coalesced to the latest (an update is the forming bar's state: only the newest matters), while `bar`,
`revision` and `status` events are never dropped. When more than `limit` of those are pending, the client is too slow
to keep: the buffer overflows, drops everything and says so; the stream is closed and the client resumes from the
last bar it received (Last-Event-ID).
"""

from __future__ import annotations

from gevent.event import Event


class ClientBuffer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.overflowed = False
        self._chunks: list[bytes | None] = []  # None: an update replaced by a newer one
        self._update_at: int | None = None  # index of the pending update, if any
        self._kept = 0  # pending chunks that may not be dropped
        self.ready = Event()  # set while something is pending (or the buffer overflowed)

    def __len__(self) -> int:
        return self._kept + (self._update_at is not None)

    def put(self, chunk: bytes, coalesce: bool = False) -> bool:
        """Queue `chunk`; `coalesce` for an update, which replaces a pending one. False once the buffer overflowed."""
        if self.overflowed:
            return False
        if coalesce:
            if self._update_at is not None:
                self._chunks[self._update_at] = None
            self._update_at = len(self._chunks)
        elif self._kept >= self.limit:
            self.overflowed = True
            self._chunks, self._update_at, self._kept = [], None, 0
            self.ready.set()
            return False
        else:
            self._kept += 1
        self._chunks.append(chunk)
        self.ready.set()
        return True

    def take(self) -> bytes:
        """Everything pending, in order, as one write (b"" when nothing is)."""
        chunks, self._chunks, self._update_at, self._kept = self._chunks, [], None, 0
        if not self.overflowed:
            self.ready.clear()
        return b"".join(chunk for chunk in chunks if chunk is not None)
