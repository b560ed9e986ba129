"""Which sessions the bridge believes exist for one contract and useRTH: the planner's map of where bars can be.

Built from the contract details' hours (worker/contracts/trading_sessions.py). Where those ranges cover a day they win
(an early close or a holiday TWS announced is taken as TWS says). Outside them (the hours cover about a week around
the lookup) the weekly pattern the ranges show is repeated: the usual open and close time of a trading day, as
offsets from that day's local midnight in the details' zone (negative opens: the session opens the evening before,
as FX at 17:00 and Globex at 18:00 New York), by wall-clock arithmetic, so DST changes move nothing. Trading weekdays
are the ones the ranges show open plus Monday to Friday (a weekday the hours show CLOSED is a holiday, not a rule).
Holidays and early closes outside the ranges come from rules, never from a list that ends:

- US equity-like contracts (STK, IND, ... listed on a US venue or quoted in a US zone): the NYSE calendar of the
  `holidays` package (special closures included) and its half days, where the close moves 3 hours earlier (13:00 for
  the regular session, 17:00 for extended hours, as NYSE and NYSE Arca do).
- Futures on CME's exchanges (CME's equity futures schedule): closed on the days CME closes (the `holidays` package's
  CME calendar: New Year, Good Friday, Independence Day, Thanksgiving, Christmas); on the other NYSE holidays (MLK
  day, Presidents' Day, ...) a shortened session to 12:00 Chicago, and no liquid hours; on NYSE half days a close at
  12:15 Chicago. A choice that fits equity index futures; other CME products differ.
- Everything else (FX on IDEALPRO, crypto, non-US listings): no holidays. Believing a session that does not exist
  costs one empty request; believing a closed day that has bars would lose them, so doubt always means "open".

A session is a `Span` of bar start times [open, close) in epoch seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from worker.contracts.resolver import ResolvedContract
from worker.contracts.trading_sessions import DAY, TradingSessions
from worker.history.coverage import Span
from worker.tws.dates import zone

WEEKDAYS = frozenset(range(5))  # Monday..Friday
US_ZONES = frozenset({"US/Eastern", "America/New_York", "EST5EDT", "EST", "US/Central", "America/Chicago", "CST6CDT"})
US_VENUES = frozenset({"NYSE", "NASDAQ", "ISLAND", "ARCA", "AMEX", "BATS", "BYX", "EDGX", "IEX", "CBOE", "CBOE2",
                       "NYSENAT", "PSE", "PHLX", "BEX", "CHX", "LTSE", "MEMX", "PEARL"})  # fmt: skip
CME_VENUES = frozenset({"CME", "GLOBEX", "CBOT", "ECBOT", "NYMEX", "COMEX", "NYBOT"})
CHICAGO = ZoneInfo("America/Chicago")
CME_HALF_DAY_CLOSE = time(12, 15)  # Chicago: CME equity futures on NYSE half days
CME_HOLIDAY_CLOSE = time(12, 0)  # Chicago: CME equity futures on the NYSE holidays CME trades
NYSE_HALF_DAY_SHIFT = 3 * 3600  # a half day closes 3 hours early: 16:00 -> 13:00, 20:00 -> 17:00
FALLBACK_PATTERN = (0, DAY)  # hours unknown: the whole local day (over-believing only costs empty requests)


@lru_cache(maxsize=1)
def _nyse() -> tuple[holidays.HolidayBase, holidays.HolidayBase]:
    """(closures, half days) of the NYSE; both expand to any year on first use."""
    return holidays.financial_holidays("NYSE"), holidays.financial_holidays("NYSE", categories=("half_day",))


@lru_cache(maxsize=1)
def _cme() -> holidays.HolidayBase:
    """The days CME's Globex is closed; expands to any year on first use."""
    return holidays.financial_holidays("CME")


@dataclass(frozen=True)
class HolidayRules:
    """Which days a family of contracts is closed and when a half day closes."""

    name: str  # "nyse", "cme_equity" (Globex hours), "cme_equity_liquid" (liquid hours) or "none"

    def closed(self, day: date) -> bool:
        if self.name == "cme_equity":
            return day in _nyse()[0] and day in _cme()
        return self.name != "none" and day in _nyse()[0]

    def half_day_close(self, day: date, close: datetime) -> datetime:
        """The session's close on `day` (the pattern's `close`, local), moved earlier on a half day."""
        if self.name == "cme_equity" and day in _nyse()[0]:  # an NYSE holiday CME trades: to 12:00 Chicago
            return min(close, datetime.combine(day, CME_HOLIDAY_CLOSE, CHICAGO).astimezone(close.tzinfo))
        if self.name == "none" or day not in _nyse()[1]:
            return close
        if self.name == "nyse":
            shifted = datetime.combine(close.date(), time(0), close.tzinfo) + timedelta(
                seconds=_seconds_of_day(close) - NYSE_HALF_DAY_SHIFT)
            return shifted
        return min(close, datetime.combine(day, CME_HALF_DAY_CLOSE, CHICAGO).astimezone(close.tzinfo))


NO_HOLIDAYS = HolidayRules("none")


def holiday_rules(contract: ResolvedContract, use_rth: bool = False) -> HolidayRules:
    """The holiday family of a contract and useRTH (see the module docstring for why)."""
    sec_type = contract.sec_type.upper()
    if sec_type in ("CASH", "CRYPTO"):
        return NO_HOLIDAYS
    venues = {contract.exchange.upper(), contract.primary_exchange.upper()}
    if sec_type in ("FUT", "FOP", "CONTFUT"):
        if not venues & CME_VENUES:
            return NO_HOLIDAYS
        return HolidayRules("cme_equity_liquid" if use_rth else "cme_equity")
    if venues & US_VENUES or contract.time_zone in US_ZONES:
        return HolidayRules("nyse")
    return NO_HOLIDAYS


class SessionCalendar:
    """The believed sessions of one contract for one useRTH setting. Owned by the worker's thread."""

    def __init__(self, trading: TradingSessions, rules: HolidayRules = NO_HOLIDAYS,
                 every_day: bool = False) -> None:
        self.zone = zone(trading.zone_name)
        self.rules = rules
        self._known: dict[date, Span] = {}  # days the details' ranges cover: their first start to their last end
        for r in trading.ranges:
            known = self._known.get(r.day)
            self._known[r.day] = Span(min(r.start, known.start), max(r.end, known.end)) if known else Span(r.start,
                                                                                                             r.end)
        self._first_known = min(self._known, default=None)
        self._last_known = max(self._known, default=None)
        patterns = Counter(self._offsets(day, span) for day, span in self._known.items())
        self.pattern = patterns.most_common(1)[0][0] if patterns else FALLBACK_PATTERN
        self.weekdays = WEEKDAYS | {day.weekday() for day in self._known} | (frozenset(range(7)) if every_day
                                                                             else frozenset())
        self._memo: dict[date, Span | None] = {}

    @classmethod
    def for_contract(cls, contract: ResolvedContract, use_rth: bool) -> SessionCalendar:
        every_day = contract.sec_type.upper() == "CRYPTO" and not contract.trading_hours  # hours unknown: 24/7
        return cls(contract.sessions(use_rth), holiday_rules(contract, use_rth), every_day)

    # ---- questions ----------------------------------------------------------------------------------------------

    def session_of_day(self, day: date) -> Span | None:
        """The session of trading day `day`, or None when the bridge believes it closed."""
        if day not in self._memo:
            self._memo[day] = self._session(day)
        return self._memo[day]

    def sessions(self, span: Span) -> list[Span]:
        """The believed sessions that intersect `span`, oldest first."""
        return [s for _, s in self.trading_days(span)]

    def trading_days(self, span: Span) -> list[tuple[date, Span]]:
        """(trading day, its session) of the believed sessions that intersect `span`, oldest first."""
        out: list[tuple[date, Span]] = []
        if not span:
            return out
        day = self._date(span.start) - timedelta(days=2)  # sessions may open the evening (or two) before their day
        last = self._date(span.end) + timedelta(days=1)
        while day <= last:
            s = self.session_of_day(day)
            if s is not None and s.end > span.start and s.start < span.end:
                out.append((day, s))
            day += timedelta(days=1)
        return out

    def midnight(self, day: date) -> int:
        """The start of `day` in the calendar's zone: the time the bridge gives that day's daily bar."""
        return int(datetime.combine(day, time(0), self.zone).timestamp())

    def session_at(self, moment: int) -> Span | None:
        """The believed session holding `moment`, if any."""
        found = [s for s in self.sessions(Span(moment, moment + 1)) if s.start <= moment < s.end]
        return found[0] if found else None

    def previous_end(self, session: Span, lookback_days: int = 31) -> int | None:
        """The end of the believed session before `session` (None when none in `lookback_days`)."""
        day = self._date(session.start) + timedelta(days=1)
        for _ in range(lookback_days + 2):
            s = self.session_of_day(day)
            if s is not None and s.end <= session.start:
                return s.end
            day -= timedelta(days=1)
        return None

    # ---- internals --------------------------------------------------------------------------------------------

    def _session(self, day: date) -> Span | None:
        if self._first_known is not None and self._first_known <= day <= self._last_known:  # type: ignore[operator]
            return self._known.get(day)  # the details say: a range, or CLOSED
        if day.weekday() not in self.weekdays or self.rules.closed(day):
            return None
        opening, closing = self.pattern
        start, end = self._wall(day, opening), self._wall(day, closing)
        end = self.rules.half_day_close(day, end)
        if end <= start:
            return None
        return Span(int(start.timestamp()), int(end.timestamp()))

    def _wall(self, day: date, offset: int) -> datetime:
        """The local moment `offset` seconds from `day`'s local midnight, by the wall clock."""
        base = day + timedelta(days=offset // DAY)
        seconds = offset % DAY
        return datetime.combine(base, time(seconds // 3600, seconds % 3600 // 60, seconds % 60), self.zone)

    def _offsets(self, day: date, span: Span) -> tuple[int, int]:
        return self._offset(day, span.start), self._offset(day, span.end)

    def _offset(self, day: date, moment: int) -> int:
        local = datetime.fromtimestamp(moment, self.zone)
        return (local.date() - day).days * DAY + _seconds_of_day(local)

    def _date(self, moment: int) -> date:
        return datetime.fromtimestamp(moment, self.zone).date()


def _seconds_of_day(local: datetime) -> int:
    return local.hour * 3600 + local.minute * 60 + local.second
