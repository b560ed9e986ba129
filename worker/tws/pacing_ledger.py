"""The pacing ledger: which historical requests the worker sent TWS, and when, kept in a small file that outlives it.

IB's pacing rules count what TWS received, not what one process remembers: a worker restarted after kill -9 with an
empty history would at once send again what the dead one sent a second before, and TWS answers 162 (pacing
violation). So worker/tws/pacing.py appends every historical request here before its message is sent (a request the dead
worker had open, or was sending when it died, counts as sent), and a new worker reads the file at start-up.

One `os.write` per record on an O_APPEND descriptor, no fsync: once write() returns, the line is in the kernel's page
cache, which belongs to the file and not to the process, so kill -9 or any crash of the worker cannot lose it (only a
crash of the whole machine could, and a fsync per request would cost far more than the risk is worth). A kill can cut
at most the line being written; `load` skips such a line with one warning. A file that cannot be read at all is moved
aside with a clear log line and the worker starts with an empty history. Times are wall-clock epoch seconds: the
monotonic clock does not carry from one process to the next (pacing maps them back at load).

Behind a small interface (`PacingLedger`: load, append, rewrite) so that a store (SQLite) can take its place later.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

log = logging.getLogger("tws.pacing_ledger")

MAX_FILE_BYTES = 16 * 1024 * 1024  # compaction keeps it far smaller; a larger file is not a ledger we wrote


@dataclass(frozen=True)
class SentRequest:
    """One historical request as IB's pacing rules see it, with the wall-clock time it was sent."""

    wall: float  # epoch seconds (time.time())
    identity: tuple[object, ...]
    group: tuple[object, ...]
    bar_seconds: int
    weight: int


class PacingLedger(Protocol):
    location: str | None  # for /health and logs; None: in memory only

    def load(self) -> list[SentRequest]: ...
    def append(self, sent: SentRequest) -> None: ...
    def rewrite(self, keep: Iterable[SentRequest]) -> None: ...
    def close(self) -> None: ...


class MemoryLedger:
    """No file (BRIDGE_PACING_LEDGER empty): a restarted worker starts with an empty pacing history."""

    location: str | None = None

    def load(self) -> list[SentRequest]:
        return []

    def append(self, sent: SentRequest) -> None:
        return None

    def rewrite(self, keep: Iterable[SentRequest]) -> None:
        return None

    def close(self) -> None:
        return None


class FileLedger:
    """JSON lines in a file only the worker's user can read: {"t": epoch, "i": identity, "g": group, "s": bar
    seconds, "w": weight}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location: str | None = str(path)
        self._fd: int | None = None
        self._failed = False  # a write failed: logged once, pacing goes on in memory

    def load(self) -> list[SentRequest]:
        try:
            size = self.path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise OSError(f"{size} bytes, more than a pacing ledger ever holds")
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._move_aside(exc)
            return []
        records: list[SentRequest] = []
        skipped = 0
        for line in data.splitlines():
            if line.strip():
                record = decode(line)
                if record is None:
                    skipped += 1
                else:
                    records.append(record)
        if skipped:
            log.warning("pacing ledger %s: skipped %d unreadable line(s) (a killed worker can cut the last one)",
                        self.path, skipped)
        return records

    def append(self, sent: SentRequest) -> None:
        if self._failed:
            return
        try:
            if self._fd is None:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                # O_NOFOLLOW: never write through a symlink someone else planted where the ledger should be
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                                   0o600)
            os.write(self._fd, encode(sent))  # one write per record: a kill cuts at most this line
        except OSError as exc:
            self._failed = True
            log.error("pacing ledger %s cannot be written (%s): pacing goes on in memory only, and a restarted "
                      "worker will not know what this one sent", self.path, exc)

    def rewrite(self, keep: Iterable[SentRequest]) -> None:
        """Replace the file with `keep` (compaction): a new file renamed over the old, so a kill leaves one whole."""
        if self._failed:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, b"".join(encode(sent) for sent in keep))
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("pacing ledger %s could not be compacted (%s); appending to it as it is", self.path, exc)
            return
        self.close()  # the descriptor names the old file: reopen on the next append

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _move_aside(self, exc: OSError) -> None:
        aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
        try:
            os.replace(self.path, aside)
        except OSError as move_exc:
            self._failed = True
            log.error("pacing ledger %s cannot be read (%s) nor moved aside (%s): pacing is kept in memory only",
                      self.path, exc, move_exc)
            return
        log.error("pacing ledger %s cannot be read (%s): moved aside to %s; starting with an empty pacing history",
                  self.path, exc, aside)


def open_ledger(path: Path | None) -> PacingLedger:
    return FileLedger(path) if path is not None else MemoryLedger()


def encode(sent: SentRequest) -> bytes:
    return orjson.dumps({"t": sent.wall, "i": sent.identity, "g": sent.group, "s": sent.bar_seconds,
                         "w": sent.weight}) + b"\n"


def decode(line: bytes) -> SentRequest | None:
    """One record, or None for a line that is not one (cut by a kill, or not ours)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    wall, identity, group, seconds, weight = obj.get("t"), obj.get("i"), obj.get("g"), obj.get("s"), obj.get("w")
    if (not isinstance(wall, int | float) or isinstance(wall, bool) or not math.isfinite(wall)
            or not _values(identity) or not _values(group)
            or not isinstance(seconds, int) or isinstance(seconds, bool) or weight not in (1, 2)):
        return None
    assert isinstance(identity, list) and isinstance(group, list)
    return SentRequest(float(wall), tuple(identity), tuple(group), seconds, int(weight))


def _values(items: object) -> bool:
    return isinstance(items, list) and all(isinstance(v, str | int | float | bool) for v in items)
