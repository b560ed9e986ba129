"""The simulator's instrument universe: loading sim/data/instruments.json and matching client contracts to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sim import trading_calendar as cal
from sim.messages import ContractDetailsInfo, ContractSpec, SimError

DEFAULT_PATH = Path(__file__).parent / "data" / "instruments.json"
WHAT_TO_SHOW = ("TRADES", "AGGTRADES", "MIDPOINT", "BID", "ASK")  # AGGTRADES: crypto's trade series
SEC_TYPES = ("STK", "CASH", "IND", "FUT", "CRYPTO")
DEFAULT_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,GAT,GTC,GTD,GTT,HID,LIT,LMT,MIT,MKT,"
    "MTL,NGCOMB,NONALGO,OCA,PEGBENCH,REL,SCALE,SNAPMID,STP,STPLMT,TRAIL,WHATIF"
)
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
    industry: str = ""
    stock_type: str = ""
    valid_exchanges: str = "SMART"
    order_types: str = DEFAULT_ORDER_TYPES
    # Size rules of contract details (Decimal text). A size increment below 1 makes volumes fractional: bars then
    # carry volumes in multiples of it (crypto), as Decimals.
    min_size: str = "1"
    size_increment: str = "1"
    suggested_size_increment: str = "1"

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


def _eq(a: str, b: str) -> bool:
    return a.upper() == b.upper()


class Universe:
    """All instruments, with TWS's contract matching rules."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self.instruments = list(instruments)
        self._by_con_id = {i.con_id: i for i in self.instruments}

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
        return cls(instruments)

    def by_con_id(self, con_id: int) -> Instrument | None:
        return self._by_con_id.get(con_id)

    def match(self, spec: ContractSpec) -> list[Instrument]:
        """Every instrument the contract describes. A non-zero conId wins (the other fields must not contradict
        it, as in TWS); otherwise each given field narrows the match."""
        if spec.con_id:
            inst = self._by_con_id.get(spec.con_id)
            if inst is None:
                return []
            # TWS checks given fields against the conId's contract; exchange may be any routing (SMART...).
            checks = (spec.symbol, inst.symbol), (spec.sec_type, inst.sec_type), (spec.currency, inst.currency)
            return [inst] if all(not given or _eq(given, real) for given, real in checks) else []
        return [i for i in self.instruments if self._fits(i, spec)]

    @staticmethod
    def _fits(inst: Instrument, spec: ContractSpec) -> bool:
        if not spec.symbol and not spec.local_symbol:
            return False  # TWS needs at least a symbol or a local symbol
        if spec.symbol and not _eq(spec.symbol, inst.symbol):
            return False
        if spec.sec_type and not _eq(spec.sec_type, inst.sec_type):
            return False
        if spec.exchange and not _eq(spec.exchange, inst.exchange):
            # SMART routes any stock; naming the primary exchange as exchange also finds a stock.
            if not (inst.sec_type == "STK" and _eq(spec.exchange, inst.primary_exchange)):
                return False
        if spec.primary_exchange and not _eq(spec.primary_exchange, inst.primary_exchange):
            return False
        if spec.currency and not _eq(spec.currency, inst.currency):
            return False
        if spec.local_symbol and not _eq(spec.local_symbol, inst.local_symbol):
            return False
        if spec.trading_class and not _eq(spec.trading_class, inst.trading_class):
            return False
        if spec.multiplier and inst.multiplier and spec.multiplier.strip() != inst.multiplier:
            try:
                if float(spec.multiplier) != float(inst.multiplier):
                    return False
            except ValueError:
                return False
        ltd = spec.last_trade_date.strip()
        if ltd:  # yyyymm matches the contract month, yyyymmdd the last trade date
            if len(ltd) == 6 and ltd not in (inst.contract_month, inst.last_trade_date[:6]):
                return False
            if len(ltd) != 6 and ltd != inst.last_trade_date:
                return False
        return True

    def resolve_one(self, spec: ContractSpec) -> Instrument:
        """The single instrument a history/head-timestamp request needs; SimError 200 when none or several."""
        found = self.match(spec)
        if not found:
            raise SimError(200, NO_DEFINITION)
        if len(found) > 1:
            raise SimError(200, f"The contract description specified for {spec.symbol or spec.local_symbol} is "
                                "ambiguous.")  # fmt: skip
        return found[0]
