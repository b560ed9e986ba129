"""Plain bar requests of any range: answered from the memory cache, else from the store, after the planner's windows
filled what the store lacks; a fill that cannot finish before the request's deadline becomes a job (202).

The order for one request (none of it for include_forming, which the live subscriptions answer):
1. the memory cache by request key (repeats within their TTL, and final answers, as before the store);
2. the range [start, end) (worker/history/ranges.py) and the part of it whose bars are complete;
3. what the store's coverage lacks of the complete part; when the request ends now, the missing part that reaches
   the forming edge and the bars since are one upstream request ending now (the tail);
4. a request inside one IB window whose range the store does not cover goes upstream as it was asked (the behaviour
   before the store; its complete bars are then stored); otherwise the planner (worker/history/planner.py) splits
   what is missing into IB-legal windows, none before the head timestamp;
5. windows whose fastest legal schedule (worker/history/schedule.py) ends before the deadline are filled at once and
   answered; otherwise a job takes them (worker/history/jobs.py) and the answer is 202 with the job;
6. the answer: the stored bars of the range (at most `limit`, then `next_page_token`) and the tail's bars.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from shared.bars import MAX_LIMIT, BarRequest
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.ib_limits import LONGEST_DURATION, duration_allowed, duration_seconds
from shared.protocol import BarsJson
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import BarFetcher, Reply, request_key
from worker.history.calendar import SessionCalendar
from worker.history.coverage import Span
from worker.history.endless import EndlessSeries
from worker.history.fill import Fill, FillRunner
from worker.history.jobs import Job, JobBook
from worker.history.pages import PageToken, fingerprint
from worker.history.planner import Window, plan
from worker.history.ranges import complete_before, requested_span
from worker.history.store import BarStore, SeriesKey
from worker.tws.dates import TwsClock
from worker.tws.requests import ends_only_now

log = logging.getLogger("tws.history")

CalendarFor = Callable[[ResolvedContract, bool], SessionCalendar]
Estimate = Callable[[BarRequest, ResolvedContract, list[Window]], float]  # seconds the fastest legal schedule takes
HeadOf = Callable[[BarRequest, ResolvedContract, float, Callable[[int | None, BridgeError | None], None]], None]
# resolve the request's contract before the deadline, then go on with it (errors go to the reply)
Resolve = Callable[[BarRequest, float, Reply, Callable[[ResolvedContract], None]], None]
ESTIMATE_SHARE = 0.5  # a fill is waited for only when its fastest legal schedule takes at most this share of the time
SESSION_LOOKBACK_DAYS = 10  # "N D" counts N sessions back: this many calendar days per session is always enough


@dataclass(frozen=True)
class Range:
    """One request's range as the desk works on it."""

    series: SeriesKey
    span: Span  # [start, end) of bar start times
    complete: int  # bars starting before this are complete
    ends_now: bool  # the range reaches the forming edge: its newest part comes from a request ending now

    @property
    def complete_span(self) -> Span:
        return Span(self.span.start, max(self.span.start, min(self.span.end, self.complete)))


def series_of(request: BarRequest, contract: ResolvedContract) -> SeriesKey:
    return SeriesKey(contract.con_id, request.exchange, request.bar_size, request.what_to_show, request.use_rth)


class HistoryDesk:
    def __init__(self, fetcher: BarFetcher, cache: BarCache, store: BarStore, clock: TwsClock, jobs: JobBook,
                 calendar_for: CalendarFor, estimate: Estimate, head_of: HeadOf, resolve: Resolve,
                 now_ttl: float, plan_timeout: float) -> None:
        self._fetcher = fetcher
        self._cache = cache
        self._store = store
        self._clock = clock
        self._jobs = jobs
        self._calendar_for = calendar_for
        self._estimate = estimate
        self._head_of = head_of
        self._resolve = resolve
        self._now_ttl = now_ttl
        self._plan_timeout = plan_timeout  # a job's contract and head lookups at resume: BAR_TIMEOUT
        self.fills = FillRunner(fetcher, store)
        self.endless = EndlessSeries(fetcher, self.range_of, calendar_for, self.now)
        jobs.replan = self.replan
        self.store_answers = 0  # answers whose stored part needed no upstream request
        self.store_hits = 0  # requests whose complete bars the store held all of (GET /metrics)
        self.store_misses = 0  # requests for which the store lacked some complete bars

    def now(self) -> float:
        return self._clock.now() or time.time()

    # ---- the request --------------------------------------------------------------------------------------------

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Reply) -> None:
        if ends_only_now(contract.sec_type, request.what_to_show):  # CONTFUT, ADJUSTED_LAST: never stored
            self.endless.fetch(request, contract, deadline, reply)
            return
        key = request_key(request, contract)
        cached = self._cache.get(key)
        if cached is not None:
            reply(cached, None)
            return
        try:
            rng = self.range_of(request, contract)
        except BridgeFailure as failure:  # a page token that is not this request's
            reply(None, failure.error)
            return
        job = self._jobs.active(fingerprint(request))
        if job is not None:  # the same request again: it joins its job
            reply({"status": "pending", "job": self._jobs.describe(job)}, None)
            return
        self._store.touch(rng.series)
        missing = self._store.coverage(rng.series).missing(rng.complete_span)
        tail: Window | None = None
        if rng.ends_now:
            missing, tail = self._tail(request, rng, missing)
        if missing:
            self.store_misses += 1
        else:
            self.store_hits += 1
        if missing and self._one_window(request):
            self._as_asked(request, contract, rng, deadline, reply)
            return
        if not missing:
            self._answer(request, contract, rng, tail, deadline, reply, key)
            return

        def planned(windows: list[Window], error: BridgeError | None) -> None:
            if error is not None:
                reply(None, error)
                return
            remaining = deadline - time.monotonic()
            # half the time left: answers may take longer than the estimate assumes (a loaded TWS, a long window)
            if windows and self._estimate(request, contract, windows) > remaining * ESTIMATE_SHARE:
                job = self._jobs.start(request, contract, rng.series, rng.complete, windows)
                reply({"status": "pending", "job": self._jobs.describe(job)}, None)
                return
            self._fill_then_answer(request, contract, rng, windows, tail, deadline, reply, key)

        self._plan(request, contract, missing, deadline, planned)

    def _plan(self, request: BarRequest, contract: ResolvedContract, missing: list[Span], deadline: float,
              then: Callable[[list[Window], BridgeError | None], None]) -> None:
        """The windows for what is missing, none before the series' head timestamp."""
        def headed(head: int | None, error: BridgeError | None) -> None:
            if error is not None:
                then([], error)
            else:
                then(plan(request.bar_size, missing, self._calendar_for(contract, request.use_rth), head), None)

        self._head_of(request, contract, deadline, headed)

    def replan(self, job: Job, planned: Callable[[ResolvedContract, SeriesKey, int, list[Window]], None],
               failed: Callable[[BridgeError], None]) -> None:
        """A job resuming (restart, reconnect, a passing failure): what its range still lacks, as windows."""
        request = job.request
        deadline = time.monotonic() + self._plan_timeout

        def resolved(contract: ResolvedContract) -> None:
            try:
                rng = self.range_of(request, contract)
            except BridgeFailure as failure:
                failed(failure.error)
                return
            missing = self._store.coverage(rng.series).missing(rng.complete_span)

            def windows_for(windows: list[Window], error: BridgeError | None) -> None:
                if error is not None:
                    failed(error)
                else:
                    planned(contract, rng.series, rng.complete, windows)

            self._plan(request, contract, missing, deadline, windows_for)

        def not_resolved(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            if error is not None:
                failed(error)

        self._resolve(request, deadline, not_resolved, resolved)

    def range_of(self, request: BarRequest, contract: ResolvedContract) -> Range:
        now = self.now()
        tz = contract.time_zone
        calendar = self._calendar_for(contract, request.use_rth)

        def sessions_before(end: int, count: int) -> list[Span]:
            found = [s for s in calendar.sessions(Span(end - SESSION_LOOKBACK_DAYS * 86_400 * count, end))
                     if s.start < end]
            return found[-count:]

        if request.page_token:
            token = PageToken.decode(request.page_token, request)
            span = Span(token.after, token.end)
        else:
            span = requested_span(request, tz, now, sessions_before)
        complete = complete_before(request, tz, now)
        return Range(series_of(request, contract), span, complete, span.end > complete)

    def _one_window(self, request: BarRequest) -> bool:
        """A request TWS can answer in one reqHistoricalData, as the bridge sent them before the store. Not with a
        `limit` below the largest: TWS's answer is not cut into pages; the store's reads are (one window's answer never
        reaches MAX_LIMIT bars: IB's longest windows hold at most ~17,000)."""
        return (not request.start_datetime and not request.page_token and request.limit == MAX_LIMIT
                and duration_allowed(request.bar_size, request.duration))

    def _tail(self, request: BarRequest, rng: Range, missing: list[Span]) -> tuple[list[Span], Window | None]:
        """The newest missing part and the bars since, as one request ending now (end 0), when one legal "N S"
        request reaches back to it; else the forming bars come from a request of IB's longest duration."""
        start = missing[-1].start if missing and missing[-1].end >= rng.complete else max(rng.span.start,
                                                                                           rng.complete)
        seconds = int(self.now()) - start + request.bar_seconds
        longest = duration_seconds(LONGEST_DURATION[request.bar_size])
        if seconds <= min(longest, 86_400) and duration_allowed(request.bar_size, f"{seconds} S"):
            if missing and missing[-1].end >= rng.complete:
                missing = missing[:-1]
            return missing, Window(0, f"{seconds} S", Span(start, max(start, rng.complete)))
        # too far back for one request: the planner fills up to the forming edge; the tail only brings what forms
        tail_seconds = 2 * request.bar_seconds
        if not duration_allowed(request.bar_size, f"{tail_seconds} S"):
            return missing, Window(0, LONGEST_DURATION[request.bar_size], Span(start, start))
        return missing, Window(0, f"{tail_seconds} S", Span(start, start))

    # ---- filling ------------------------------------------------------------------------------------------------

    def _as_asked(self, request: BarRequest, contract: ResolvedContract, rng: Range, deadline: float,
                  reply: Reply) -> None:
        """One upstream request, as asked; its complete bars in the range are stored (so a restart serves it)."""
        def answered(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            if result is not None and error is None:
                covered = self._fresh(request, contract, rng).complete_span
                bars = [b for b in result["bars"] if covered.start <= b["time"] < covered.end]
                if covered:
                    self._store.write(rng.series, covered, bars)
            reply(result, error)

        self._fetcher.fetch(request, contract, deadline, answered)

    def _fresh(self, request: BarRequest, contract: ResolvedContract, rng: Range) -> Range:
        """The range again by TWS's clock as an answer ending now just set it. Our estimate of TWS's time runs on
        the real clock and a simulator's clock may not (frozen, faster): a range computed before the answer may
        start or end elsewhere than TWS's did, and a bar claimed complete before TWS had it would be a hole kept
        for good."""
        if not rng.ends_now:
            return rng
        try:
            return self.range_of(request, contract)
        except BridgeFailure:
            return rng

    def _fill_then_answer(self, request: BarRequest, contract: ResolvedContract, rng: Range, windows: list[Window],
                          tail: Window | None, deadline: float, reply: Reply, key: tuple[Any, ...]) -> None:
        def finished(fill: Fill, error: BridgeError | None) -> None:
            if error is not None and error.code is ErrorCode.PACING_LIMITED:
                self._as_job(request, contract, rng, deadline, reply)  # the estimate was too hopeful
            elif error is not None:
                reply(None, error)
            else:
                self._answer(request, contract, rng, tail, deadline, reply, key)

        self.fills.start(Fill(request, contract, rng.series, windows, rng.complete, lambda: deadline,
                              lambda fill: None, finished))

    def _as_job(self, request: BarRequest, contract: ResolvedContract, rng: Range, deadline: float,
                reply: Reply) -> None:
        """A fill whose next window's pacing turn comes after the deadline (the outbox says so when it queues it,
        long before the deadline): what is still missing becomes a job, and the answer is 202."""
        missing = self._store.coverage(rng.series).missing(rng.complete_span)

        def planned(windows: list[Window], error: BridgeError | None) -> None:
            if error is not None:
                reply(None, error)
                return
            job = self._jobs.start(request, contract, rng.series, rng.complete, windows)
            reply({"status": "pending", "job": self._jobs.describe(job)}, None)

        self._plan(request, contract, missing, deadline, planned)

    def _answer(self, request: BarRequest, contract: ResolvedContract, rng: Range, tail: Window | None,
                deadline: float, reply: Reply, key: tuple[Any, ...], attempt: int = 0) -> None:
        """The stored bars of the range, then (last page only) the tail's: one answer."""
        stored = self._store.read(rng.series, rng.complete_span, request.limit)
        if stored.next_time is not None or tail is None:
            self.store_answers += 1
            self._reply(request, rng, stored.json, stored.count, stored.next_time, [], reply, key)
            return
        count, unit = tail.duration.split(" ")
        seconds = int(count) if unit == "S" else None

        def tail_answered(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            if error is not None or result is None:
                reply(None, error)
                return
            fresh = self._fresh(request, contract, rng)
            reach = int(self.now()) - seconds if seconds is not None else tail.covers.start
            if reach > tail.covers.start and attempt == 0:
                # TWS's clock ran ahead of our estimate: the tail did not reach back to the stored bars; once more
                missing = self._store.coverage(fresh.series).missing(fresh.complete_span)
                _, again = self._tail(request, fresh, missing)
                self._answer(request, contract, fresh, again, deadline, reply, key, attempt + 1)
                return
            bars = result["bars"]
            covered = Span(max(tail.covers.start, reach), max(tail.covers.start, reach, fresh.complete))
            if covered:
                self._store.write(rng.series, covered,
                                  [b for b in bars if covered.start <= b["time"] < covered.end])
            newer = [b for b in bars if fresh.complete <= b["time"] < fresh.span.end]
            head = self._store.read(rng.series, fresh.complete_span, request.limit)
            room = request.limit - head.count
            next_time = newer[room]["time"] if len(newer) > room else head.next_time
            self._reply(request, fresh, head.json, head.count, next_time, newer[:room] if head.next_time is None
                        else [], reply, key, notice=result.get("notice"))

        # every contract field kept (an option's strike, a future's expiry): only the range and the page change
        tail_request = replace(request, duration=tail.duration, end_datetime="", start_datetime="", page_token="",
                               limit=MAX_LIMIT, include_forming=False)
        self._fetcher.fetch(tail_request, contract, deadline, tail_answered)

    def _reply(self, request: BarRequest, rng: Range, stored_json: bytes, stored_count: int, next_time: int | None,
               newer: list[dict[str, Any]], reply: Reply, key: tuple[Any, ...],
               notice: dict[str, Any] | None = None) -> None:
        """Reply with the stored bars and the newer ones; TWS's notice (162 "no data") only with an empty answer."""
        data = stored_json
        if newer:
            extra = orjson.dumps(newer)
            data = extra if stored_count == 0 else data[:-1] + b"," + extra[1:]
        token = (PageToken(fingerprint(request), next_time, rng.span.end).encode() if next_time is not None
                 else None)
        final = rng.span.end <= rng.complete
        ttl = None if final else min(self._now_ttl, float(request.bar_seconds))
        count = stored_count + len(newer)
        result = {"bars": BarsJson(data, count), "count": count, "notice": None if count else notice,
                  "next_page_token": token, "ttl": ttl}
        if ttl is None or ttl > 0:
            self._cache.put(key, result, ttl)
        reply(result, None)
