"""Quarterly futures by rule (ES): every expiry of any year, which ones TWS lists at a moment, and the front month.

A future family is one JSON entry (sim/data/instruments.json "futures") holding what every expiry shares; the
contracts themselves are computed, never listed, so the simulator serves any date:
- expiry: the third Friday of each cycle month (ES: March, June, September, December), or the business day before
  when that Friday is an NYSE holiday (Good Friday 2008: ESH8 expired on Thursday 20 March);
- conId: `conIdBase + yyyymmdd` of the expiry (ESH5 = 600000000 + 20250321 = 620250321): deterministic, and an
  expiry is read back from a conId;
- listed at a moment: the next `listed` unexpired expiries (ES: 5 quarters, as CME lists them); a contract is on the
  list from the day after the expiry `listed` quarters before it (its first date of data) until its last trade date;
  expired ones answer only with includeExpired (a request naming no expiry lists the last `keptExpired` quarters:
  IB keeps expired futures for 2 years);
- front month (CONTFUT): the first expiry more than `rollDays` days away (ES: it rolls 8 days before expiry, on the
  Thursday of the week before, as IB's continuous futures do).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import holidays

from sim import trading_calendar as cal
from sim.messages import ContractSpec

if TYPE_CHECKING:
    from sim.instruments import Instrument, Universe

MONTH_CODES = {1: "F", 2: "G", 3: "H", 4: "J", 5: "K", 6: "M", 7: "N", 8: "Q", 9: "U", 10: "V", 11: "X", 12: "Z"}
CODE_MONTHS = {code: month for month, code in MONTH_CODES.items()}
CON_ID_SPAN = 100_000_000  # conIdBase + yyyymmdd stays below conIdBase + CON_ID_SPAN


@lru_cache(maxsize=1)
def _nyse_closures() -> holidays.HolidayBase:
    return holidays.financial_holidays("NYSE")  # expands to any year on first use


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def monthly_expiry(year: int, month: int) -> date:
    """The third Friday of the month, or the business day before when the exchange is closed that Friday."""
    day = third_friday(year, month)
    while day in _nyse_closures() or day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class FutureFamily:
    """What every expiry of one future shares, and the rules that make its contracts."""

    template: Instrument  # sec_type FUT; con_id, local symbol, dates and base price are per expiry
    months: tuple[int, ...]  # the cycle (ES: 3, 6, 9, 12)
    con_id_base: int
    listed: int  # unexpired expiries listed at any moment
    kept_expired: int  # expired expiries still answered with includeExpired
    roll_days: int  # the continuous future moves to the next expiry this many days before expiry
    reference_month: tuple[int, int]  # (year, month) whose contract has the template's base price
    price_growth: float  # base price ratio from one expiry to the next (the carry of a rising index)
    continuous_first_date: date  # the first day of the CONTFUT's data (the future's launch)
    index_con_id: int = 0  # the underlying index's conId, as reqMatchingSymbols describes the future

    @property
    def symbol(self) -> str:
        return self.template.symbol

    # ---- expiries --------------------------------------------------------------------------------------------

    def _month_index(self, year: int, month: int) -> int:
        """Position of a cycle month counted from the reference month (may be negative)."""
        ry, rm = self.reference_month
        per_year = len(self.months)
        return (year - ry) * per_year + self.months.index(month) - self.months.index(rm)

    def _month_at(self, index: int) -> tuple[int, int]:
        ry, rm = self.reference_month
        per_year = len(self.months)
        n = self.months.index(rm) + index
        return ry + n // per_year, self.months[n % per_year]

    def expiries_from(self, day: date) -> Iterator[tuple[int, int]]:
        """Cycle months whose expiry is on or after `day`, nearest first, without end."""
        year, month = day.year, day.month
        n = self._month_index(year, min((m for m in self.months if m >= month), default=self.months[0]))
        if month > self.months[-1]:
            n = self._month_index(year + 1, self.months[0])
        while True:
            y, m = self._month_at(n)
            if monthly_expiry(y, m) >= day:
                yield y, m
            n += 1

    # ---- contracts -------------------------------------------------------------------------------------------

    def contract(self, year: int, month: int) -> Instrument:
        """The future expiring in (year, month), a cycle month."""
        expiry = monthly_expiry(year, month)
        index = self._month_index(year, month)
        listed_after = monthly_expiry(*self._month_at(index - self.listed))
        t = self.template
        return dataclasses.replace(
            t, con_id=self.con_id_base + int(f"{expiry:%Y%m%d}"),
            local_symbol=f"{t.symbol}{MONTH_CODES[month]}{year % 10}", last_trade_date=f"{expiry:%Y%m%d}",
            contract_month=f"{year:04d}{month:02d}", first_date=listed_after + timedelta(days=1),
            base_price=round(t.base_price * self.price_growth ** index, 2),
        )  # fmt: skip

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The contract a conId names, if it is one of this family's (whatever the date: listing is checked apart)."""
        text = str(con_id - self.con_id_base)
        if not 0 <= con_id - self.con_id_base < CON_ID_SPAN or len(text) != 8:
            return None
        try:
            expiry = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
        if expiry.month not in self.months or monthly_expiry(expiry.year, expiry.month) != expiry:
            return None
        return self.contract(expiry.year, expiry.month)

    def named(self, last_trade_date: str, local_symbol: str, now: float | None) -> list[Instrument] | None:
        """The contract an expiry field names ("YYYYMM", "YYYYMMDD" or a local symbol like ESH5); None when neither
        field is given, [] when what they name is no expiry of this family."""
        ltd = last_trade_date.strip()
        if ltd:
            if not (ltd.isdigit() and len(ltd) in (6, 8)):
                return []
            year, month = int(ltd[:4]), int(ltd[4:6])
            if month not in self.months or year < 1900:
                return []
            inst = self.contract(year, month)
            return [inst] if len(ltd) == 6 or ltd == inst.last_trade_date else []
        code = local_symbol.strip().upper()
        if code:
            root = self.symbol.upper()
            if len(code) != len(root) + 2 or not code.startswith(root) or not code[-1].isdigit():
                return []
            month = CODE_MONTHS.get(code[-2], 0)
            if month not in self.months:
                return []
            return [self.contract(self._decade_year(int(code[-1]), now), month)]
        return None

    def _decade_year(self, digit: int, now: float | None) -> int:
        """A one-digit year of a local symbol read as TWS does: the nearest such year from 4 years back to 5 ahead
        of the clock's year (ESH5 is 2025 in 2025, and 2035 from 2031 on); without a clock, of the reference
        month's year (deterministic: ESZ6 is always 2026 then)."""
        this_year = cal.local_date(now).year if now is not None else self.reference_month[0]
        first = this_year - 4
        return first + (digit - first) % 10

    def listed_at(self, now: float, include_expired: bool) -> list[Instrument]:
        """The contracts TWS answers for this future at `now`: the next `listed` expiries, and with
        `include_expired` the last `kept_expired` expired ones before them, oldest first."""
        today = cal.local_date(now)
        months = self.expiries_from(today)
        live = [self.contract(*next(months)) for _ in range(self.listed)]
        if not include_expired:
            return live
        first = self._month_index(*self._month_of(live[0]))
        return [self.contract(*self._month_at(first - k)) for k in range(self.kept_expired, 0, -1)] + live

    def answers(self, inst: Instrument, now: float | None, include_expired: bool) -> bool:
        """Whether TWS answers for `inst`, named by conId, expiry or local symbol, at `now`: listed (on or after its
        first date), or expired and asked for with `include_expired` (however long ago: IB keeps expired futures
        for about 2 years, a limit the simulator does not model for a named expiry); without a clock, any contract
        by rule."""
        if now is None:
            return True
        today, expiry = cal.local_date(now), inst.last_date
        assert expiry is not None
        return inst.first_date <= today <= expiry or (today > expiry and include_expired)

    def matches(self, spec: ContractSpec, now: float | None) -> list[Instrument]:
        """The candidates of a request without conId (each still to be checked field by field): the continuous
        future for CONTFUT, the expiry a last trade date or local symbol names, else every listed one."""
        sec_type = spec.sec_type.upper()
        if sec_type not in ("", "FUT", "CONTFUT") or (spec.symbol and spec.symbol.upper() != self.symbol.upper()):
            return []
        clock = time.time() if now is None else now
        if sec_type == "CONTFUT":
            return [self.continuous(clock)]
        named = self.named(spec.last_trade_date, spec.local_symbol, now)
        if named is None:
            return self.listed_at(clock, spec.include_expired)
        return [i for i in named if self.answers(i, now, spec.include_expired)]

    def reference_listing(self) -> list[Instrument]:
        """The contracts listed the day after the expiry before the reference month's (ES: ESH5 .. ESH6)."""
        before = monthly_expiry(*self._month_at(-1)) + timedelta(days=1)
        return self.listed_at(datetime.combine(before, dtime(12), cal.NEW_YORK).timestamp(), False)

    @staticmethod
    def _month_of(inst: Instrument) -> tuple[int, int]:
        return int(inst.contract_month[:4]), int(inst.contract_month[4:])

    def front(self, epoch: float) -> Instrument:
        """The contract the continuous future follows at `epoch`: the first expiry more than `roll_days` away."""
        today = cal.local_date(epoch)
        for year, month in self.expiries_from(today):
            if monthly_expiry(year, month) - timedelta(days=self.roll_days) > today:
                return self.contract(year, month)
        raise AssertionError("unreachable: expiries_from never ends")

    def continuous(self, now: float) -> Instrument:
        """The CONTFUT contract at `now`: the front future's conId, local symbol and expiry, secType CONTFUT,
        with data from the future's launch on and no last date."""
        front = self.front(now)
        return dataclasses.replace(front, sec_type="CONTFUT", first_date=self.continuous_first_date,
                                   last_trade_date=front.last_trade_date)


def front_future(universe: Universe, epoch: float, symbol: str = "ES") -> Instrument:
    """The future a continuous future (CONTFUT) of `symbol` follows at `epoch` (its bars are this contract's bars
    at that time). KeyError when the universe has no such future family."""
    return universe.future_family(symbol).front(epoch)



def family_from_entry(entry: Any, index: int, parse: Callable[[Any, int], Instrument]) -> FutureFamily:
    """A FutureFamily from its JSON entry: the fields every expiry shares (read by `parse`, as an instrument's) and
    the rule fields; ValueError naming the entry when one is missing or out of range."""
    try:
        if not isinstance(entry, dict):
            raise ValueError("not an object")
        template = parse({**entry, "conId": entry.get("conIdBase", 0), "localSymbol": entry.get("symbol", ""),
                          "firstDate": entry.get("continuousFirstDate", "")}, index)
        return _family(entry, template)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"future #{index}: {type(exc).__name__}: {exc}") from exc


def _family(entry: dict[str, Any], template: Instrument) -> FutureFamily:
    months = tuple(int(m) for m in entry["cycle"])
    reference = str(entry["referenceMonth"])
    family = FutureFamily(
        template=template, months=months, con_id_base=int(entry["conIdBase"]), listed=int(entry.get("listed", 5)),
        kept_expired=int(entry.get("keptExpired", 8)), roll_days=int(entry.get("rollDays", 8)),
        reference_month=(int(reference[:4]), int(reference[4:6])), price_growth=float(entry.get("priceGrowth", 1.0)),
        continuous_first_date=datetime.strptime(str(entry["continuousFirstDate"]), "%Y%m%d").date(),
        index_con_id=int(entry.get("indexConId", 0)),
    )  # fmt: skip
    if not months or sorted(set(months)) != list(months) or not all(1 <= m <= 12 for m in months):
        raise ValueError("cycle must be ascending distinct months 1..12")
    if len(reference) != 6 or family.reference_month[1] not in months:
        raise ValueError("referenceMonth must be YYYYMM of a cycle month")
    if family.con_id_base <= 0 or family.con_id_base + CON_ID_SPAN >= 2**31:
        raise ValueError(f"conIdBase must leave room for {CON_ID_SPAN} conIds below 2**31")
    if family.listed < 1 or family.kept_expired < 0 or family.roll_days < 0 or family.price_growth <= 0:
        raise ValueError("listed >= 1, keptExpired >= 0, rollDays >= 0 and priceGrowth > 0 are required")
    return family
