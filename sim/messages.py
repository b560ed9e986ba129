"""The simulator's vocabulary: requests decoded from a client, and the values replies are built from.

Codecs (text and protobuf) turn frames into these requests and these values into frames; the rest of the
simulator never sees bytes. Keeping one typed vocabulary lets both wire formats share every rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sim.account_messages import AccountRequest


class SimError(Exception):
    """A TWS error reply: `code` and `message` are sent to the client as TWS would send them."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class MalformedMessage(ValueError):
    """A frame that cannot be decoded; the connection logs it and carries on."""


@dataclass(frozen=True)
class ComboLegSpec:
    """One leg of a BAG (combo) contract, as reqHistoricalData sends it."""

    con_id: int
    ratio: int
    action: str
    exchange: str


@dataclass(frozen=True)
class ContractSpec:
    """The contract fields a client sends (reqContractDetails, reqHistoricalData, reqHeadTimeStamp)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False
    sec_id_type: str = ""
    sec_id: str = ""
    issuer_id: str = ""  # reqContractDetails from server version 176
    combo_legs: tuple[ComboLegSpec, ...] = ()  # BAG contracts only


# ---- requests (client -> simulator) -------------------------------------------------------------------


@dataclass(frozen=True)
class StartApi:
    client_id: int
    optional_capabilities: str = ""


@dataclass(frozen=True)
class RequestIds:
    num_ids: int


@dataclass(frozen=True)
class RequestCurrentTime:
    pass


@dataclass(frozen=True)
class RequestMarketDataType:
    market_data_type: int


@dataclass(frozen=True)
class RequestContractDetails:
    req_id: int
    contract: ContractSpec


@dataclass(frozen=True)
class HistoryQuery:
    """The parameters of a historical data request that shape its bars."""

    end_datetime: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True)
class RequestHistoricalData:
    req_id: int
    contract: ContractSpec
    query: HistoryQuery
    chart_options: tuple[tuple[str, str], ...] = ()  # (tag, value) pairs; "for internal use" per IB


@dataclass(frozen=True)
class CancelHistoricalData:
    req_id: int


@dataclass(frozen=True)
class RequestHeadTimestamp:
    req_id: int
    contract: ContractSpec
    use_rth: bool
    what_to_show: str
    format_date: int


@dataclass(frozen=True)
class CancelHeadTimestamp:
    req_id: int


@dataclass(frozen=True)
class RequestMatchingSymbols:
    req_id: int
    pattern: str


@dataclass(frozen=True)
class UnknownMessage:
    """A message the simulator does not serve: logged and ignored, as the issue asks."""

    msg_id: int
    fields: tuple[str, ...] = ()


Request = (
    StartApi
    | RequestIds
    | RequestCurrentTime
    | RequestMarketDataType
    | RequestContractDetails
    | RequestHistoricalData
    | CancelHistoricalData
    | RequestHeadTimestamp
    | CancelHeadTimestamp
    | RequestMatchingSymbols
    | AccountRequest
    | UnknownMessage
)


# ---- reply values (simulator -> client) ---------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar as TWS sends it; `date` is already formatted for the request's formatDate."""

    date: str
    open: float
    high: float
    low: float
    close: float
    # -1 for MIDPOINT, BID, ASK; a Decimal for fractional sizes (crypto); a str goes out verbatim (malformed_volume)
    volume: int | Decimal | str
    wap: float
    count: int


@dataclass(frozen=True)
class ContractDetailsInfo:
    """What contractData carries for one instrument. Fields TWS sends that we do not model get defaults."""

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
    time_zone_id: str
    last_trade_date: str = ""  # yyyymmdd for futures
    multiplier: str = ""
    contract_month: str = ""
    strike: float = 0.0  # options
    right: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    trading_hours: str = ""
    liquid_hours: str = ""
    order_types: str = "LMT,MKT,STP"
    valid_exchanges: str = "SMART"
    price_magnifier: int = 1
    md_size_multiplier: int = 1
    agg_group: int = 1
    market_rule_ids: str = "26"
    stock_type: str = ""
    sec_id_list: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    min_size: str = "1"  # Decimal text, from server version 164 (sizeIncrement alone as sizeMinTick at 163)
    size_increment: str = "1"
    suggested_size_increment: str = "1"


@dataclass(frozen=True)
class SymbolDescription:
    """One ContractDescription of symbolSamples: the contract's identity and the derivative kinds it has."""

    con_id: int
    symbol: str
    sec_type: str
    primary_exchange: str
    currency: str
    derivative_sec_types: tuple[str, ...] = ()
    description: str = ""  # the long name, from server version 176
