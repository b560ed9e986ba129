"""include_forming answers repeated by the HTTP worker itself, each exactly until its series' next event.

The TWS worker marks an include_forming answer it took from a published series for a window of trading days with the
series and the event it is as of (`live`, shared/streams.py): such an answer changes only with an event of the
series. This process watches the series' topic on its SUB socket (app/streams/fanout.py) and answers the same request
(the same validated `BarRequest`) from here while no later event has arrived, so the answer is always the one the
worker would give. An answer is kept only once the watch is confirmed (an event arrived since the topic was
subscribed: every later one will too), never when a later event was seen already, and is dropped with everything
else when the feed's connection drops. After `max_age` a request goes to the worker again, which keeps its
subscription in use (the idle TTL counts polls); the age is below half the idle TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from app.streams.fanout import Fanout
from shared.bars import BarRequest
from shared.streams import LiveAnswer

MAX_ENTRIES = 512  # distinct include_forming requests kept per HTTP worker


@dataclass(frozen=True)
class _Entry:
    body: bytes
    live: LiveAnswer
    stored: float  # monotonic


class FormingAnswers:
    def __init__(self, fanout: Fanout, max_age: float, max_entries: int = MAX_ENTRIES) -> None:
        self._fanout = fanout
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: OrderedDict[BarRequest, _Entry] = OrderedDict()
        self._swept = time.monotonic()
        self.hits = 0
        self.misses = 0
        self.stored = 0
        fanout.on_feed_lost.append(self.clear)

    def get(self, request: BarRequest) -> bytes | None:
        entry = self._entries.get(request)
        if entry is not None:
            self._fanout.catch_up()  # events already here count, even if the reading greenlet has not run yet
            watch = self._fanout.watching(entry.live.series)
            if watch is not None and watch.as_of(entry.live.incarnation, entry.live.seq) \
                    and time.monotonic() - entry.stored < self.max_age:
                self._entries.move_to_end(request)
                watch.used = time.monotonic()
                self.hits += 1
                return entry.body
            del self._entries[request]
        self.misses += 1
        return None

    def put(self, request: BarRequest, body: bytes, live: LiveAnswer | None) -> None:
        """The worker's answer to `request`, repeatable when it is `live` and nothing later was seen."""
        now = time.monotonic()
        if now - self._swept > self.max_age:
            self._sweep(now)
        if live is None:
            return
        watch = self._fanout.watch(live.series)  # from now on its events reach this process
        if not watch.as_of(live.incarnation, live.seq):
            return  # not confirmed yet (the next poll may be), or a later event arrived already
        self._entries[request] = _Entry(body, live, now)
        self._entries.move_to_end(request)
        self.stored += 1
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def _sweep(self, now: float) -> None:
        """Forget expired answers, and stop watching series nobody polled for a while."""
        self._swept = now
        for request, entry in list(self._entries.items()):
            if now - entry.stored >= self.max_age:
                del self._entries[request]
        kept = {entry.live.series for entry in self._entries.values()}
        for watch in self._fanout.watches():
            if watch.series not in kept and now - watch.used > 2 * self.max_age:
                self._fanout.unwatch(watch.series)

    def stats(self) -> dict[str, Any]:
        lookups = self.hits + self.misses
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses, "stored": self.stored,
                "hit_ratio": round(self.hits / lookups, 4) if lookups else None}
