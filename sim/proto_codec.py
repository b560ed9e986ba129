"""The protobuf bodies TWS exchanges with 10.x clients from server version 201 (ids above 200 = protobuf for id - 200).

Uses only the generated modules that ship with the 10.x client (`ibapi/protobuf/*_pb2.py`) and `google.protobuf`;
when they do not import (9.81 environment) `AVAILABLE` is False and the simulator stays on the text protocol.
Field choices mirror the client's own `createXxxProto` / `decodeXxx` helpers: unset values are left out.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from sim import account_codec, symbol_codec
from sim.messages import (
    Bar,
    CancelHeadTimestamp,
    CancelHistoricalData,
    ComboLegSpec,
    ContractDetailsInfo,
    ContractSpec,
    HistoryQuery,
    MalformedMessage,
    Request,
    RequestContractDetails,
    RequestCurrentTime,
    RequestHeadTimestamp,
    RequestHistoricalData,
    RequestIds,
    RequestMarketDataType,
    StartApi,
    UnknownMessage,
)
from sim.text_fields import decimal_text, fmt_float, plain_number

_MODULES = (
    "StartApiRequest", "IdsRequest", "CurrentTimeRequest", "MarketDataTypeRequest", "ContractDataRequest",
    "HistoricalDataRequest", "CancelHistoricalData", "HeadTimestampRequest", "CancelHeadTimestamp",
    "ErrorMessage", "ManagedAccounts", "NextValidId", "CurrentTime", "ContractData", "ContractDataEnd",
    "HistoricalData", "HistoricalDataEnd", "HistoricalDataUpdate", "HeadTimestamp",
)


def _load() -> dict[str, Any]:
    classes: dict[str, Any] = {}
    for name in _MODULES:
        module: ModuleType = importlib.import_module(f"ibapi.protobuf.{name}_pb2")
        classes[name] = getattr(module, name)
    return classes


try:
    _PB: dict[str, Any] = _load()
    AVAILABLE = True
except Exception:  # ImportError, or a protobuf runtime too old for the generated code
    _PB = {}
    AVAILABLE = False


# ---- requests -----------------------------------------------------------------------------------------------------


def _parse(name: str, body: bytes) -> Any:
    message = _PB[name]()
    try:
        message.ParseFromString(body)
    except Exception as exc:  # DecodeError, and anything else the runtime raises on garbage
        raise MalformedMessage(f"{name}: undecodable protobuf ({exc})") from None
    return message


def _required(message: Any, field: str) -> Any:
    if not message.HasField(field):
        raise MalformedMessage(f"{type(message).__name__}: no {field}")
    return getattr(message, field)


def _contract(message: Any) -> ContractSpec:
    if not message.HasField("contract"):
        raise MalformedMessage(f"{type(message).__name__}: no contract")
    c = message.contract
    legs = tuple(ComboLegSpec(con_id=leg.conId, ratio=leg.ratio, action=leg.action, exchange=leg.exchange)
                 for leg in c.comboLegs)
    # The client sends multiplier as a double; the text protocol (and ContractSpec) carries it as typed, e.g. "100".
    multiplier = plain_number(c.multiplier) if c.HasField("multiplier") else ""
    return ContractSpec(con_id=c.conId, symbol=c.symbol, sec_type=c.secType,
                        last_trade_date=c.lastTradeDateOrContractMonth, strike=c.strike, right=c.right,
                        multiplier=multiplier, exchange=c.exchange, primary_exchange=c.primaryExch,
                        currency=c.currency, local_symbol=c.localSymbol, trading_class=c.tradingClass,
                        include_expired=c.includeExpired, sec_id_type=c.secIdType, sec_id=c.secId,
                        issuer_id=c.issuerId, combo_legs=legs)


def decode(msg_id: int, body: bytes) -> Request:
    """A protobuf request body; `msg_id` is the logical id (wire id - 200)."""
    if not AVAILABLE:
        return UnknownMessage(msg_id + 200)
    if msg_id == 71:
        m = _parse("StartApiRequest", body)
        return StartApi(client_id=_required(m, "clientId"), optional_capabilities=m.optionalCapabilities)
    if msg_id == 8:
        m = _parse("IdsRequest", body)
        return RequestIds(num_ids=m.numIds)
    if msg_id == 49:
        _parse("CurrentTimeRequest", body)
        return RequestCurrentTime()
    if msg_id == 59:
        m = _parse("MarketDataTypeRequest", body)
        return RequestMarketDataType(market_data_type=_required(m, "marketDataType"))
    if msg_id == 9:
        m = _parse("ContractDataRequest", body)
        return RequestContractDetails(req_id=_required(m, "reqId"), contract=_contract(m))
    if msg_id == 20:
        m = _parse("HistoricalDataRequest", body)
        # formatDate is only absent when the caller passed UNSET_INTEGER; TWS then formats as 1 does.
        query = HistoryQuery(end_datetime=m.endDateTime, bar_size=m.barSizeSetting, duration=m.duration,
                             use_rth=m.useRTH, what_to_show=m.whatToShow,
                             format_date=m.formatDate if m.HasField("formatDate") else 1,
                             keep_up_to_date=m.keepUpToDate)
        return RequestHistoricalData(req_id=_required(m, "reqId"), contract=_contract(m), query=query,
                                     chart_options=tuple(sorted(m.chartOptions.items())))
    if msg_id == 25:
        return CancelHistoricalData(req_id=_required(_parse("CancelHistoricalData", body), "reqId"))
    if msg_id == 87:
        m = _parse("HeadTimestampRequest", body)
        return RequestHeadTimestamp(req_id=_required(m, "reqId"), contract=_contract(m), use_rth=m.useRTH,
                                    what_to_show=m.whatToShow,
                                    format_date=m.formatDate if m.HasField("formatDate") else 1)
    if msg_id == 90:
        return CancelHeadTimestamp(req_id=_required(_parse("CancelHeadTimestamp", body), "reqId"))
    other = account_codec.decode_proto(msg_id, body) or symbol_codec.decode_proto(msg_id, body)
    return UnknownMessage(msg_id + 200) if other is None else other  # positions, ..., reqMatchingSymbols


# ---- replies: serialized bodies -------------------------------------------------------------------------------


def error(req_id: int, code: int, message: str, error_time_ms: int, advanced_json: str) -> bytes:
    m = _PB["ErrorMessage"](id=req_id, errorCode=code, errorMsg=message, errorTime=error_time_ms)
    if advanced_json:
        m.advancedOrderRejectJson = advanced_json
    return bytes(m.SerializeToString())


def managed_accounts(accounts: str) -> bytes:
    return bytes(_PB["ManagedAccounts"](accountsList=accounts).SerializeToString())


def next_valid_id(order_id: int) -> bytes:
    return bytes(_PB["NextValidId"](orderId=order_id).SerializeToString())


def current_time(epoch_seconds: int) -> bytes:
    return bytes(_PB["CurrentTime"](currentTime=epoch_seconds).SerializeToString())


def contract_data(req_id: int, d: ContractDetailsInfo) -> bytes:
    m = _PB["ContractData"](reqId=req_id)
    c = m.contract
    c.conId, c.symbol, c.secType, c.strike = d.con_id, d.symbol, d.sec_type, d.strike
    for attr, value in (("exchange", d.exchange), ("primaryExch", d.primary_exchange), ("currency", d.currency),
                        ("localSymbol", d.local_symbol), ("tradingClass", d.trading_class), ("right", d.right),
                        ("lastTradeDateOrContractMonth", d.last_trade_date), ("lastTradeDate", d.last_trade_date)):
        if value:
            setattr(c, attr, value)
    if d.multiplier:
        c.multiplier = float(d.multiplier)
    cd = m.contractDetails
    cd.marketName, cd.minTick, cd.orderTypes = d.market_name, fmt_float(d.min_tick), d.order_types
    cd.validExchanges, cd.priceMagnifier, cd.longName = d.valid_exchanges, d.price_magnifier, d.long_name
    cd.timeZoneId, cd.aggGroup, cd.marketRuleIds = d.time_zone_id, d.agg_group, d.market_rule_ids
    cd.minSize, cd.sizeIncrement, cd.suggestedSizeIncrement = d.min_size, d.size_increment, d.suggested_size_increment
    for attr, value in (("contractMonth", d.contract_month), ("industry", d.industry), ("category", d.category),
                        ("subcategory", d.subcategory), ("tradingHours", d.trading_hours),
                        ("liquidHours", d.liquid_hours), ("stockType", d.stock_type),
                        ("realExpirationDate", d.last_trade_date), ("underSymbol", d.under_symbol),
                        ("underSecType", d.under_sec_type)):
        if value:
            setattr(cd, attr, value)
    if d.under_con_id:
        cd.underConId = d.under_con_id
    for tag, value in d.sec_id_list:
        cd.secIdList[tag] = value
    return bytes(m.SerializeToString())


def contract_data_end(req_id: int) -> bytes:
    return bytes(_PB["ContractDataEnd"](reqId=req_id).SerializeToString())


def _bar(target: Any, bar: Bar) -> None:
    target.date, target.barCount = bar.date, bar.count
    target.open, target.high, target.low, target.close = bar.open, bar.high, bar.low, bar.close
    # Decimal text, exact: every protobuf version is past MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT (163)
    target.volume, target.WAP = decimal_text(bar.volume), fmt_float(bar.wap)


def historical_data(req_id: int, bars: Sequence[Bar]) -> bytes:
    m = _PB["HistoricalData"](reqId=req_id)
    for bar in bars:
        _bar(m.historicalDataBars.add(), bar)
    return bytes(m.SerializeToString())


def historical_data_end(req_id: int, start: str, end: str) -> bytes:
    return bytes(_PB["HistoricalDataEnd"](reqId=req_id, startDateStr=start, endDateStr=end).SerializeToString())


def historical_data_update(req_id: int, bar: Bar) -> bytes:
    m = _PB["HistoricalDataUpdate"](reqId=req_id)
    _bar(m.historicalDataBar, bar)
    return bytes(m.SerializeToString())


def head_timestamp(req_id: int, timestamp: str) -> bytes:
    return bytes(_PB["HeadTimestamp"](reqId=req_id, headTimestamp=timestamp).SerializeToString())
