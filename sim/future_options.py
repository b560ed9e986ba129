"""Options on a quarterly future by rule (ES FOP): one expiry per future, the future's own, for the front two futures.

One JSON entry (sim/data/instruments.json "futureOptions") names the future family (`underSymbol`) and what every
option shares:
- expiries: IB's quarterly ES options (tradingClass ES) expire with their future, on its last trade date; the chain
  answers the options of the first `expiries` unexpired listed futures at the clock's now (ES: 2, e.g. ESH5 and ESM5
  in February 2025) and, with includeExpired, those of the last `keptExpired` expired future (ES: 1, ESZ4). Expired
  ones answer only with includeExpired, and have no history (as stock options, sim.data_kinds);
- strikes: every `strikeStep` from `strikesEachSide` steps below to as many above the future's own base price rounded
  to the step (ESH5 at 5400: 5275 .. 5525; ESM5 at 5440.5: 5325 .. 5575), calls and puts; whole index points;
- conId: `conIdBase + quarter * 200000 + strike * 2 + (1 for a put)`, quarter counted in cycle months from March 2000
  (ESH5: 100): deterministic, and read back from a conId;
- underConId: the future's conId; localSymbol: the future's and the right and strike, "ESH5 C5400" (IB's form);
  contract month and last trade date are the future's. Bars: sim.option_series on the future's path.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim import trading_calendar as cal
from sim.futures import FutureFamily
from sim.messages import ContractSpec

if TYPE_CHECKING:
    from sim.instruments import Instrument

FIRST_YEAR, YEARS = 2000, 100  # conIds cover the expiries of 2000 .. 2099
PER_EXPIRY = 200_000  # conIds per expiry: strikes in whole points (below 100000) times 2 rights
RIGHTS = ("C", "P")


@dataclass(frozen=True)
class FutureOptionChain:
    family: FutureFamily
    template: Instrument  # sec_type FOP; con_id, local symbol, expiry, strike, right and price are per option
    con_id_base: int
    strike_step: float
    strikes_each_side: int
    expiries: int  # unexpired futures with options
    kept_expired: int  # expired futures whose options answer with includeExpired

    @property
    def symbol(self) -> str:
        return self.family.symbol

    @property
    def con_id_range(self) -> tuple[int, int]:
        return self.con_id_base, self.con_id_base + YEARS * len(self.family.months) * PER_EXPIRY

    def strikes(self, future: Instrument) -> list[float]:
        centre = round(future.base_price / self.strike_step) * self.strike_step
        return [centre + k * self.strike_step for k in range(-self.strikes_each_side, self.strikes_each_side + 1)]

    def futures_at(self, now: float) -> list[Instrument]:
        """The futures whose options are answered at `now`, oldest first: the last `kept_expired` expired ones (to
        be asked for with includeExpired) and the first `expiries` unexpired ones."""
        with_expired = self.family.listed_at(now, include_expired=True)
        expired = with_expired[: self.family.kept_expired]
        return expired[len(expired) - self.kept_expired:] + with_expired[self.family.kept_expired:][: self.expiries]

    def _quarter(self, future: Instrument) -> int:
        year, month = int(future.contract_month[:4]), int(future.contract_month[4:])
        return (year - FIRST_YEAR) * len(self.family.months) + self.family.months.index(month)

    def contract(self, future: Instrument, strike: float, right: str) -> Instrument:
        t, s = self.template, future.base_price
        intrinsic = max(s - strike, 0.0) if right == "C" else max(strike - s, 0.0)
        return dataclasses.replace(
            t, con_id=self.con_id_base + self._quarter(future) * PER_EXPIRY + round(strike) * 2 + (right == "P"),
            local_symbol=f"{future.local_symbol} {right}{round(strike)}", last_trade_date=future.last_trade_date,
            contract_month=future.contract_month, strike=strike, right=right, first_date=future.first_date,
            base_price=round(intrinsic + s * 0.03, 2), under_con_id=future.con_id,
        )  # fmt: skip

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The option a conId names, if it is one of this chain's by rule (whatever the date)."""
        low, high = self.con_id_range
        if not low <= con_id < high:
            return None
        quarter, rest = divmod(con_id - self.con_id_base, PER_EXPIRY)
        points, put = divmod(rest, 2)
        year, cycle = divmod(quarter, len(self.family.months))
        future = self.family.contract(FIRST_YEAR + year, self.family.months[cycle])
        if float(points) not in self.strikes(future):
            return None
        return self.contract(future, float(points), RIGHTS[put])

    def answers(self, option: Instrument, now: float | None, include_expired: bool) -> bool:
        """Whether TWS answers for `option` at `now`: its future's options are on the chain then, and not expired
        unless `include_expired`; without a clock, any option by rule."""
        if now is None:
            return True
        expiry = option.last_date
        assert expiry is not None
        listed = {f.last_date for f in self.futures_at(now)}
        return expiry in listed and (include_expired or expiry >= cal.local_date(now))

    def matches(self, spec: ContractSpec, now: float | None) -> list[Instrument]:
        """The candidates of a request without conId (each still to be checked field by field): options on futures
        are asked for as FOP, or by their local symbol ("ESH5 C5400")."""
        if not (spec.sec_type.upper() == "FOP" or (not spec.sec_type and spec.local_symbol)):
            return []
        if spec.symbol and spec.symbol.upper() != self.symbol.upper():
            return []
        clock = time.time() if now is None else now
        futures = self.futures_at(clock)
        future_code = spec.local_symbol.strip().split(" ")[0]
        named = self.family.named(spec.last_trade_date, future_code, now)
        if named is not None:
            futures = named if now is None else [f for f in futures if f in named]
        today = cal.local_date(clock)
        out = [self.contract(f, k, r) for f in futures for k in self.strikes(f) for r in RIGHTS]
        return [o for o in out if spec.include_expired or now is None or (o.last_date or today) >= today]


def future_chain_from_entry(entry: Any, index: int, parse: Callable[[Any, int], Instrument],
                            families: dict[str, FutureFamily]) -> FutureOptionChain:
    """A FutureOptionChain from its JSON entry: its future family's symbol, the fields every option shares (read by
    `parse`, as an instrument's) and the rule fields; ValueError naming the entry when one is missing or out of
    range."""
    try:
        if not isinstance(entry, dict):
            raise ValueError("not an object")
        family = families[str(entry["underSymbol"]).upper()]
        t = family.template
        template = parse({"symbol": t.symbol, "localSymbol": t.symbol, "basePrice": 1.0, "currency": t.currency,
                          "firstDate": f"{family.continuous_first_date:%Y%m%d}", "conId": entry.get("conIdBase", 0),
                          **entry}, index)
        return _chain(entry, dataclasses.replace(template, under_symbol=t.symbol, under_sec_type=t.sec_type), family)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"future option chain #{index}: {type(exc).__name__}: {exc}") from exc


def _chain(entry: dict[str, Any], template: Instrument, family: FutureFamily) -> FutureOptionChain:
    chain = FutureOptionChain(
        family=family, template=template, con_id_base=int(entry["conIdBase"]), strike_step=float(entry["strikeStep"]),
        strikes_each_side=int(entry["strikesEachSide"]), expiries=int(entry.get("expiries", 2)),
        kept_expired=int(entry.get("keptExpired", 1)),
    )  # fmt: skip
    if template.sec_type != "FOP":
        raise ValueError("secType must be FOP")
    if chain.strike_step <= 0 or chain.strike_step != round(chain.strike_step) or chain.strikes_each_side < 0:
        raise ValueError("strikeStep must be a positive whole number of points and strikesEachSide >= 0")
    if not 1 <= chain.expiries <= family.listed or not 0 <= chain.kept_expired <= family.kept_expired:
        raise ValueError(f"expiries must be 1..{family.listed} and keptExpired 0..{family.kept_expired} "
                         "(the future's listing)")
    if chain.con_id_base <= 0 or chain.con_id_range[1] >= 2**31:
        raise ValueError("conIdBase leaves no room below 2**31")
    return chain
