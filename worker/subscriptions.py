"""Live subscriptions: keepUpToDate requests kept open while callers use them, answering `include_forming=true`
from memory with the forming bar as of TWS's last update.

A subscription stays open while it is used (idle TTL), counts against IB's 50 open requests, and is evicted least
recently used beyond its own limit. When the connection is lost, or TWS says 1101 (data lost), every subscription is
requested again in full and its bars replaced: afterwards they equal a fresh full request, with no hole and no
duplicate. After 1102 (data kept) nothing is requested.
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
from worker.contract_resolver import ResolvedContract
from worker.timers import Timers
from worker.upstream import Upstream, UpstreamRequests

log = logging.getLogger("tws.subscriptions")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]
SeriesKey = tuple[Any, ...]
RESUBSCRIBE_PATIENCE_S = 3600.0
UNIT_SECONDS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 31 * 86400, "Y": 366 * 86400}


def series_key(request: BarRequest, contract: ResolvedContract) -> SeriesKey:
    return (contract.con_id, request.exchange, request.bar_size, request.what_to_show, request.use_rth)


@dataclass(eq=False)
class Subscription:
    key: SeriesKey
    request: BarRequest
    contract: ResolvedContract
    bars: list[dict[str, Any]] = field(default_factory=list)
    upstream: Upstream | None = None
    live: bool = False  # history received, updates flowing
    waiters: list[tuple[BarRequest, Reply]] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)
    max_bars: int = 0
    requests: int = 0  # upstream requests made for it (1 + resubscriptions)


class SubscriptionBook:
    def __init__(self, upstream: UpstreamRequests, timers: Timers, idle_ttl: float, max_subscriptions: int) -> None:
        self._upstream = upstream
        self._timers = timers
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
            sub = self._create(key, request, contract, deadline)
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
        n, unit = _duration(request.duration)
        for sub in self._subs.values():
            if sub.key == key and sub.live:
                m, sub_unit = _duration(sub.request.duration)
                if sub_unit == unit and m >= n:
                    return sub
        return None

    def _create(self, key: SeriesKey, request: BarRequest, contract: ResolvedContract, deadline: float) -> Subscription:
        while len(self._subs) >= self._max:
            _, oldest = self._subs.popitem(last=False)
            log.info("subscription %s %s evicted (least recently used)", oldest.request.symbol,
                     oldest.request.bar_size)
            self._close(oldest)
            waiters, oldest.waiters = oldest.waiters, []
            for _, reply in waiters:
                reply(None, BridgeError(ErrorCode.PACING_LIMITED, "too many live subscriptions at once; this one "
                                        "was evicted before its history arrived", retry_after=5.0))
        sub = Subscription(key, request, contract)
        self._subs[(key, request.duration)] = sub
        self.created += 1
        self._request(sub, deadline)
        return sub

    def _request(self, sub: Subscription, deadline: float) -> None:
        sub.live = False
        sub.requests += 1
        sub.upstream = Upstream(sub.request, sub.contract, True, _Handler(self, sub))
        self._upstream.start(sub.upstream, deadline)

    def _answer(self, sub: Subscription, request: BarRequest) -> dict[str, Any]:
        bars = sub.bars
        if request.duration != sub.request.duration:
            bars = _trim(bars, request.duration)
        return {"bars": list(bars), "notice": None}

    # ---- upstream outcomes ------------------------------------------------------------------------------------

    def _history(self, sub: Subscription, bars: list[dict[str, Any]]) -> None:
        sub.bars = bars
        sub.max_bars = max(len(bars), 1)
        sub.live = True
        waiters, sub.waiters = sub.waiters, []
        for request, reply in waiters:
            reply(self._answer(sub, request), None)

    def _failed(self, sub: Subscription, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        self._drop(sub)
        waiters, sub.waiters = sub.waiters, []
        for _, reply in waiters:
            if error is None:
                reply({"bars": [], "notice": notice}, None)
            else:
                reply(None, error)

    def _update(self, sub: Subscription, bar: dict[str, Any]) -> None:
        bars = sub.bars
        if bars and bars[-1]["time"] == bar["time"]:
            bars[-1] = bar  # the forming bar, rewritten until it completes
        elif not bars or bar["time"] > bars[-1]["time"]:
            bars.append(bar)  # the previous bar completed; a new one forms
            if len(bars) > sub.max_bars:
                del bars[0]  # keep the window the subscription was asked for

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
            self._book._history(self._sub, bars)

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        if self._current(upstream):
            self._sub.upstream = None
            self._book._failed(self._sub, error, notice)

    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None:
        if self._current(upstream):
            self._book._update(self._sub, bar)


def _duration(duration: str) -> tuple[int, str]:
    n, unit = duration.split()
    return int(n), unit


def _trim(bars: list[dict[str, Any]], duration: str) -> list[dict[str, Any]]:
    """The part of a longer series a shorter duration asks for (same unit)."""
    if not bars:
        return bars
    n, unit = _duration(duration)
    if unit == "D":
        days: list[str] = []
        for bar in reversed(bars):
            day = bar["date"][:8]
            if not days or days[-1] != day:
                days.append(day)
        keep = set(days[:n])
        return [b for b in bars if b["date"][:8] in keep]
    horizon = bars[-1]["time"] - n * UNIT_SECONDS[unit]
    return [b for b in bars if b["time"] > horizon]
