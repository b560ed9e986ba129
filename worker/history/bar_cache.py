"""Answers kept for reuse: immutable ones (their end is in the past) in an LRU bounded in bytes, and answers ending
now for a short time-to-live (never longer than one bar). IB refuses an identical request within 15 s; the cache is
what answers it instead."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

BYTES_PER_BAR = 650  # a bar dict: 9 keys (~360 B) and its values (~290 B), by sys.getsizeof; good enough for a budget


@dataclass
class _Entry:
    answer: dict[str, Any]
    size: int
    expires: float | None  # None: immutable


class BarCache:
    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= self._clock():
            self._drop(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.answer

    def put(self, key: Hashable, answer: dict[str, Any], ttl: float | None) -> None:
        """Keep `answer`: for `ttl` seconds, or (ttl None) until evicted."""
        if ttl is not None and ttl <= 0:
            return
        count = answer["count"] if "count" in answer else len(answer.get("bars", ()))  # bars may be stored JSON
        size = BYTES_PER_BAR * (count + 1)
        if size > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(answer, size, None if ttl is None else self._clock() + ttl)
        self.size += size
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self.size -= entry.size

    def stats(self) -> dict[str, Any]:
        lookups = self.hits + self.misses
        return {"entries": len(self._entries), "bytes": self.size, "max_bytes": self.max_bytes, "hits": self.hits,
                "misses": self.misses, "hit_ratio": round(self.hits / lookups, 4) if lookups else None}
