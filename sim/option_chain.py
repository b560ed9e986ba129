"""A stock's option chain by rule (AAPL): monthly expiries around the clock's now, strikes around the stock's price.

One JSON entry (sim/data/instruments.json "options") names the underlying and what every option shares:
- expiries: the third Friday of each month (the business day before when the NYSE is closed that Friday), from the
  month before the clock's month through the second one not yet expired: the previous month's (expired), the
  clock's month's and the next month's; once the clock's month's has passed, it is expired too and the month after
  next joins. Expired ones answer only with includeExpired (IB: expired options have no history);
- strikes: every `strikeStep` from `strikesEachSide` steps below to as many above the stock's base price rounded to
  the step (AAPL 190: 165 .. 215), calls and puts;
- conId: `conIdBase + days(expiry - 2000-01-01) * 20000 + strike in tenths * 2 + (1 for a put)`: deterministic,
  and read back from a conId;
- local symbol: the OCC code, root padded to 6, "AAPL  250221C00190000".
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sim import trading_calendar as cal
from sim.futures import monthly_expiry
from sim.messages import ContractSpec

if TYPE_CHECKING:
    from sim.instruments import Instrument

EPOCH_DAY = date(2000, 1, 1)
PER_DAY = 20000  # conIds per expiry day: strike tenths (below 10000) times 2 rights
LAST_DAY = date(2099, 12, 31)
RIGHTS = ("C", "P")


@dataclass(frozen=True)
class OptionChain:
    underlying: Instrument
    template: Instrument  # sec_type OPT; con_id, local symbol, expiry, strike, right and price are per option
    con_id_base: int
    strike_step: float
    strikes_each_side: int

    @property
    def con_id_range(self) -> tuple[int, int]:
        return self.con_id_base, self.con_id_base + ((LAST_DAY - EPOCH_DAY).days + 1) * PER_DAY

    def strikes(self) -> list[float]:
        centre = round(self.underlying.base_price / self.strike_step) * self.strike_step
        return [centre + k * self.strike_step for k in range(-self.strikes_each_side, self.strikes_each_side + 1)]

    def expiries(self, now: float) -> list[date]:
        """Monthly expiries answered at `now`, oldest first (see the module docstring)."""
        today = cal.local_date(now)
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        out: list[date] = []
        while sum(1 for d in out if d >= today) < 2:
            out.append(monthly_expiry(year, month))
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        return out

    def contract(self, expiry: date, strike: float, right: str) -> Instrument:
        t, s = self.template, self.underlying.base_price
        intrinsic = max(s - strike, 0.0) if right == "C" else max(strike - s, 0.0)
        strike_text = f"{round(strike * 1000):08d}"
        return dataclasses.replace(
            t, con_id=self.con_id_base + (expiry - EPOCH_DAY).days * PER_DAY + round(strike * 10) * 2 + (right == "P"),
            local_symbol=f"{t.symbol:<6}{expiry:%y%m%d}{right}{strike_text}", last_trade_date=f"{expiry:%Y%m%d}",
            contract_month=f"{expiry:%Y%m}", strike=strike, right=right,
            first_date=max(self.underlying.first_date, expiry - timedelta(days=365)),
            base_price=round(intrinsic + s * 0.03, 2),
        )  # fmt: skip

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The option a conId names, if it is one of this chain's by rule (whatever the date)."""
        low, high = self.con_id_range
        if not low <= con_id < high:
            return None
        days, rest = divmod(con_id - self.con_id_base, PER_DAY)
        tenths, put = divmod(rest, 2)
        expiry, strike = EPOCH_DAY + timedelta(days=days), tenths / 10
        if monthly_expiry(expiry.year, expiry.month) != expiry or strike not in self.strikes():
            return None
        return self.contract(expiry, strike, RIGHTS[put])

    def answers(self, option: Instrument, now: float | None, include_expired: bool) -> bool:
        """Whether TWS answers for `option` at `now`: its expiry is on the chain then, and not expired unless
        `include_expired`; without a clock, any option by rule."""
        if now is None:
            return True
        expiry = option.last_date
        assert expiry is not None
        return expiry in self.expiries(now) and (include_expired or expiry >= cal.local_date(now))

    def matches(self, spec: ContractSpec, now: float | None) -> list[Instrument]:
        """The candidates of a request without conId (each still to be checked field by field): options are asked
        for as OPT, or by their local symbol."""
        if not (spec.sec_type.upper() == "OPT" or (not spec.sec_type and spec.local_symbol)):
            return []
        if spec.symbol and spec.symbol.upper() != self.template.symbol.upper():
            return []
        clock = time.time() if now is None else now
        expiries = self.expiries(clock)
        named = self._named_expiry(spec)
        if named is not None:
            expiries = [named] if now is None else [d for d in expiries if d == named]
        today = cal.local_date(clock)
        out = [self.contract(d, k, r) for d in expiries for k in self.strikes() for r in RIGHTS]
        return [o for o in out if spec.include_expired or now is None or (o.last_date or today) >= today]

    @staticmethod
    def _named_expiry(spec: ContractSpec) -> date | None:
        """The expiry a full last trade date or an OCC local symbol names, None when neither does."""
        ltd, local = spec.last_trade_date.strip(), spec.local_symbol.strip()
        text = ltd if len(ltd) == 8 else ("20" + local[-15:-9] if len(local) >= 15 else "")
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if text.isdigit() else None
        except ValueError:
            return None


def chain_from_entry(entry: Any, index: int, parse: Callable[[Any, int], Instrument],
                     by_con_id: dict[int, Instrument]) -> OptionChain:
    """An OptionChain from its JSON entry: its underlying's conId, the fields every option shares (read by `parse`,
    as an instrument's) and the rule fields; ValueError naming the entry when one is missing or out of range."""
    try:
        if not isinstance(entry, dict):
            raise ValueError("not an object")
        underlying = by_con_id[int(entry["underConId"])]
        template = parse({"symbol": underlying.symbol, "localSymbol": underlying.symbol, "basePrice": 1.0,
                          "firstDate": f"{underlying.first_date:%Y%m%d}", "conId": entry.get("conIdBase", 0),
                          "currency": underlying.currency, **entry}, index)
        return _chain(entry, template, underlying)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"option chain #{index}: {type(exc).__name__}: {exc}") from exc


def _chain(entry: dict[str, Any], template: Instrument, underlying: Instrument) -> OptionChain:
    chain = OptionChain(
        underlying=underlying, template=dataclasses.replace(template, under_con_id=underlying.con_id,
                                                            under_symbol=underlying.symbol,
                                                            under_sec_type=underlying.sec_type),
        con_id_base=int(entry["conIdBase"]), strike_step=float(entry["strikeStep"]),
        strikes_each_side=int(entry["strikesEachSide"]),
    )  # fmt: skip
    if template.sec_type != "OPT":
        raise ValueError("secType must be OPT")
    if chain.strike_step <= 0 or chain.strikes_each_side < 0 or min(chain.strikes()) <= 0:
        raise ValueError("strikeStep > 0 and strikesEachSide >= 0 with every strike positive are required")
    if max(chain.strikes()) * 10 >= PER_DAY // 2 or any(round(k * 10) != k * 10 for k in chain.strikes()):
        raise ValueError("strikes must be below 1000 in tenths")
    if chain.con_id_base <= 0 or chain.con_id_range[1] >= 2**31:
        raise ValueError("conIdBase leaves no room below 2**31")
    return chain
