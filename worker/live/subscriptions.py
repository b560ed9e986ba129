"""Live subscriptions: one keepUpToDate request per series, shared by every stream of it and by include_forming polls.

A series' subscription asks for IB's longest duration for its bar size (shared/ib_limits.py), so a poll is a window
of it (worker/live/duration_window.py: "N D" is the last N sessions, not a bar count) and a stream can resume within
it. A poll whose window it cannot answer (a duration of another unit reaching before what the series holds, e.g.
"28800 S" of 1-minute bars just after the open) gets a subscription of its own duration, which publishes nothing.
Subscriptions count against IB's 50 open requests and BRIDGE_MAX_SUBSCRIPTIONS; when those are all taken, the least
recently used one without stream clients is evicted, and when every one has stream clients a new one is refused with
`subscriptions_exhausted`. One is cancelled when nothing used it for the idle TTL: no poll, no stream_open, no
stream_interest with clients from any HTTP worker.

When the connection is lost, IB is unreachable (1100/2110) or TWS lost the subscriptions (1101), a series' streams
hear `interrupted`; after a reconnect or 1101 every subscription is requested again in full, and the new history
publishes what completed meanwhile, then `restored` (worker/live/series.py). After 1102 (data kept) nothing is
requested, unless the first update of a later bar shows that a bar completed unseen during the outage.

A request TWS has no data for is an answer too: the empty answer is kept in the bar cache under the same TTL rule as
every other answer ending now (BarFetcher.ttl_for), so repeats do not go upstream again; a stream of it gets
`no_data`. Stream operations are worker/live/streams.py's.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from shared.ib_limits import LONGEST_DURATION
from shared.streams import INTEREST_INTERVAL_S, LiveAnswer
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import request_key
from worker.history.upstream import Upstream, UpstreamRequests
from worker.live.connection_events import ConnectionEvents
from worker.live.duration_window import WEEK, parse_duration
from worker.live.finality import ClockWatch
from worker.live.gap_fill import GapFiller
from worker.live.publisher import Publisher
from worker.live.series import LiveSeries, SeriesKey
from worker.timers import Timers
from worker.tws.dates import TwsClock, parse_tws_time
from worker.tws.requests import can_stream

log = logging.getLogger("tws.subscriptions")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]
Ttl = Callable[[BarRequest, ResolvedContract], "float | None"]
STREAM_GRACE_S = 2 * INTEREST_INTERVAL_S  # a stream just opened has a client until its HTTP worker's interest says


def series_key(request: BarRequest, contract: ResolvedContract) -> SeriesKey:
    return (contract.con_id, request.exchange, request.bar_size, request.what_to_show, request.use_rth)


def within(duration: str, longest: str) -> bool:
    """A duration of the series' own unit, no longer than it: always a window of the series."""
    (count, unit), (most, own) = parse_duration(duration), parse_duration(longest)
    return unit == own and count <= most


@dataclass(eq=False)
class Waiter:
    """A caller waiting for a subscription's history: a poll or a stream_open."""

    ready: Callable[[LiveSeries], None]
    failed: Reply  # (the empty answer when TWS had no data, or the error)


class SubscriptionBook(ConnectionEvents):
    def __init__(self, upstream: UpstreamRequests, timers: Timers, idle_ttl: float, max_subscriptions: int,
                 answers: BarCache, ttl: Ttl, clock: TwsClock, publisher: Publisher | None = None,
                 probe: Callable[[], None] = lambda: None) -> None:
        self._upstream = upstream
        self._timers = timers
        self._answers = answers  # where empty answers wait out their TTL
        self._ttl = ttl  # the one TTL rule for answers ending now
        self._clock = clock
        self.idle_ttl = self._idle_ttl = idle_ttl
        self._max = max_subscriptions
        self._subs: OrderedDict[tuple[SeriesKey, str], LiveSeries] = OrderedDict()  # LRU: oldest use first
        self._series: dict[str, LiveSeries] = {}  # the publishing ones, by series id
        self.publisher = publisher or Publisher(lambda frames: None)
        self.watch = ClockWatch(timers, clock, probe, lambda series, reading: series.clock_passed(reading))
        self.gaps = GapFiller(upstream, self._apply, self._update)
        self.created = self.expired = self.resubscribed = self.exhausted = 0
        self._sweep_every = max(0.05, min(idle_ttl / 4, 5.0))
        self._timers.call_later(self._sweep_every, self._sweep)

    def __len__(self) -> int:
        return len(self._subs)

    # ---- include_forming polls --------------------------------------------------------------------------------

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Reply) -> None:
        key = series_key(request, contract)
        longest = LONGEST_DURATION[request.bar_size]
        series = self._subs.get((key, longest))
        if series is not None and series.live and series.bars.covers(request.duration, self._clock.now()):
            self.touch(series)
            reply(self._answer(series, request), None)
        elif within(request.duration, longest) or (
                (series is None or not series.live) and (key, request.duration) not in self._subs):
            def ready(entry: LiveSeries) -> None:  # a window of another unit may reach before what it holds
                if entry.bars.covers(request.duration, self._clock.now()):
                    reply(self._answer(entry, request), None)
                else:
                    self.join(key, request, contract, False, deadline, Waiter(answer, reply))

            def answer(entry: LiveSeries) -> None:
                reply(self._answer(entry, request), None)

            self.join(key, replace(request, duration=longest), contract, True, deadline, Waiter(ready, reply))
        else:  # its own window: the series cannot answer it
            self.join(key, request, contract, False, deadline,
                       Waiter(lambda entry: reply(self._answer(entry, request), None), reply))

    def join(self, key: SeriesKey, request: BarRequest, contract: ResolvedContract, publishes: bool,
             deadline: float, waiter: Waiter, held: bool = False) -> None:
        """Answer from the entry for `request`'s duration once it is live (`held`: once it has a history, also while
        it is restored); start it when there is none. Never for a series TWS keeps no stream of (BID_ASK,
        ADJUSTED_LAST, the volatilities, a CONTFUT: worker/tws/requests.py): refused before a slot is taken."""
        if not can_stream(contract.sec_type, request.what_to_show):
            waiter.failed(None, BridgeError(ErrorCode.INVALID_REQUEST, f"TWS keeps no {contract.sec_type} "
                                            f"{request.what_to_show} series up to date (keepUpToDate)"))
            return
        entry = self._subs.get((key, request.duration))
        if entry is None:
            answered = self._answers.get(request_key(request, contract))
            if answered is not None:  # TWS had no data for it a moment ago
                waiter.failed(answered, None)
            else:
                self._start(key, request, contract, publishes, waiter, deadline)
            return
        self.touch(entry)
        if entry.live or (held and entry.has_history):
            waiter.ready(entry)
        else:
            self._wait(entry, waiter, deadline)

    def _answer(self, entry: LiveSeries, request: BarRequest) -> dict[str, Any]:
        answer: dict[str, Any] = {"bars": entry.bars.bars_for(request.duration, self._clock.now()), "notice": None}
        if entry.publisher is not None and entry.request.bar_seconds < WEEK and \
                parse_duration(request.duration)[1] == "D":  # trading days: the bars alone decide (shared/streams.py)
            answer["live"] = LiveAnswer(entry.id, entry.publisher.incarnation, entry.publisher.seq(entry.id)).to_wire()
        return answer

    def get(self, key: SeriesKey, duration: str) -> LiveSeries | None:
        return self._subs.get((key, duration))

    def series(self, sid: str) -> LiveSeries | None:
        """The publishing subscription of a series id (worker/live/streams.py)."""
        return self._series.get(sid)

    def _has_clients(self, entry: LiveSeries, now: float) -> bool:
        return entry.publisher is not None and (entry.interest.clients(now, self._idle_ttl) > 0
                                                or now - entry.opened_at < STREAM_GRACE_S)

    # ---- entries ----------------------------------------------------------------------------------------------

    def _start(self, key: SeriesKey, request: BarRequest, contract: ResolvedContract, publishes: bool,
               waiter: Waiter, deadline: float) -> LiveSeries | None:
        """A new entry, its first waiter and its upstream request; None when no slot is free (the waiter is told)."""
        now = time.monotonic()
        while len(self._subs) >= self._max:
            victim = next((s for s in self._subs.values() if not self._has_clients(s, now)), None)
            if victim is None:
                self.exhausted += 1
                waiter.failed(None, BridgeError(
                    ErrorCode.SUBSCRIPTIONS_EXHAUSTED, f"all {self._max} live subscriptions serve stream clients "
                    "(BRIDGE_MAX_SUBSCRIPTIONS; IB allows 50 open requests)", retry_after=INTEREST_INTERVAL_S))
                return None
            log.info("subscription %s %s evicted (least recently used)", victim.id, victim.request.duration)
            self._drop(victim)
            victim.end(BridgeError(ErrorCode.SUBSCRIPTIONS_EXHAUSTED, "the live subscription was closed for another "
                                   "one (BRIDGE_MAX_SUBSCRIPTIONS)"))  # its end is an event too: answers change
            self._close(victim)
            waiters, victim.waiters = victim.waiters, []
            for evicted in waiters:
                evicted.failed(None, BridgeError(ErrorCode.PACING_LIMITED, "too many live subscriptions at once; "
                                                 "this one was evicted before its history arrived", retry_after=5.0))
        entry = LiveSeries(key, request, contract, self.publisher if publishes else None, self.watch)
        entry.last_used = now
        self._subs[(key, request.duration)] = entry
        if publishes:
            self._series[entry.id] = entry
        self.created += 1
        entry.waiters.append(waiter)
        self._request(entry, deadline)  # may fail at once (pacing, a remembered failure): the waiter is told
        return entry

    def _wait(self, entry: LiveSeries, waiter: Waiter, deadline: float) -> None:
        entry.waiters.append(waiter)
        if entry.requests > 1:  # being restored after a reconnect or 1101: do not wait past the caller's deadline
            def give_up() -> None:
                if waiter in entry.waiters:
                    entry.waiters.remove(waiter)
                    waiter.failed(None, BridgeError(ErrorCode.TWS_UNAVAILABLE, "the live subscription is being "
                                                    "restored after a TWS reconnect", retry_after=5.0))
            self._timers.call_later(deadline - time.monotonic(), give_up)

    def touch(self, entry: LiveSeries) -> None:
        entry.last_used = time.monotonic()
        self._subs.move_to_end((entry.key, entry.request.duration))

    def _request(self, entry: LiveSeries, deadline: float) -> None:
        entry.live = False
        self.gaps.cancel(entry)
        entry.requests += 1
        entry.upstream = Upstream(entry.request, entry.contract, True, _Handler(self, entry))
        self._upstream.start(entry.upstream, deadline)

    def _drop(self, entry: LiveSeries) -> None:
        self._subs.pop((entry.key, entry.request.duration), None)
        if self._series.get(entry.id) is entry:
            del self._series[entry.id]
        self.watch.unwatch(entry)
        self.gaps.cancel(entry)

    def _close(self, entry: LiveSeries) -> None:
        if entry.upstream is not None:
            self._upstream.cancel(entry.upstream)
            entry.upstream = None

    # ---- upstream outcomes ------------------------------------------------------------------------------------

    def _history(self, entry: LiveSeries, bars: list[dict[str, Any]], end: str) -> None:
        tws_now = parse_tws_time(end, entry.contract.time_zone)  # a keepUpToDate answer ends now
        if tws_now is not None:
            self._clock.observe(tws_now)
        if self.gaps.needed(entry, bars):  # it starts after the last bar published: ask for what lies between
            self.gaps.start(entry, bars, tws_now)
        else:
            self._apply(entry, bars, tws_now)

    def _apply(self, entry: LiveSeries, bars: list[dict[str, Any]], tws_now: float | None) -> None:
        entry.history(bars, tws_now)
        if tws_now is not None:
            self.watch.reading(tws_now)
        waiters, entry.waiters = entry.waiters, []
        for waiter in waiters:
            waiter.ready(entry)

    def _failed(self, entry: LiveSeries, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        self._drop(entry)
        answer = None
        if error is None:  # no data: an answer like any other, kept for its TTL
            answer = {"bars": [], "notice": notice}
            self._answers.put(request_key(entry.request, entry.contract), answer,
                              self._ttl(entry.request, entry.contract))
        entry.end(error or BridgeError(ErrorCode.NO_DATA, f"TWS has no bars for this series now: "
                                       f"{(notice or {}).get('message', 'no data')}"))
        waiters, entry.waiters = entry.waiters, []
        for waiter in waiters:
            waiter.failed(answer, error)

    def _update(self, entry: LiveSeries, bar: dict[str, Any]) -> None:
        if not entry.update(bar, self._clock.now()):
            self._missed(entry)

    # ---- life cycle -------------------------------------------------------------------------------------------

    def _sweep(self) -> None:
        now = time.monotonic()
        horizon = now - self._idle_ttl
        for entry in list(self._subs.values()):
            entry.interest.prune(now, self._idle_ttl)
            if entry.last_used <= horizon and not entry.waiters and not self._has_clients(entry, now):
                log.info("subscription %s %s idle for %.0f s: cancelled", entry.id, entry.request.duration,
                         self._idle_ttl)
                self.expired += 1
                self._drop(entry)
                self._close(entry)
        self._timers.call_later(self._sweep_every, self._sweep)

    def clock_reading(self, tws_now: float) -> None:
        """TWS said its time (currentTime): a series whose forming bar ended by then takes its next update as final."""
        self.watch.reading(tws_now)

    # ---- for /health ------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {"live": sum(1 for s in self._subs.values() if s.live), "total": len(self._subs),
                "created": self.created, "expired": self.expired, "resubscribed": self.resubscribed,
                "exhausted": self.exhausted}

    def publishing(self) -> list[LiveSeries]:
        return list(self._series.values())


class _Handler:
    def __init__(self, book: SubscriptionBook, entry: LiveSeries) -> None:
        self._book = book
        self._entry = entry

    def _current(self, upstream: Upstream) -> bool:
        return self._entry.upstream is upstream  # a superseded request's late events are ignored

    def history_done(self, upstream: Upstream, bars: list[dict[str, Any]], end: str) -> None:
        if self._current(upstream):
            self._book._history(self._entry, bars, end)

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        if self._current(upstream):
            self._entry.upstream = None
            self._book._failed(self._entry, error, notice)

    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None:
        if self._current(upstream) and not self._book.gaps.holds(self._entry, bar):
            self._book._update(self._entry, bar)
