"""Answers that can no longer change, kept by each HTTP worker so that repeating them costs no trip to the TWS worker.

The TWS worker says which answers are final (`"ttl": null` in its reply: an end in the past whose bars are all
complete, worker/history/bar_fetcher.py); it keeps those for good itself. This cache holds their encoded HTTP bodies,
keyed by the validated request (`BarRequest`, equal exactly when the wire forms are), so only an identical request
is answered from it. An LRU bounded in bytes (BRIDGE_HTTP_CACHE_MB), least recently used first out. One HTTP worker's
greenlets share it; they switch only where they wait, never inside these methods.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from shared.bars import BarRequest

ENTRY_OVERHEAD = 400  # bytes per entry besides the body: the key, its fields, the dict's slot


class AnswerCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[BarRequest, bytes] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, request: BarRequest) -> bytes | None:
        body = self._entries.get(request)
        if body is None:
            self.misses += 1
            return None
        self._entries.move_to_end(request)
        self.hits += 1
        return body

    def put(self, request: BarRequest, body: bytes) -> None:
        size = len(body) + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        old = self._entries.pop(request, None)
        if old is not None:
            self.size -= len(old) + ENTRY_OVERHEAD
        self._entries[request] = body
        self.size += size
        while self.size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= len(evicted) + ENTRY_OVERHEAD

    def stats(self) -> dict[str, Any]:
        lookups = self.hits + self.misses
        return {"entries": len(self._entries), "bytes": self.size, "max_bytes": self.max_bytes, "hits": self.hits,
                "misses": self.misses, "hit_ratio": round(self.hits / lookups, 4) if lookups else None}
