"""One stream client's view of its series: every completed bar after its cursor exactly once, in order, then live.

The protocol (shared/streams.py) numbers the events of a series `seq` = 1, 2, 3, ... within one `incarnation` of
the TWS worker. A receiver is attached to the fan-out before it opens (when the process knows the series' id), so
events that arrive while `stream_open` is answered are held, not lost. The snapshot says which `seq` it contains:
held events up to it are dropped, later ones applied. Afterwards each event must be the next `seq` of the same
incarnation; anything else (a gap: an event lost on the way, a new worker process, a series re-created) re-opens
with `after` = the cursor, the last bar the client was sent, so the bars in between come from the snapshot, once.

The cursor is the last completed bar the client has or did not ask for: Last-Event-ID, else the newest bar of the
first snapshot (sent with `backfill`, or only noted without it). A re-open before any bar was known asks for the
whole window: every bar in it is new to this client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.streams import sse
from app.streams.client_buffer import ClientBuffer
from app.streams.request import StreamRequest
from shared.errors import BridgeError, ErrorCode
from shared.streams import MAX_BACKFILL, StreamEvent, StreamSnapshot


def encode(event: StreamEvent) -> bytes:
    """The SSE form of a feed event, the same for every client (the fan-out encodes it once)."""
    if event.event == "error":
        return sse.error_event(event.data["code"], event.data["message"])
    return sse.event(event.event, event.data, event.data["time"] if event.event == "bar" else None)


class Receiver:
    def __init__(self, request: StreamRequest, buffer: ClientBuffer,
                 on_overflow: Callable[[], None] = lambda: None) -> None:
        self.request = request
        self.buffer = buffer
        self.series: str | None = None  # the id the fan-out files this receiver under
        self.cursor: int | None = request.after
        self.closed = False  # a terminal error was queued, or the buffer overflowed
        self.reopen_needed = False
        self.heartbeat_due = False
        self.opens = 0
        self._on_overflow = on_overflow
        self._incarnation: str | None = None
        self._seq = 0
        self._opening = True
        self._held: list[tuple[StreamEvent, bytes]] = []
        self._last_status: dict[str, Any] | None = None

    def open_body(self) -> dict[str, Any]:
        """The body of the next stream_open."""
        if self.cursor is not None:
            after, backfill = self.cursor, 0
        elif self.opens == 0:  # at least one bar: the newest becomes the cursor even when none is sent
            after, backfill = None, max(1, self.request.backfill)
        else:  # no snapshot held a bar yet: all of the window is new to this client
            after, backfill = None, MAX_BACKFILL
        return self.request.open_body(after, backfill)

    def request_reopen(self) -> None:
        """Open again from the cursor (the worker no longer knows the series, or events were lost)."""
        if self.closed:
            return
        self._opening = True
        self.reopen_needed = True
        self.buffer.ready.set()  # wake the client's greenlet, which re-opens

    def beat(self) -> None:
        """Time for a heartbeat comment (the fan-out's timer)."""
        self.heartbeat_due = True
        self.buffer.ready.set()

    # -- the snapshot ------------------------------------------------------------------------------------------------

    def apply_snapshot(self, result: dict[str, Any]) -> None:
        """A stream_open result: its bars after the cursor, its forming bar and status, then the held events.
        ProtocolError when the result is not a snapshot (nothing of it is applied then)."""
        snapshot = StreamSnapshot.from_wire(result)
        if snapshot.gap:
            self.fail(BridgeError(ErrorCode.RESUME_UNAVAILABLE, f"bar {self.cursor} is older than the series' window "
                                  "the bridge keeps; open the stream without Last-Event-ID (backfill=N) and fetch "
                                  "older bars with POST /api/v1/bars"))
            return
        bars, forming, status = snapshot.bars, snapshot.forming, snapshot.status
        first, self.opens = self.opens == 0, self.opens + 1
        if first and self.cursor is None:
            new = bars[len(bars) - self.request.backfill:] if self.request.backfill else []
        else:
            new = [bar for bar in bars if self.cursor is None or bar["time"] > self.cursor]
        for bar in new:
            self._put(sse.event("bar", bar, bar["time"]))
        if bars and (self.cursor is None or bars[-1]["time"] > self.cursor):
            self.cursor = bars[-1]["time"]
        if forming is not None:
            self._put(sse.event("update", forming), coalesce=True)
        if status != self._last_status:
            self._last_status = status
            self._put(sse.event("status", status))
        self._incarnation, self._seq, self._opening = snapshot.incarnation, snapshot.seq, False
        held, self._held = self._held, []
        for event, chunk in held:
            if self._opening:  # a held event re-opened again: keep the rest for after that snapshot
                self._held.append((event, chunk))
            elif not (event.incarnation == self._incarnation and event.seq <= self._seq):  # in the snapshot
                self._accept(event, chunk)

    # -- live events -------------------------------------------------------------------------------------------------

    def deliver(self, event: StreamEvent, chunk: bytes) -> None:
        """An event of this receiver's series from the feed (`chunk`: its SSE form). Never waits."""
        if self.closed:
            return
        if self._opening:
            if len(self._held) >= self.buffer.limit:
                self._overflow()
                return
            self._held.append((event, chunk))
            return
        self._accept(event, chunk)

    def _accept(self, event: StreamEvent, chunk: bytes) -> None:
        if event.incarnation != self._incarnation or event.seq != self._seq + 1:
            self._held.append((event, chunk))  # the re-open's snapshot decides whether it is news
            self.request_reopen()
            return
        self._seq = event.seq
        if event.event == "bar":
            time = event.data["time"]
            if self.cursor is not None and time <= self.cursor:
                return  # the client has it (the snapshot it re-opened with held it)
            self.cursor = time
            self._put(chunk)
        elif event.event == "update":
            self._put(chunk, coalesce=True)
        elif event.event == "status":
            self._last_status = event.data
            self._put(chunk)
        elif event.event == "revision":
            self._put(chunk)
        else:  # error: the series ended for good
            self._put(chunk)
            self.closed = True

    def fail(self, error: BridgeError) -> None:
        """End the stream with an `error` event."""
        if not self.closed:
            self._put(sse.error_event(error.code.value, error.message))
            self.closed = True

    def _put(self, chunk: bytes, coalesce: bool = False) -> None:
        if not self.buffer.put(chunk, coalesce):
            self._overflow()

    def _overflow(self) -> None:
        if not self.closed:
            self.closed = True
            self._held = []
            self.buffer.ready.set()
            self._on_overflow()
