"""Answers to bar requests without the forming bar: from the cache, by joining an identical request in flight, or
by one paced upstream request whose answer every waiting caller shares.

The forming bar is the subscription book's business (worker/live/subscriptions.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.bars import BarRequest
from shared.errors import BridgeError
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.upstream import Upstream, UpstreamRequests
from worker.tws.dates import TwsClock, parse_tws_time, period_end

log = logging.getLogger("tws.bar_fetcher")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]
RequestKey = tuple[Any, ...]


def request_key(request: BarRequest, contract: ResolvedContract) -> RequestKey:
    """Identical requests (from any HTTP worker) share this key: they share one upstream request and its answer."""
    r = request
    return (contract.con_id, r.exchange, r.bar_size, r.duration, r.start_datetime, r.what_to_show, r.use_rth,
            r.end_datetime, r.include_forming, r.limit, r.page_token)


@dataclass
class _Waiter:
    reply: Reply
    started: float
    origin: Reply | None = None  # the caller's own reply (abandon finds the waiter by it)


@dataclass(eq=False)
class _Shared:
    key: RequestKey
    request: BarRequest
    waiters: list[_Waiter] = field(default_factory=list)
    upstream: Upstream | None = None


class BarFetcher:
    def __init__(self, upstream: UpstreamRequests, cache: BarCache, clock: TwsClock, now_ttl: float) -> None:
        self._upstream = upstream
        self._cache = cache
        self.clock = clock  # TWS's time as last seen (currentTime, answers ending now)
        self._now_ttl = now_ttl
        self._shared: dict[RequestKey, _Shared] = {}
        self.coalesced = 0

    @property
    def in_flight(self) -> int:
        return len(self._shared)

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Reply,
              cache: bool = True) -> None:
        """Answer `request` through `reply`. Every answer carries `ttl`, the one rule below as of the answer: None when
        it can no longer change, so the HTTP side may keep it for good too (app/answer_cache.py), else seconds.
        `cache=False` (a fill's window, kept in the store instead): neither read nor kept in the memory cache."""
        origin = reply
        reply = self._with_ttl(request, contract, reply)
        key = (*request_key(request, contract), cache)
        started = time.monotonic()
        cached = self._cache.get(key[:-1]) if cache else None
        if cached is not None:
            _log(request, "cache", len(cached["bars"]), started)
            reply(cached, None)
            return
        shared = self._shared.get(key)
        if shared is not None:
            self.coalesced += 1
            shared.waiters.append(_Waiter(reply, started, origin))
            return
        shared = _Shared(key, request, [_Waiter(reply, started, origin)])
        self._shared[key] = shared
        shared.upstream = Upstream(request, contract, False, _Handler(self, shared))
        self._upstream.start(shared.upstream, deadline)

    def _done(self, shared: _Shared, result: dict[str, Any] | None, error: BridgeError | None,
              ttl: float | None = 0.0) -> None:
        if self._shared.get(shared.key) is not shared:
            return  # already answered (failed by fail_all); a late outcome changes nothing
        del self._shared[shared.key]
        if result is not None and (ttl is None or ttl > 0) and shared.key[-1]:
            self._cache.put(shared.key[:-1], result, ttl)
        for waiter in shared.waiters:
            if error is None:
                assert result is not None
                _log(shared.request, "tws", len(result["bars"]), waiter.started)
            else:
                log.info("bars %s %s %s: %s (%s) in %.1f ms", shared.request.symbol, shared.request.bar_size,
                         shared.request.range_text, error.code, error.message,
                         (time.monotonic() - waiter.started) * 1000)
            waiter.reply(result, error)

    def abandon(self, request: BarRequest, contract: ResolvedContract, reply: Reply) -> None:
        """The caller of `reply` no longer wants the answer (a cancelled job): it is never called; when nobody else
        waits for the same request, its upstream request is withdrawn (never sent) or cancelled at TWS."""
        for key in ((*request_key(request, contract), False), (*request_key(request, contract), True)):
            shared = self._shared.get(key)
            if shared is None:
                continue
            shared.waiters = [w for w in shared.waiters if w.origin is not reply]
            if not shared.waiters:
                del self._shared[key]
                if shared.upstream is not None:
                    self._upstream.cancel(shared.upstream)

    def fail_all(self, error: BridgeError) -> None:
        for shared in list(self._shared.values()):
            if shared.upstream is not None:
                self._upstream.cancel(shared.upstream)  # never sent later to a new connection
            self._done(shared, None, error)

    def _with_ttl(self, request: BarRequest, contract: ResolvedContract, reply: Reply) -> Reply:
        def answer(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            reply(None if result is None else {**result, "ttl": self.ttl_for(request, contract)}, error)
        return answer

    def ttl_for(self, request: BarRequest, contract: ResolvedContract) -> float | None:
        """None (keep for good) when the answer can no longer change; else how long it may be reused. The one rule
        for every answer, with bars or empty, plain or from a subscription that found no data."""
        if request.end_datetime:
            end = parse_tws_time(request.end_datetime, contract.time_zone)
            tws_now = self.clock.now()
            if end is not None and tws_now is not None and end + request.bar_seconds <= tws_now:
                return None
        return min(self._now_ttl, float(request.bar_seconds))


class _Handler:
    """Turns one upstream request's outcome into the shared answer."""

    def __init__(self, fetcher: BarFetcher, shared: _Shared) -> None:
        self._fetcher = fetcher
        self._shared = shared

    def history_done(self, upstream: Upstream, bars: list[dict[str, Any]], end: str) -> None:
        request, tz = upstream.request, upstream.contract.time_zone
        tws_now = parse_tws_time(end, tz) if not request.end_datetime else None
        if tws_now is not None:
            self._fetcher.clock.observe(tws_now)  # an answer ending now tells TWS's time
        if bars and not request.end_datetime:
            last = bars[-1]
            daily = len(last["date"]) == 8
            if tws_now is not None and period_end(last["time"], request.bar_seconds, tz, daily) > tws_now:
                bars.pop()  # TWS includes the current, incomplete bar when the end is now
        result = {"bars": bars, "notice": None}
        ttl = self._fetcher.ttl_for(request, upstream.contract)
        self._fetcher._done(self._shared, result, None, ttl)

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        if error is None:  # no data: an empty answer with TWS's notice
            result = {"bars": [], "notice": notice}
            ttl = self._fetcher.ttl_for(upstream.request, upstream.contract)
            self._fetcher._done(self._shared, result, None, ttl)
        else:
            self._fetcher._done(self._shared, None, error)

    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None:  # pragma: no cover - not keepUpToDate
        return


def _log(request: BarRequest, source: str, count: int, started: float) -> None:
    log.info("bars %s %s %s from %s: %d bars in %.1f ms", request.symbol, request.bar_size, request.range_text, source,
             count, (time.monotonic() - started) * 1000)
