"""Live subscriptions: keepUpToDate requests kept open while callers use them, answering `include_forming=true`
from memory with the forming bar as of TWS's last update.

A subscription's bars are the window of its duration as a fresh request would answer it now
(worker/live/duration_window.py: "N D" is the last N sessions, not a bar count), and a shorter duration of the same
unit is answered from it. It stays open while it is used (idle TTL), counts against IB's 50 open requests, and is
evicted least recently used beyond its own limit. When the connection is lost, or TWS says 1101 (data lost), every
subscription is requested again in full and its bars replaced: afterwards they equal a fresh full request, with no
hole and no duplicate. After 1102 (data kept) nothing is requested. A request TWS has no data for is an answer too:
the empty answer is kept in the bar cache under the same TTL rule as every other answer ending now
(BarFetcher.ttl_for), so repeats do not go upstream again.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import request_key
from worker.history.upstream import Upstream, UpstreamRequests
from worker.live.duration_window import LiveBars, parse_duration
from worker.timers import Timers
from worker.tws.dates import TwsClock, parse_tws_time

log = logging.getLogger("tws.subscriptions")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]
SeriesKey = tuple[Any, ...]
Ttl = Callable[[BarRequest, ResolvedContract], "float | None"]
RESUBSCRIBE_PATIENCE_S = 3600.0


def series_key(request: BarRequest, contract: ResolvedContract) -> SeriesKey:
    return (contract.con_id, request.exchange, request.bar_size, request.what_to_show, request.use_rth)


@dataclass(eq=False)
class Subscription:
    key: SeriesKey
    request: BarRequest
    contract: ResolvedContract
    series: LiveBars
    upstream: Upstream | None = None
    live: bool = False  # history received, updates flowing
    waiters: list[tuple[BarRequest, Reply]] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)
    requests: int = 0  # upstream requests made for it (1 + resubscriptions)


class SubscriptionBook:
    def __init__(self, upstream: UpstreamRequests, timers: Timers, idle_ttl: float, max_subscriptions: int,
                 answers: BarCache, ttl: Ttl, clock: TwsClock) -> None:
        self._upstream = upstream
        self._timers = timers
        self._answers = answers  # where empty answers wait out their TTL
        self._ttl = ttl  # the one TTL rule for answers ending now
        self._clock = clock
        self._idle_ttl = idle_ttl
        self._max = max_subscriptions
        self._subs: OrderedDict[tuple[SeriesKey, str], Subscription] = OrderedDict()  # LRU: oldest use first
        self.created = 0
        self.expired = 0
        self.resubscribed = 0
        self._sweep_every = max(0.05, min(idle_ttl / 4, 5.0))
        self._timers.call_later(self._sweep_every, self._sweep)

    def __len__(self) -> int:
        return len(self._subs)

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Reply) -> None:
        key = series_key(request, contract)
        sub = self._covering(key, request)
        if sub is None:
            answered = self._answers.get(request_key(request, contract))
            if answered is not None:  # TWS had no data for it a moment ago
                reply(answered, None)
                return
            sub = self._create(key, request, contract)
            sub.waiters.append((request, reply))
            self._request(sub, deadline)  # may fail at once (pacing, a remembered failure): the waiter is told
            return
        sub.last_used = time.monotonic()
        self._subs.move_to_end((sub.key, sub.request.duration))
        if sub.live:
            reply(self._answer(sub, request), None)
            return
        sub.waiters.append((request, reply))
        if sub.requests > 1:  # being restored after a reconnect or 1101: do not wait past the caller's deadline
            def give_up() -> None:
                if (request, reply) in sub.waiters:
                    sub.waiters.remove((request, reply))
                    reply(None, BridgeError(ErrorCode.TWS_UNAVAILABLE, "the live subscription is being restored "
                                            "after a TWS reconnect", retry_after=5.0))
            self._timers.call_later(deadline - time.monotonic(), give_up)

    def _covering(self, key: SeriesKey, request: BarRequest) -> Subscription | None:
        exact = self._subs.get((key, request.duration))
        if exact is not None:
            return exact
        n, unit = parse_duration(request.duration)
        for sub in self._subs.values():
            if sub.key == key and sub.live:
                m, sub_unit = parse_duration(sub.request.duration)
                if sub_unit == unit and m >= n:
                    return sub
        return None

    def _create(self, key: SeriesKey, request: BarRequest, contract: ResolvedContract) -> Subscription:
        while len(self._subs) >= self._max:
            _, oldest = self._subs.popitem(last=False)
            log.info("subscription %s %s evicted (least recently used)", oldest.request.symbol,
                     oldest.request.bar_size)
            self._close(oldest)
            waiters, oldest.waiters = oldest.waiters, []
            for _, reply in waiters:
                reply(None, BridgeError(ErrorCode.PACING_LIMITED, "too many live subscriptions at once; this one "
                                        "was evicted before its history arrived", retry_after=5.0))
        sub = Subscription(key, request, contract,
                           LiveBars(request.duration, contract.sessions(request.use_rth), request.bar_seconds))
        sub.last_used = time.monotonic()
        self._subs[(key, request.duration)] = sub
        self.created += 1
        return sub

    def _request(self, sub: Subscription, deadline: float) -> None:
        sub.live = False
        sub.requests += 1
        sub.upstream = Upstream(sub.request, sub.contract, True, _Handler(self, sub))
        self._upstream.start(sub.upstream, deadline)

    def _answer(self, sub: Subscription, request: BarRequest) -> dict[str, Any]:
        return {"bars": sub.series.bars_for(request.duration, self._clock.now()), "notice": None}

    # ---- upstream outcomes ------------------------------------------------------------------------------------

    def _history(self, sub: Subscription, bars: list[dict[str, Any]], end: str) -> None:
        tws_now = parse_tws_time(end, sub.contract.time_zone)  # a keepUpToDate answer ends now
        if tws_now is not None:
            self._clock.observe(tws_now)
        sub.series.reset(bars)
        sub.live = True
        waiters, sub.waiters = sub.waiters, []
        for request, reply in waiters:
            reply(self._answer(sub, request), None)

    def _failed(self, sub: Subscription, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        self._drop(sub)
        answer = None
        if error is None:  # no data: an answer like any other, kept for its TTL
            answer = {"bars": [], "notice": notice}
            self._answers.put(request_key(sub.request, sub.contract), answer, self._ttl(sub.request, sub.contract))
        waiters, sub.waiters = sub.waiters, []
        for _, reply in waiters:
            reply(answer, error)

    def _update(self, sub: Subscription, bar: dict[str, Any]) -> None:
        sub.series.update(bar, self._clock.now())

    # ---- life cycle -------------------------------------------------------------------------------------------

    def _sweep(self) -> None:
        horizon = time.monotonic() - self._idle_ttl
        for sub in [s for s in self._subs.values() if s.last_used <= horizon and not s.waiters]:
            log.info("subscription %s %s %s idle for %.0f s: cancelled", sub.request.symbol, sub.request.bar_size,
                     sub.request.duration, self._idle_ttl)
            self.expired += 1
            self._drop(sub)
            self._close(sub)
        self._timers.call_later(self._sweep_every, self._sweep)

    def _drop(self, sub: Subscription) -> None:
        self._subs.pop((sub.key, sub.request.duration), None)

    def _close(self, sub: Subscription) -> None:
        if sub.upstream is not None:
            self._upstream.cancel(sub.upstream)
            sub.upstream = None

    def connection_lost(self, error: BridgeError) -> None:
        """TWS forgot every request; callers waiting for a first history fail now, the rest wait for resubscribe."""
        for sub in list(self._subs.values()):
            sub.upstream = None
            sub.live = False
            waiters, sub.waiters = sub.waiters, []
            for _, reply in waiters:
                reply(None, error)

    def resubscribe_all(self, reason: str) -> None:
        """After a reconnect or 1101: request every subscription again, in full; its bars are replaced on arrival."""
        if not self._subs:
            return
        log.info("resubscribing %d subscription(s) after %s", len(self._subs), reason)
        for sub in self._subs.values():
            if sub.upstream is not None:
                self._upstream.discard(sub.upstream)  # TWS already dropped it (1101): nothing to cancel
                sub.upstream = None
            self.resubscribed += 1
            # no caller waits on it: it may wait as long as IB's pacing needs (the 15-second identical rule)
            self._request(sub, time.monotonic() + RESUBSCRIBE_PATIENCE_S)

    def stats(self) -> dict[str, Any]:
        return {"live": sum(1 for s in self._subs.values() if s.live), "total": len(self._subs),
                "created": self.created, "expired": self.expired, "resubscribed": self.resubscribed}


class _Handler:
    def __init__(self, book: SubscriptionBook, sub: Subscription) -> None:
        self._book = book
        self._sub = sub

    def _current(self, upstream: Upstream) -> bool:
        return self._sub.upstream is upstream  # a superseded request's late events are ignored

    def history_done(self, upstream: Upstream, bars: list[dict[str, Any]], end: str) -> None:
        if self._current(upstream):
            self._book._history(self._sub, bars, end)

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        if self._current(upstream):
            self._sub.upstream = None
            self._book._failed(self._sub, error, notice)

    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None:
        if self._current(upstream):
            self._book._update(self._sub, bar)

