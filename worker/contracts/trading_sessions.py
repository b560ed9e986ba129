"""Which trading session (trading day) a moment belongs to, from the hours TWS gives in contract details.

IB's "N D" duration is the last N sessions, and a session is not a calendar date: FX on IDEALPRO and CME's Globex
futures open at 17:00 / 18:00 New York on the evening before their trading day, so a bar at Monday 17:30 belongs to
Tuesday. TWS says when the sessions are: contract details carry tradingHours (useRTH=0) and liquidHours (useRTH=1) in
the details' timeZoneId, "20250126:1700-20250127:1700;20250201:CLOSED" (since API 9.70; older TWS sends
"20090507:0700-1830,1830-2330", ranges on the entry's date). Each open range belongs to the trading day on which it
ends (ranges split by a break, "0900-1130;1230-1500", are one day).

The hours cover about a week from the day of the lookup, not the past sessions of a history and not the weeks after.
Outside them a moment's trading day follows the daily roll the hours show: when the sessions open on the evening
before their day (FX at 17:00, Globex at 18:00), the next trading day begins at that wall-clock time; otherwise it is
the exchange-local date. Contract details are therefore looked up once, not refreshed: the roll is what labels bars
outside the ranges and it does not change from week to week (zone changes are wall-clock, so DST keeps it), holidays
and early closes have no bars to label, and a refresh would cost a request per contract and week for nothing the
labels need. Where the ranges cover a moment they win (an instrument whose days differ is still labelled right).
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from worker.tws.dates import zone

log = logging.getLogger("tws.trading_sessions")

MAX_ENTRIES = 64  # TWS sends about 7-10 days; anything longer is cut, never a reason to fail
DAY = 86400


@dataclass(frozen=True)
class SessionRange:
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive
    day: date  # the trading day it belongs to


@dataclass(frozen=True)
class TradingSessions:
    """The sessions of one instrument for one useRTH setting."""

    zone_name: str
    ranges: tuple[SessionRange, ...] = ()  # sorted by start
    # when a trading day's session usually opens, in seconds from that day's local midnight (negative: the evening
    # before, as FX at 17:00 = -25200); None when the hours had no open range
    opening: int | None = None
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(r.start for r in self.ranges))

    def day_of(self, moment: float) -> date:
        """The trading day the moment (a bar's start) belongs to."""
        i = bisect.bisect_right(self._starts, moment) - 1
        if i >= 0 and moment < self.ranges[i].end:
            return self.ranges[i].day
        local = datetime.fromtimestamp(moment, zone(self.zone_name))
        if self.opening is not None and self.opening < 0 and _seconds_of_day(local) >= DAY + self.opening:
            return local.date() + timedelta(days=1)  # past the evening roll: the next trading day
        return local.date()

    def start_of(self, day: date) -> float:
        """When the session of trading day `day` begins: its first range, else at the usual opening, else at local
        midnight (wall-clock arithmetic: DST-safe)."""
        for r in self.ranges:
            if r.day == day:
                return float(r.start)
        offset = self.opening or 0
        moment = datetime.combine(day + timedelta(days=offset // DAY), time(0), zone(self.zone_name))
        seconds = offset % DAY
        return moment.replace(hour=seconds // 3600, minute=seconds % 3600 // 60, second=seconds % 60).timestamp()


@lru_cache(maxsize=256)
def parse_hours(hours: str, zone_name: str) -> TradingSessions:
    """TradingSessions from a tradingHours / liquidHours string; entries it cannot read are skipped (logged once)."""
    tz = zone(zone_name)
    ranges: list[SessionRange] = []
    for entry in hours.split(";")[:MAX_ENTRIES]:
        entry = entry.strip()
        if not entry:
            continue
        try:
            ranges.extend(_entry_ranges(entry, tz))
        except ValueError as exc:
            log.info("unreadable trading hours entry %r (%s): skipped", entry[:40], exc)
    ranges.sort(key=lambda r: r.start)
    first_ranges: dict[date, SessionRange] = {}
    for r in ranges:
        first_ranges.setdefault(r.day, r)
    openings = Counter(_opening(r, tz) for r in first_ranges.values())
    return TradingSessions(zone_name, tuple(ranges), openings.most_common(1)[0][0] if openings else None)


def _entry_ranges(entry: str, tz: ZoneInfo) -> list[SessionRange]:
    head, sep, rest = entry.partition(":")
    if not sep:
        raise ValueError("no ':' after the date")
    day = _date(head)
    if rest.strip().upper() == "CLOSED":
        return []
    out: list[SessionRange] = []
    for part in rest.split(","):
        first, sep, second = part.strip().partition("-")
        if not sep:
            raise ValueError("a range needs '-'")
        start = _local(day, first, tz)
        if ":" in second:  # current format: "20250127:1600", and the range belongs to the day it ends on
            end_day_text, _, hhmm = second.partition(":")
            end = _local(_date(end_day_text), hhmm, tz)
            trading_day = datetime.fromtimestamp(end - 60, tz).date()  # a range ending at 00:00 ends the day before
        else:  # older format: times on the entry's date; an end at or before the start is the next morning
            end = _local(day, second, tz)
            if end <= start:
                end = _local(day + timedelta(days=1), second, tz)
            trading_day = day
        if end <= start or end - start > 7 * DAY:
            raise ValueError("a range must end after it starts, within a week")
        out.append(SessionRange(start, end, trading_day))
    return out


def _date(text: str) -> date:
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"bad date {text!r}")
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _local(day: date, hhmm: str, tz: ZoneInfo) -> int:
    hhmm = hhmm.strip()
    if len(hhmm) != 4 or not hhmm.isdigit():
        raise ValueError(f"bad time {hhmm!r}")
    hours, minutes = int(hhmm[:2]), int(hhmm[2:])
    if hours == 24 and minutes == 0:  # "2400": the end of the day
        day, hours = day + timedelta(days=1), 0
    if hours > 23 or minutes > 59:
        raise ValueError(f"bad time {hhmm!r}")
    return int(datetime.combine(day, time(hours, minutes), tz).timestamp())


def _opening(r: SessionRange, tz: ZoneInfo) -> int:
    """Seconds from the trading day's local midnight to the range's start (negative: the evening before)."""
    local = datetime.fromtimestamp(r.start, tz)
    return (local.date() - r.day).days * DAY + _seconds_of_day(local)


def _seconds_of_day(local: datetime) -> int:
    return local.hour * 3600 + local.minute * 60 + local.second
