"""Series TWS answers only up to now: a continuous future (CONTFUT: TWS refuses an end date, error 10339) and
ADJUSTED_LAST (IB computes adjusted bars only ending now). worker/tws/requests.py's `ends_only_now` names them.

A duration ending now that IB allows for the bar size is sent as asked (TWS's answer is the range, as for any
series). Any other range of them is answered by ONE request without an end, over the shortest of IB's durations for
the bar size that reaches back to the range's start (shared/ib_limits.py), trimmed to the range [start, end) and to
complete bars:
- "N S" (bar sizes under a day, within a day's seconds): exactly the seconds back to the start, rounded up to a
  minute so that repeats share one answer;
- "N D": TWS returns the last N sessions (daily bars: the last N trading days), so N is one more than the number of
  sessions the instrument's calendar believes in from the start to now (one it does not know must not cut the start);
- "N W", "N M", "N Y": the calendar span before now (wall-clock arithmetic in the exchange's zone), N the least that
  reaches the start.
A range whose start lies further back than IB's longest duration for the bar size reaches is refused with 400
invalid_request naming the field (duration, start_datetime or page_token): TWS cannot give those bars without an end
date, and a shorter answer that looks whole would be worse than a clear refusal. A larger bar size reaches further.

Nothing of these series is written to the store: ADJUSTED_LAST rewrites its whole past at every split and dividend,
so no span of it is ever final coverage; a CONTFUT's conId is its front future's, which changes at every roll, so
it names no stable series. Their answers are kept only in the memory cache (the bar fetcher's), with the short TTL of
every answer ending now. Pages work as for stored series: `limit` bars per answer, then `next_page_token`, whose page
asks again (usually answered from the memory cache within its TTL).

TWS's historical bars of a CONTFUT do not say which contract month each bar came from (a bar has date, OHLC, volume,
wap and count only), so the bars carry none; the front month TWS names today is the resolved contract's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shared.bars import BAR_SECONDS, MAX_LIMIT, BarRequest
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.ib_limits import LONGEST_DURATION, UNIT_MAX, duration_allowed
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_fetcher import BarFetcher, Reply
from worker.history.calendar import SessionCalendar
from worker.history.coverage import Span
from worker.history.pages import PageToken, fingerprint
from worker.history.planner import shift_back

DAY = 86_400
GRAIN = 60  # "N S" durations are rounded up to whole minutes: requests a few seconds apart share one answer
Now = Callable[[], float]
RangeOf = Callable[[BarRequest, ResolvedContract], Any]  # HistoryDesk.range_of
CalendarFor = Callable[[ResolvedContract, bool], SessionCalendar]


def reaching(bar_size: str, start: int, now: float, calendar: SessionCalendar) -> str | None:
    """The shortest IB duration for `bar_size` whose answer ending `now` reaches back to `start`; None when even
    IB's longest does not."""
    bar_seconds = BAR_SECONDS[bar_size]
    back = max(1, math.ceil(now) - start + bar_seconds)  # a bar's length of slack: TWS's clock may run ahead of ours
    if bar_seconds < DAY and back <= UNIT_MAX["S"]:
        seconds = min(UNIT_MAX["S"], math.ceil(back / GRAIN) * GRAIN)
        if duration_allowed(bar_size, f"{seconds} S"):
            return f"{seconds} S"
    # one session more than the calendar believes in: a session it does not know of must not cut the start off
    sessions = 1 + len([s for s in calendar.sessions(Span(start, math.ceil(now) + 1)) if s.end > start])
    if duration_allowed(bar_size, f"{sessions} D"):
        return f"{sessions} D"
    for unit in ("W", "M", "Y"):
        count = 1
        while shift_back(calendar, int(now), count, unit) > start and count <= UNIT_MAX.get(unit, 50):
            count += 1
        if duration_allowed(bar_size, f"{count} {unit}"):
            return f"{count} {unit}"
    return None


def _as_asked(request: BarRequest) -> bool:
    """A duration ending now that one request may ask for: sent as it is, TWS's answer is the range."""
    return (not request.end_datetime and not request.start_datetime and not request.page_token
            and duration_allowed(request.bar_size, request.duration))


class EndlessSeries:
    """Answers bar requests of series TWS gives only up to now. Owned by the worker's thread."""

    def __init__(self, fetcher: BarFetcher, range_of: RangeOf, calendar_for: CalendarFor, now: Now) -> None:
        self._fetcher = fetcher
        self._range_of = range_of
        self._calendar_for = calendar_for
        self._now = now
        self.answers = 0

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Reply) -> None:
        try:
            rng = self._range_of(request, contract)
        except BridgeFailure as failure:  # a page token that is not this request's
            reply(None, failure.error)
            return
        now = self._now()
        as_asked = _as_asked(request)
        duration = request.duration if as_asked else reaching(request.bar_size, rng.span.start, now,
                                                              self._calendar_for(contract, request.use_rth))
        if duration is None:
            reply(None, self._out_of_reach(request, contract))
            return
        upstream = replace(request, duration=duration, end_datetime="", start_datetime="", page_token="",
                           limit=MAX_LIMIT, include_forming=False)

        def answered(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            if error is not None or result is None:
                reply(None, error)
                return
            try:
                fresh = self._range_of(request, contract)  # by TWS's clock, as the answer just set it
            except BridgeFailure:
                fresh = rng
            # as asked: TWS's answer is the range (its clock drew the start); else the range by ours
            span = Span(-(2**62) if as_asked else fresh.span.start, min(fresh.span.end, fresh.complete))
            bars = [b for b in result["bars"] if span.start <= b["time"] < span.end]
            self.answers += 1
            page, rest = bars[:request.limit], bars[request.limit:]
            token = PageToken(fingerprint(request), rest[0]["time"], fresh.span.end).encode() if rest else None
            reply({"bars": page, "count": len(page), "notice": None if page else result.get("notice"),
                   "next_page_token": token, "ttl": result.get("ttl")}, None)

        self._fetcher.fetch(upstream, contract, deadline, answered)

    @staticmethod
    def _out_of_reach(request: BarRequest, contract: ResolvedContract) -> BridgeError:
        field = "page_token" if request.page_token else "start_datetime" if request.start_datetime else "duration"
        kind = "a continuous future (CONTFUT)" if contract.sec_type == "CONTFUT" else request.what_to_show
        longest = LONGEST_DURATION[request.bar_size]
        message = (f"TWS gives {kind} bars only ending now (it refuses an end date), and with {request.bar_size} "
                   f"bars at most {longest} back: start the range within the last {longest}, or ask for larger bars")
        return BridgeError(ErrorCode.INVALID_REQUEST, message, fields={field: message})
