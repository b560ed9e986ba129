"""The validated requests of bodies seen recently, per HTTP worker: a polling client sends the same bytes again and
again, and validating them (marshmallow's load, the end time parsed twice) was the largest cost of an answer served
from the HTTP worker's cache. Validation is a pure function of the body's bytes (nothing in it depends on the time or
on state), so the same bytes always give the same `BarRequest`; only valid bodies are kept, a small LRU bounded in
entries and in body size."""

from __future__ import annotations

from collections import OrderedDict

from shared.bars import BarRequest

MAX_ENTRIES = 1024
MAX_BODY_BYTES = 1024  # a bar request is about 100 bytes; longer bodies are validated each time


class ValidatedRequests:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self._entries: OrderedDict[bytes, BarRequest] = OrderedDict()

    def get(self, body: bytes) -> BarRequest | None:
        request = self._entries.get(body)
        if request is not None:
            self._entries.move_to_end(body)
        return request

    def put(self, body: bytes, request: BarRequest) -> None:
        if len(body) > self.max_body_bytes or self.max_entries <= 0:
            return
        self._entries[body] = request
        self._entries.move_to_end(body)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
