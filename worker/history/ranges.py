"""The range a bars request asks for, and the part of it that is complete, in bar start times (epoch seconds).

A request names its range by an end (`end_datetime`, empty = TWS's now) and either `start_datetime` or a `duration`
with IB's meaning (worker/live/duration_window.py): "N S" the bars that started in the last N seconds, "N W/M/Y" the
calendar span before the end (wall-clock arithmetic in the exchange's zone), "N D" the last N sessions that started
before the end (the sessions the calendar believes in, worker/history/calendar.py).

Only completed bars are stored. An intraday bar that started at t is complete once t + its length <= now; a daily,
weekly or monthly bar only once its period is over (so never a bar of a session still open).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.bars import BarRequest
from worker.history.coverage import Span
from worker.live.duration_window import parse_duration, window_start
from worker.tws.dates import parse_tws_time, zone

DAY = 86_400
SessionsBefore = Callable[[int, int], list[Span]]  # (end, count) -> the last `count` believed sessions before `end`


def request_end(request: BarRequest, time_zone: str, now: float) -> int:
    """The end of the range: the end asked for, never later than TWS's now."""
    end = parse_tws_time(request.end_datetime, time_zone) if request.end_datetime else None
    return math.ceil(now if end is None else min(end, now))


def requested_span(request: BarRequest, time_zone: str, now: float, sessions_before: SessionsBefore) -> Span:
    end = request_end(request, time_zone, now)
    if request.start_datetime:
        start = parse_tws_time(request.start_datetime, time_zone)
        return Span(min(end, math.floor(start if start is not None else end)), end)
    count, unit = parse_duration(request.duration)
    if unit == "D":
        found = sessions_before(end, count)
        return Span(found[0].start if found else end, end)
    return Span(min(end, math.floor(window_start(count, unit, end, time_zone))), end)


def complete_before(request: BarRequest, time_zone: str, now: float) -> int:
    """Every bar that started before this is complete at `now`; the bar forming at `now` starts at or after it."""
    seconds = request.bar_seconds
    if seconds < DAY:
        return math.floor(now) - seconds + 1
    local = datetime.fromtimestamp(now, zone(time_zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if seconds >= 28 * DAY:  # monthly bars: the month so far is not complete
        midnight = midnight.replace(day=1)
    elif seconds >= 7 * DAY:  # weekly bars: the week so far (IB's weeks start on Monday)
        midnight = midnight - timedelta(days=midnight.weekday())
    return math.floor(midnight.timestamp())
