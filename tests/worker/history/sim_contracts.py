"""ResolvedContracts built from the simulator's own contract details, as the resolver would build them."""

from __future__ import annotations

from datetime import datetime

from sim import trading_calendar as cal
from sim.instruments import Instrument, Universe
from worker.contracts.resolver import ResolvedContract
from worker.history.calendar import SessionCalendar

UNIVERSE = Universe.load()
# the moment the contract details were looked up (their hours cover a week from it): mid-January 2025
LOOKUP = datetime(2025, 1, 22, 12, 0, tzinfo=cal.NEW_YORK).timestamp()


def instrument(symbol: str, sec_type: str = "") -> Instrument:
    return next(i for i in UNIVERSE.instruments if i.symbol == symbol and (not sec_type or i.sec_type == sec_type))


def resolved(inst: Instrument, lookup: float = LOOKUP) -> ResolvedContract:
    d = inst.details(lookup)
    return ResolvedContract(d.con_id, d.symbol, d.sec_type, d.exchange, d.primary_exchange, d.currency,
                            d.local_symbol, d.last_trade_date, d.time_zone_id, d.trading_hours, d.liquid_hours)


def calendar(symbol: str, use_rth: bool, lookup: float = LOOKUP) -> SessionCalendar:
    return SessionCalendar.for_contract(resolved(instrument(symbol), lookup), use_rth)
