"""The pacing ledger: which historical requests the worker sent TWS, and when, kept where it outlives the worker.

IB's pacing rules count what TWS received, not what one process remembers: a worker restarted after kill -9 with an
empty history would at once send again what the dead one sent a second before, and TWS answers 162 (pacing
violation). So worker/tws/pacing.py appends every historical request to the ledger before its message is sent (a
request the dead worker had open, or was sending when it died, counts as sent), and a new worker loads it at start-up.

This module is the interface (`PacingLedger`: load, append, rewrite, close), the record and its JSON form. The ledger
itself is a table of the bar store (worker/history/store_ledger.py: each append committed before it returns); with
the store in memory, `MemoryLedger`. Times are wall-clock epoch seconds: the monotonic clock does not carry from one
process to the next (pacing maps them back at load).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import orjson


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
    """No store file (BRIDGE_STORE_PATH empty, or unusable): a restarted worker starts with an empty pacing history."""

    location: str | None = None

    def load(self) -> list[SentRequest]:
        return []

    def append(self, sent: SentRequest) -> None:
        return None

    def rewrite(self, keep: Iterable[SentRequest]) -> None:
        return None

    def close(self) -> None:
        return None


def encode(sent: SentRequest) -> bytes:
    """One record as a JSON line: {"t": epoch, "i": identity, "g": group, "s": bar seconds, "w": weight}."""
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
