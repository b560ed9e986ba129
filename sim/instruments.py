"""The simulator's instrument universe: loading sim/data/instruments.json and matching client contracts to it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sim import trading_calendar as cal
from sim.contract_match import fits, same
from sim.future_options import FutureOptionChain, future_chain_from_entry
from sim.futures import CON_ID_SPAN, FutureFamily, family_from_entry
from sim.messages import ContractDetailsInfo, ContractSpec, SimError
from sim.option_chain import OptionChain, chain_from_entry

DEFAULT_PATH = Path(__file__).parent / "data" / "instruments.json"
WHAT_TO_SHOW = ("TRADES", "AGGTRADES", "MIDPOINT", "BID", "ASK")  # AGGTRADES: crypto's trade series
SEC_TYPES = ("STK", "CASH", "IND", "FUT", "CONTFUT", "OPT", "FOP", "CRYPTO")
DEFAULT_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,GAT,GTC,GTD,GTT,HID,LIT,LMT,MIT,MKT,"
    "MTL,NGCOMB,NONALGO,OCA,PEGBENCH,REL,SCALE,SNAPMID,STP,STPLMT,TRAIL,WHATIF"
)
# derivativeSecTypes of symbolSamples when an entry does not name them (what TWS answers for US listings of each kind)
DERIVATIVES: dict[str, tuple[str, ...]] = {
    "STK": ("CFD", "OPT", "IOPT", "WAR", "BAG"), "IND": ("OPT", "FUT", "IOPT", "WAR"), "CASH": ("CFD",),
}  # fmt: skip
NO_DEFINITION = "No security definition has been found for the request"


@dataclass(frozen=True)
class Instrument:
    """One tradable thing the simulator knows, with everything history and contract details need."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    market_name: str
    long_name: str
    min_tick: float
    base_price: float
    first_date: date
    subscribed: bool
    calendar: cal.CalendarKind
    what_to_show: tuple[str, ...]
    daily_volume: int
    daily_volatility: float
    time_zone: str = "America/New_York"  # zone of bar dates and of endDateTime without zone
    hours_time_zone: str = "US/Eastern"  # timeZoneId of contract details, and the zone of its hours strings
    last_trade_date: str = ""  # yyyymmdd (futures)
    contract_month: str = ""
    multiplier: str = ""
    strike: float = 0.0  # options
    right: str = ""  # options: C or P
    under_con_id: int = 0  # options: the underlying's conId, symbol and secType
    under_symbol: str = ""
    under_sec_type: str = ""
    industry: str = ""
    stock_type: str = ""
    valid_exchanges: str = "SMART"
    order_types: str = DEFAULT_ORDER_TYPES
    # Size rules of contract details (Decimal text). A size increment below 1 makes volumes fractional: bars then
    # carry volumes in multiples of it (crypto), as Decimals.
    min_size: str = "1"
    size_increment: str = "1"
    suggested_size_increment: str = "1"
    derivative_sec_types: tuple[str, ...] = ()  # reqMatchingSymbols' derivativeSecTypes

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def volume_step(self) -> Decimal | None:
        """The size increment when volumes are fractional (crypto), None for whole shares and contracts."""
        step = Decimal(self.size_increment)
        return step if step < 1 else None

    @property
    def last_date(self) -> date | None:
        """The last day with data (futures stop at their last trade date)."""
        return datetime.strptime(self.last_trade_date, "%Y%m%d").date() if self.last_trade_date else None

    def details(self, now: float | None = None) -> ContractDetailsInfo:
        """contractData for this instrument; the hours strings cover a week from `now` (empty without `now`)."""
        trading = liquid = ""
        if now is not None:
            trading = self._hours(now, use_rth=False)
            liquid = self._hours(now, use_rth=True)
        return ContractDetailsInfo(
            con_id=self.con_id, symbol=self.symbol, sec_type=self.sec_type, exchange=self.exchange,
            primary_exchange=self.primary_exchange, currency=self.currency, local_symbol=self.local_symbol,
            trading_class=self.trading_class, market_name=self.market_name, long_name=self.long_name,
            min_tick=self.min_tick, time_zone_id=self.hours_time_zone, last_trade_date=self.last_trade_date,
            multiplier=self.multiplier, contract_month=self.contract_month, industry=self.industry,
            strike=self.strike, right=self.right, under_con_id=self.under_con_id, under_symbol=self.under_symbol,
            under_sec_type=self.under_sec_type,
            trading_hours=trading, liquid_hours=liquid, valid_exchanges=self.valid_exchanges,
            stock_type=self.stock_type, order_types=self.order_types, min_size=self.min_size,
            size_increment=self.size_increment, suggested_size_increment=self.suggested_size_increment,
        )  # fmt: skip

    def _hours(self, now: float, use_rth: bool) -> str:
        """TWS's hours format (since API 9.70): "20250127:0930-20250127:1600;20250201:CLOSED;..." in the
        details' zone, one entry per calendar day from today for a week."""
        zone = ZoneInfo(self.hours_time_zone)
        start = cal.local_date(now)
        parts: list[str] = []
        for i in range(7):
            day = start + timedelta(days=i)
            s = cal.session_for_day(self.calendar, use_rth, day)
            if s is None:
                parts.append(f"{day:%Y%m%d}:CLOSED")
                continue
            a, b = datetime.fromtimestamp(s.start, zone), datetime.fromtimestamp(s.end, zone)
            parts.append(f"{a:%Y%m%d:%H%M}-{b:%Y%m%d:%H%M}")
        return ";".join(parts)


def _instrument(entry: Any, index: int) -> Instrument:
    """Build one Instrument from its JSON entry; any problem raises ValueError naming the entry."""
    name = f"instrument #{index}"
    try:
        if not isinstance(entry, dict):
            raise ValueError("not an object")
        name = f"instrument #{index} ({entry.get('symbol', '?')} {entry.get('conId', '?')})"
        what = tuple(entry["whatToShow"])
        if not what or any(w not in WHAT_TO_SHOW for w in what):
            raise ValueError(f"whatToShow must be a non-empty subset of {WHAT_TO_SHOW}")
        inst = Instrument(
            con_id=int(entry["conId"]), symbol=str(entry["symbol"]), sec_type=str(entry["secType"]),
            exchange=str(entry["exchange"]), primary_exchange=str(entry.get("primaryExchange", "")),
            currency=str(entry["currency"]), local_symbol=str(entry["localSymbol"]),
            trading_class=str(entry.get("tradingClass", "")), market_name=str(entry.get("marketName", "")),
            long_name=str(entry.get("longName", "")), min_tick=float(entry["minTick"]),
            base_price=float(entry["basePrice"]),
            first_date=datetime.strptime(str(entry["firstDate"]), "%Y%m%d").date(),
            subscribed=bool(entry["subscribed"]), calendar=cal.CalendarKind(entry["calendar"]),
            what_to_show=what, daily_volume=int(entry.get("dailyVolume", 0)),
            daily_volatility=float(entry.get("dailyVolatility", 0.015)),
            time_zone=str(entry.get("timeZone", "America/New_York")),
            hours_time_zone=str(entry.get("hoursTimeZone", "US/Eastern")),
            last_trade_date=str(entry.get("lastTradeDate", "")), contract_month=str(entry.get("contractMonth", "")),
            multiplier=str(entry.get("multiplier", "")), industry=str(entry.get("industry", "")),
            stock_type=str(entry.get("stockType", "")), valid_exchanges=str(entry.get("validExchanges", "SMART")),
            order_types=str(entry.get("orderTypes", DEFAULT_ORDER_TYPES)), min_size=str(entry.get("minSize", "1")),
            size_increment=str(entry.get("sizeIncrement", "1")),
            suggested_size_increment=str(entry.get("suggestedSizeIncrement", "1")),
            derivative_sec_types=tuple(str(t) for t in entry.get("derivativeSecTypes",
                                                                 DERIVATIVES.get(str(entry["secType"]), ()))),
        )  # fmt: skip
        if inst.con_id <= 0 or not inst.symbol:
            raise ValueError("conId must be positive and symbol non-empty")
        if inst.sec_type not in SEC_TYPES:
            raise ValueError(f"secType must be one of {SEC_TYPES}")
        if inst.min_tick <= 0 or inst.base_price <= 0 or inst.daily_volatility <= 0:
            raise ValueError("minTick, basePrice and dailyVolatility must be positive")
        for size in (inst.min_size, inst.size_increment, inst.suggested_size_increment):
            if not _positive_decimal(size):
                raise ValueError(f"minSize, sizeIncrement and suggestedSizeIncrement must be positive decimals, "
                                 f"got {size!r}")
        ZoneInfo(inst.time_zone), ZoneInfo(inst.hours_time_zone)  # validates the zone names
        if inst.last_trade_date:
            inst.last_date  # noqa: B018 - validates the date
        return inst
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {type(exc).__name__}: {exc}") from exc


def _positive_decimal(text: str) -> bool:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return False
    return value.is_finite() and value > 0


class Universe:
    """All instruments, with TWS's contract matching rules: the fixed ones of the file, and the futures and option
    chains made by rule (sim.futures, sim.option_chain, sim.future_options), which depend on the clock's now."""

    def __init__(self, instruments: list[Instrument], futures: Sequence[FutureFamily] = (),
                 option_chains: Sequence[OptionChain] = (),
                 future_options: Sequence[FutureOptionChain] = ()) -> None:
        self.fixed = list(instruments)
        self._by_con_id = {i.con_id: i for i in self.fixed}
        self.futures = {f.symbol.upper(): f for f in futures}
        self.option_chains = list(option_chains)
        self.future_options = {c.symbol.upper(): c for c in future_options}
        # For code that enumerates instruments: the fixed ones, then each future's contracts as listed just before
        # its reference expiry (ES: ESH5 .. ESH6). Matching never uses this list for futures.
        self.instruments = self.fixed + [i for f in futures for i in f.reference_listing()]

    @classmethod
    def load(cls, path: Path | None = None) -> Universe:
        """Read and validate an instruments file (default: sim/data/instruments.json)."""
        p = path or DEFAULT_PATH
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON: {exc}") from exc
        entries = data.get("instruments") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{p}: expected an object with a non-empty 'instruments' list")
        instruments = [_instrument(e, n) for n, e in enumerate(entries)]
        seen: set[int] = set()
        for n, inst in enumerate(instruments):
            if inst.con_id in seen:
                raise ValueError(f"instrument #{n} ({inst.symbol} {inst.con_id}): duplicate conId")
            seen.add(inst.con_id)
        futures = [family_from_entry(e, n, _instrument) for n, e in enumerate(data.get("futures", []))]
        by_con_id = {i.con_id: i for i in instruments}
        chains = [chain_from_entry(e, n, _instrument, by_con_id) for n, e in enumerate(data.get("options", []))]
        families = {f.symbol.upper(): f for f in futures}
        fops = [future_chain_from_entry(e, n, _instrument, families) for n, e in enumerate(data.get("futureOptions",
                                                                                                     []))]
        ranges = [(f"future {f.symbol}", f.con_id_base, f.con_id_base + CON_ID_SPAN) for f in futures]
        ranges += [(f"options of {c.underlying.symbol}", *c.con_id_range) for c in chains]
        ranges += [(f"options on future {c.symbol}", *c.con_id_range) for c in fops]
        for name, low, high in ranges:
            clash = next((i for i in instruments if low <= i.con_id < high), None)
            if clash is not None:
                raise ValueError(f"{name}: conIds {low}..{high} include {clash.symbol}'s conId {clash.con_id}")
            other = next((o for o, lo, hi in ranges if o != name and lo < high and low < hi), None)
            if other is not None:
                raise ValueError(f"{name}: conIds {low}..{high} overlap those of {other}")
        return cls(instruments, futures, chains, fops)

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The instrument a conId names, whatever the date (futures and options included)."""
        found = self._by_con_id.get(con_id)
        for family in self.futures.values():
            found = found or family.by_con_id(con_id)
        for chain in self.option_chains:
            found = found or chain.by_con_id(con_id)
        for fop_chain in self.future_options.values():
            found = found or fop_chain.by_con_id(con_id)
        return found

    def future_family(self, symbol: str) -> FutureFamily:
        """KeyError when no future of that symbol exists."""
        return self.futures[symbol.upper()]

    def match(self, spec: ContractSpec, now: float | None = None) -> list[Instrument]:
        """Every instrument the contract describes at `now` (the clock's; None: the system clock for what is
        listed, and a contract named by conId, expiry or local symbol is answered whatever the date). A non-zero
        conId wins (the other fields must not contradict it, as in TWS); otherwise each given field narrows the
        match. Expired futures and options (on stocks and on futures) answer only with includeExpired."""
        if spec.con_id:
            return self._match_con_id(spec, now)
        found = [i for i in self.fixed if fits(i, spec)]
        for family in self.futures.values():
            found += [i for i in family.matches(spec, now) if fits(i, spec)]
        for chain in self.option_chains:
            found += [i for i in chain.matches(spec, now) if fits(i, spec)]
        for fop_chain in self.future_options.values():
            found += [i for i in fop_chain.matches(spec, now) if fits(i, spec)]
        return found

    def _match_con_id(self, spec: ContractSpec, now: float | None) -> list[Instrument]:
        inst = self.by_con_id(spec.con_id)
        if inst is None:
            return []
        if inst.sec_type == "FUT" and same(spec.sec_type, "CONTFUT"):
            # a continuous future is asked for by the front future's conId (what its contract details say)
            family = self.futures[inst.symbol.upper()]
            contfut = family.continuous(time.time() if now is None else now)
            inst = contfut if contfut.con_id == inst.con_id else None
        elif inst.sec_type == "FUT":
            inst = inst if self.futures[inst.symbol.upper()].answers(inst, now, spec.include_expired) else None
        elif inst.sec_type == "OPT":
            inst = inst if self._chain_of(inst).answers(inst, now, spec.include_expired) else None
        elif inst.sec_type == "FOP":
            fop_chain = self.future_options[inst.symbol.upper()]
            inst = inst if fop_chain.answers(inst, now, spec.include_expired) else None
        if inst is None:
            return []
        # TWS checks given fields against the conId's contract; exchange may be any routing (SMART...).
        checks = (spec.symbol, inst.symbol), (spec.sec_type, inst.sec_type), (spec.currency, inst.currency)
        return [inst] if all(not given or same(given, real) for given, real in checks) else []

    def _chain_of(self, option: Instrument) -> OptionChain:
        return next(c for c in self.option_chains if c.underlying.con_id == option.under_con_id)

    def resolve_one(self, spec: ContractSpec, now: float | None = None) -> Instrument:
        """The single instrument a history/head-timestamp request needs; SimError 200 when none or several."""
        found = self.match(spec, now)
        if not found:
            raise SimError(200, NO_DEFINITION)
        if len(found) > 1:
            raise SimError(200, f"The contract description specified for {spec.symbol or spec.local_symbol} is "
                                "ambiguous.")  # fmt: skip
        return found[0]
