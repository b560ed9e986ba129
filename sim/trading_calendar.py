"""When each kind of simulated instrument trades: sessions and trading days, in America/New_York.

History, head timestamps and contract details all ask the same question ("which sessions lie in this time range
for this instrument and this useRTH?"), so the answer lives here once. Times are epoch seconds (float or int);
days are `datetime.date` trading days in New York.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

NEW_YORK = ZoneInfo("America/New_York")


class CalendarKind(StrEnum):
    """How an instrument's sessions are laid out."""

    US_EQUITY = "us_equity"  # stocks/ETFs: 04:00-20:00 extended, 09:30-16:00 regular
    US_INDEX = "us_index"  # cash index (SPX): regular session only, whatever useRTH says
    FX = "fx"  # IDEALPRO: Sunday 17:00 to Friday 17:00 New York, around the clock
    CME_EQUITY = "cme_equity"  # ES on Globex: 18:00 (day before) to 17:00, liquid hours 09:30-16:00
    CRYPTO = "crypto"  # PAXOS: every day around the clock, a day = midnight to midnight New York; no RTH/ETH split


# NYSE closures (special ones such as 2025-01-09, the National Day of Mourning for President Carter, included) and
# 13:00 early closes (extended hours end at 17:00), and the days CME's Globex is closed, from the `holidays` package's
# rules: any year, never a list that ends. On an NYSE holiday CME keeps open (MLK day, Presidents' Day, Memorial Day,
# Juneteenth, Labor Day) the equity futures trade a shortened session, 17:00 Chicago the day before to 12:00 Chicago
# (CME Group holiday calendar), and have no liquid hours.
NYSE_CLOSURES: holidays.HolidayBase = holidays.financial_holidays("NYSE")
NYSE_EARLY_CLOSES: holidays.HolidayBase = holidays.financial_holidays("NYSE", categories=("half_day",))
CME_CLOSURES: holidays.HolidayBase = holidays.financial_holidays("CME")


def cme_holiday_session(day: date) -> bool:
    """Whether `day` is an NYSE holiday on which CME's equity futures trade their shortened session."""
    return day.weekday() < 5 and day in NYSE_CLOSURES and day not in CME_CLOSURES


@dataclass(frozen=True)
class Session:
    """One trading day's session: [start, end) in epoch seconds."""

    day: date
    start: int
    end: int


def _epoch(day: date, hh: int, mm: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm), NEW_YORK).timestamp())


def is_trading_day(kind: CalendarKind, day: date) -> bool:
    """Whether `day` has a session. FX ignores exchange holidays (IDEALPRO quotes through them); crypto never closes."""
    if kind is CalendarKind.CRYPTO:
        return True
    if day.weekday() >= 5:
        return False
    if kind is CalendarKind.FX:
        return True
    if kind is CalendarKind.CME_EQUITY and cme_holiday_session(day):
        return True
    return day not in NYSE_CLOSURES


@lru_cache(maxsize=16384)
def session_for_day(kind: CalendarKind, use_rth: bool, day: date) -> Session | None:
    """The session of trading day `day`, or None when the market is closed that day."""
    if not is_trading_day(kind, day):
        return None
    early = day in NYSE_EARLY_CLOSES
    if kind is CalendarKind.CRYPTO:
        # The only sessions that contain a DST change (23 or 25 hours long); intraday bars stay on epoch multiples of
        # the bar size from local midnight, so bars of 2 hours or more start an hour off the wall clock after it.
        return Session(day, _epoch(day, 0), _epoch(day + timedelta(days=1), 0))
    if kind is CalendarKind.FX:
        # The FX trading day D runs from 17:00 on D-1 (Sunday for Monday) to 17:00 on D.
        return Session(day, _epoch(day - timedelta(days=1), 17), _epoch(day, 17))
    if kind is CalendarKind.CME_EQUITY:
        holiday = cme_holiday_session(day)
        if use_rth:  # ES liquid hours follow the cash market: none on an NYSE holiday
            if holiday:
                return None
            return Session(day, _epoch(day, 9, 30), _epoch(day, 13, 15) if early else _epoch(day, 16))
        # Globex: opens 17:00 Chicago (18:00 New York) the evening before (Sunday for Monday), daily halt
        # 17:00-18:00 New York; on NYSE early-close days the equity futures stop at 12:15 Chicago (13:15 New
        # York), on the NYSE holidays CME trades at 12:00 Chicago (13:00 New York).
        close = _epoch(day, 13) if holiday else _epoch(day, 13, 15) if early else _epoch(day, 17)
        return Session(day, _epoch(day - timedelta(days=1), 18), close)
    if use_rth or kind is CalendarKind.US_INDEX:
        return Session(day, _epoch(day, 9, 30), _epoch(day, 13) if early else _epoch(day, 16))
    return Session(day, _epoch(day, 4), _epoch(day, 17) if early else _epoch(day, 20))


def local_date(t: float) -> date:
    """The New York calendar date of epoch `t`."""
    return datetime.fromtimestamp(t, NEW_YORK).date()


def sessions_between(kind: CalendarKind, use_rth: bool, start: float, end: float) -> list[Session]:
    """Sessions that intersect [start, end), oldest first."""
    out: list[Session] = []
    if end <= start:
        return out
    day = local_date(start) - timedelta(days=1)  # an FX/Globex session starts the evening before its day
    last = local_date(end) + timedelta(days=1)
    while day <= last:
        s = session_for_day(kind, use_rth, day)
        if s is not None and s.end > start and s.start < end:
            out.append(s)
        day += timedelta(days=1)
    return out


def last_sessions(kind: CalendarKind, use_rth: bool, end: float, count: int) -> list[Session]:
    """The last `count` sessions that started before `end` (the current one included), oldest first."""
    out: list[Session] = []
    day = local_date(end) + timedelta(days=1)
    misses = 0
    while len(out) < count and misses < 30:  # 30 closed days in a row: no more data (before any calendar)
        s = session_for_day(kind, use_rth, day)
        if s is not None and s.start < end:
            out.append(s)
            misses = 0
        else:
            misses += 1
        day -= timedelta(days=1)
    out.reverse()
    return out


def trading_days(kind: CalendarKind, first: date, last: date) -> list[date]:
    """Trading days from `first` to `last`, both included."""
    out: list[date] = []
    day = first
    while day <= last:
        if is_trading_day(kind, day):
            out.append(day)
        day += timedelta(days=1)
    return out


def session_at(kind: CalendarKind, use_rth: bool, t: float) -> Session | None:
    """The session containing epoch `t`, or None when the market is closed at `t`."""
    for s in sessions_between(kind, use_rth, t, t + 1):
        if s.start <= t < s.end:
            return s
    return None


def last_session_started(kind: CalendarKind, use_rth: bool, t: float) -> Session | None:
    """The latest session whose start is at or before `t` (open or already closed)."""
    found = last_sessions(kind, use_rth, t + 1, 1)
    return found[0] if found else None
