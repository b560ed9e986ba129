"""The bars an IB duration covers at a moment, by the rules TWS applies to a fresh request (sim/history.py models
them): "N S" = the bars that started in the last N seconds; "N D" = the bars of the last N sessions (trading
days, worker/contracts/trading_sessions.py); "N W", "N M", "N Y" = the bars that started in the calendar weeks, months
or years before now (wall-clock arithmetic in the exchange's zone, so DST-safe).

`LiveBars` keeps a live subscription's series within its own duration as TWS's updates arrive, and answers a shorter
duration of the same unit from it, so that an answer equals a fresh request for that duration plus the forming bar.
A new session drops the oldest one's bars only when its first bar arrives (as a fresh request would then answer);
time-based windows move with TWS's clock. Bars of a week or a month are placed by their whole period (the session
days inside a past week are not known here, so "N D" of weekly or monthly bars counts weekdays back from today).

A series' subscription (IB's longest duration for its bar size) also keeps the bars of its duration counted in
seconds (`retain_seconds`: "1 D" keeps the last 86,400 s too), and knows from when it holds every bar
(`covered_from`), so an intraday duration of another unit ("3600 S" of a "1 D" series, "1 D" of a "1 W" one) is
answered from it whenever its window lies inside what the series holds (`covers`).
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta
from typing import Any

from worker.contracts.trading_sessions import TradingSessions
from worker.tws.dates import period_end, zone

Bar = dict[str, Any]
WEEK = 7 * 86400


def parse_duration(duration: str) -> tuple[int, str]:
    count, unit = duration.split()
    return int(count), unit


def window_start(count: int, unit: str, now: float, zone_name: str) -> float:
    """The earliest bar start an "N S|W|M|Y" request ending at `now` admits."""
    if unit == "S":
        return now - count
    local = datetime.fromtimestamp(now, zone(zone_name))
    if unit == "W":
        return (local - timedelta(days=7 * count)).timestamp()  # aware arithmetic is wall-clock arithmetic
    months = count * (12 if unit == "Y" else 1)
    year, month = divmod(local.year * 12 + local.month - 1 - months, 12)
    month += 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    day = min(local.day, (first_of_next - timedelta(days=1)).day)
    return local.replace(year=year, month=month, day=day).timestamp()


def bar_day(bar: Bar, sessions: TradingSessions) -> date:
    """The trading day of a bar: its date for daily and larger bars, its session's day for intraday ones."""
    text = bar["date"]
    if len(text) == 8:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return sessions.day_of(bar["time"])


class LiveBars:
    """One live series within the window of its duration."""

    def __init__(self, duration: str, sessions: TradingSessions, bar_seconds: int, retain_seconds: int = 0) -> None:
        self.duration = duration
        self.sessions = sessions
        self.bar_seconds = bar_seconds
        self.retain_seconds = retain_seconds  # also keep the bars that started this many seconds before now
        self.bars: list[Bar] = []
        self._days: list[date] = []  # bar_day of each bar: non-decreasing
        self.covered_from: float | None = None  # every bar that starts at or after this is held (intraday bars)

    def reset(self, bars: list[Bar], tws_now: float | None = None) -> None:
        """TWS's answer to the subscription's request: the window itself, as of now."""
        self.bars = bars
        self._days = [bar_day(b, self.sessions) for b in bars]
        if parse_duration(self.duration)[1] == "D":  # TWS sent every bar of the sessions in the window
            start = self.sessions.start_of(self._days[0]) if bars and self.bar_seconds < 86400 else None
        else:
            start = self._window_start(self.duration, tws_now)
        self.covered_from = start if start is None else self._after_previous_close(start)

    def restore(self, bars: list[Bar], tws_now: float | None, keep_older: bool) -> None:
        """TWS's answer to a resubscription. With `keep_older` (the answer reaches back to bars held already) the bars
        held from before its first one stay, and so does what the series covered; else the answer replaces all."""
        covered = self.covered_from
        older = [b for b in self.bars if bars and b["time"] < bars[0]["time"]] if keep_older else []
        self.reset(older + bars, tws_now)
        if older and covered is not None and self.covered_from is not None:
            self.covered_from = min(covered, self.covered_from)

    def update(self, bar: Bar, now: float | None) -> None:
        """A keepUpToDate update: the forming bar rewritten, or a new bar that starts forming."""
        bars = self.bars
        if bars and bars[-1]["time"] == bar["time"]:
            bars[-1] = bar  # the forming bar, rewritten until it completes
        elif not bars or bar["time"] > bars[-1]["time"]:
            bars.append(bar)  # the previous bar completed; a new one forms
            self._days.append(bar_day(bar, self.sessions))
            first = self._first_kept(self.duration, now)
            if self.retain_seconds:
                horizon = max(now or 0.0, bar["time"] + 1.0) - self.retain_seconds
                first = min(first, bisect.bisect_left(bars, horizon, key=lambda b: b["time"]))
            if first:
                if self.covered_from is not None:  # nothing started between the last bar dropped and the next
                    self.covered_from = max(self.covered_from, bars[first - 1]["time"] + 1.0)
                del bars[:first]
                del self._days[:first]
        # an update older than the forming bar changes nothing

    def bars_for(self, duration: str, now: float | None) -> list[Bar]:
        """A copy of the bars `duration` (the subscription's own, or one it `covers`) covers now."""
        return self.bars[self._first_kept(duration, now):]

    def covers(self, duration: str, tws_now: float | None) -> bool:
        """Whether every bar a fresh request for `duration` would answer now is held: always for the series' own
        unit and a count up to its own; for another unit (intraday bars) when its window starts where the series
        holds every bar."""
        count, unit = parse_duration(duration)
        own_count, own_unit = parse_duration(self.duration)
        if unit == own_unit and count <= own_count:
            return True
        if self.bar_seconds >= 86400 or self.covered_from is None or not self.bars:
            return False
        start = self._window_start(duration, tws_now)
        return start is not None and start >= self.covered_from

    def _after_previous_close(self, start: float) -> float:
        """No bar starts between a session's start and the end of the session before it, when the hours TWS gave
        show both: what is held from `start` on is then held from that end on."""
        ranges = self.sessions.ranges
        i = bisect.bisect_left(ranges, start, key=lambda r: r.start)
        if 0 < i < len(ranges) and ranges[i].start == start:
            return float(min(start, ranges[i - 1].end))
        return start

    def _window_start(self, duration: str, tws_now: float | None) -> float | None:
        """Intraday bars: the earliest bar start `duration` admits now; None when it reaches before the bars held
        ("N D" with fewer than N trading days held) or for daily and larger bars."""
        if self.bar_seconds >= 86400 or not self.bars:
            return None
        count, unit = parse_duration(duration)
        if unit == "D":
            days = list(dict.fromkeys(self._days))
            return self.sessions.start_of(days[-count]) if len(days) >= count else None
        now = max(tws_now or 0.0, self.bars[-1]["time"] + 1.0)
        return window_start(count, unit, now, self.sessions.zone_name)

    def _first_kept(self, duration: str, tws_now: float | None) -> int:
        bars = self.bars
        if not bars:
            return 0
        count, unit = parse_duration(duration)
        # an update means its bar has begun: TWS's now is at least a second into the forming bar
        now = max(tws_now or 0.0, bars[-1]["time"] + 1.0)
        daily = len(bars[-1]["date"]) == 8
        if self.bar_seconds >= WEEK:
            return self._first_long_bar(count, unit, now)
        if unit == "D":
            days, i = self._days, len(self._days)
            for _ in range(count):  # back over `count` distinct trading days
                if i == 0:
                    break
                i = bisect.bisect_left(days, days[i - 1], 0, i)
            return i
        start = window_start(count, unit, now, self.sessions.zone_name)
        if not daily:
            return bisect.bisect_left(bars, start, key=lambda b: b["time"])
        if unit == "S":  # the sessions that intersect the last N seconds: from the day `start` falls in
            first_day = self.sessions.day_of(start)
            return bisect.bisect_left(self._days, first_day)
        i = len(bars)  # W/M/Y: the sessions that began within the span
        while i > 0 and self.sessions.start_of(self._days[i - 1]) >= start:
            i -= 1
        return i

    def _first_long_bar(self, count: int, unit: str, now: float) -> int:
        """Weekly and monthly bars: those whose period reaches into the window."""
        if unit == "D":
            day = self.sessions.day_of(now)
            for _ in range(count - 1):  # weekdays back: a past week's session days are not known here
                day -= timedelta(days=3 if day.weekday() == 0 else 1)
            start = self.sessions.start_of(day)
        else:
            start = window_start(count, unit, now, self.sessions.zone_name)
        i = len(self.bars)
        while i > 0 and period_end(self.bars[i - 1]["time"], self.bar_seconds, self.sessions.zone_name, True) > start:
            i -= 1
        return i
