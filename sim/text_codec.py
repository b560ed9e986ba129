"""The TWS text protocol: NUL-terminated fields, laid out per server version exactly as the official clients read them.

Requests are parsed strictly (every field the client sends at that version, nothing more), replies are built field by
field from `ibapi`'s decoder (`processContractDataMsg`, `processHistoricalDataMsg`, ...) for the negotiated version.
Framing (length prefix, message id as text or as 4 raw bytes from 201) lives in `sim.codec`, fields and numbers in
`sim.text_fields`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

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
from sim.text_fields import (
    V_FRACTIONAL_SIZE,
    Field,
    FieldReader,
    encode_fields,
    escape_ascii7,
    fmt_float,
    fmt_volume,
    plain_number,
    split_fields,
)

# Server versions (ibapi/server_versions.py) at which a text layout used here changes.
V_MD_SIZE_MULTIPLIER = 110  # contractData: mdSizeMultiplier after minTick (10.x drops it again at 164)
V_AGG_GROUP = 121
V_UNDERLYING_INFO = 122
V_SYNT_REALTIME_BARS = 124  # reqHistoricalData/historicalData lose their version field; keepUpToDate appears
V_MARKET_RULES = 126
V_REAL_EXPIRATION_DATE = 134
V_STOCK_TYPE = 152
V_ENCODE_MSG_ASCII7 = 153  # the client unicode-escape-decodes some strings (error text, longName, ...)
# V_FRACTIONAL_SIZE = 163 (sim.text_fields): sizes as Decimal text; contractData: sizeMinTick (one version only)
V_SIZE_RULES = 164  # contractData: no version field; minSize, sizeIncrement, suggestedSizeIncrement
V_ADVANCED_ORDER_REJECT = 166  # error: advancedOrderRejectJson
V_BOND_ISSUERID = 176  # reqContractDetails: issuerId
V_FUND_DATA_FIELDS = 179  # contractData: 17 fund fields when secType is FUND
V_LAST_TRADE_DATE = 182  # contractData: lastTradeDate after lastTradeDateOrContractMonth
V_INELIGIBILITY_REASONS = 186  # contractData: ineligibility reason list
V_ERROR_TIME = 194  # error: no version field, errorTime at the end
V_HISTORICAL_DATA_END = 196  # historicalData loses start/end; historicalDataEnd (108) carries them

# Incoming and outgoing message ids (ibapi/message.py).
OUT_REQ_IDS = 8
OUT_REQ_CONTRACT_DATA = 9
OUT_REQ_HISTORICAL_DATA = 20
OUT_CANCEL_HISTORICAL_DATA = 25
OUT_REQ_CURRENT_TIME = 49
OUT_REQ_MARKET_DATA_TYPE = 59
OUT_START_API = 71
OUT_REQ_HEAD_TIMESTAMP = 87
OUT_CANCEL_HEAD_TIMESTAMP = 90
IN_ERR_MSG = 4
IN_NEXT_VALID_ID = 9
IN_CONTRACT_DATA = 10
IN_MANAGED_ACCTS = 15
IN_HISTORICAL_DATA = 17
IN_CURRENT_TIME = 49
IN_CONTRACT_DATA_END = 52
IN_HEAD_TIMESTAMP = 88
IN_HISTORICAL_DATA_UPDATE = 90
IN_HISTORICAL_DATA_END = 108

def _contract(r: FieldReader, *, trading_class: bool = True) -> ContractSpec:
    """conId .. includeExpired, the block reqContractDetails, reqHistoricalData and reqHeadTimeStamp share."""
    con_id, symbol, sec_type, ltd = r.integer(), r.text(), r.text(), r.text()
    strike, right, multiplier = r.number(), r.text(), r.text()
    exchange, primary, currency, local_symbol = r.text(), r.text(), r.text(), r.text()
    tclass = r.text() if trading_class else ""
    return ContractSpec(con_id=con_id, symbol=symbol, sec_type=sec_type, last_trade_date=ltd, strike=strike,
                        right=right, multiplier=multiplier, exchange=exchange, primary_exchange=primary,
                        currency=currency, local_symbol=local_symbol, trading_class=tclass,
                        include_expired=r.flag())


def parse_chart_options(text: str) -> tuple[tuple[str, str], ...]:
    """The client joins TagValue's str(), "tag=value;", into one field."""
    pairs = []
    for item in text.split(";"):
        if item:
            tag, _, value = item.partition("=")
            pairs.append((tag, value))
    return tuple(pairs)


def _historical_data(r: FieldReader, version: int) -> RequestHistoricalData:
    if version < V_SYNT_REALTIME_BARS:
        r.integer()  # message version 6
    req_id = r.integer()
    contract = _contract(r)
    end, bar_size, duration = r.text(), r.text(), r.text()
    use_rth, what, fmt = r.flag(), r.text(), r.integer()
    if contract.sec_type == "BAG":
        count = r.integer()
        if not 0 <= count <= 100:
            raise MalformedMessage(f"reqHistoricalData: implausible combo leg count {count}")
        legs = tuple(ComboLegSpec(con_id=r.integer(), ratio=r.integer(), action=r.text(), exchange=r.text())
                     for _ in range(count))
        contract = replace(contract, combo_legs=legs)
    keep_up = r.flag() if version >= V_SYNT_REALTIME_BARS else False
    chart_options = parse_chart_options(r.text())
    query = HistoryQuery(end_datetime=end, bar_size=bar_size, duration=duration, use_rth=use_rth, what_to_show=what,
                         format_date=fmt, keep_up_to_date=keep_up)
    return RequestHistoricalData(req_id=req_id, contract=contract, query=query, chart_options=chart_options)


def _contract_details(r: FieldReader, version: int) -> RequestContractDetails:
    r.integer()  # message version 8
    req_id = r.integer()
    contract = _contract(r)
    sec_id_type, sec_id = r.text(), r.text()
    issuer_id = r.text() if version >= V_BOND_ISSUERID else ""
    spec = replace(contract, sec_id_type=sec_id_type, sec_id=sec_id, issuer_id=issuer_id)
    return RequestContractDetails(req_id=req_id, contract=spec)


def _head_timestamp(r: FieldReader) -> RequestHeadTimestamp:
    req_id = r.integer()
    contract = _contract(r)
    use_rth, what, fmt = r.flag(), r.text(), r.integer()
    return RequestHeadTimestamp(req_id=req_id, contract=contract, use_rth=use_rth, what_to_show=what, format_date=fmt)


def decode(msg_id: int, fields: Sequence[str], version: int) -> Request:
    """A text request (fields after the message id) as the client lays it out at `version`."""
    r = FieldReader(msg_id, fields)
    request: Request
    if msg_id == OUT_START_API:
        r.integer()  # message version 2
        request = StartApi(client_id=r.integer(), optional_capabilities=r.text())
    elif msg_id == OUT_REQ_IDS:
        r.integer()
        request = RequestIds(num_ids=r.integer())
    elif msg_id == OUT_REQ_CURRENT_TIME:
        r.integer()
        request = RequestCurrentTime()
    elif msg_id == OUT_REQ_MARKET_DATA_TYPE:
        r.integer()
        request = RequestMarketDataType(market_data_type=r.integer())
    elif msg_id == OUT_REQ_CONTRACT_DATA:
        request = _contract_details(r, version)
    elif msg_id == OUT_REQ_HISTORICAL_DATA:
        request = _historical_data(r, version)
    elif msg_id == OUT_CANCEL_HISTORICAL_DATA:
        r.integer()
        request = CancelHistoricalData(req_id=r.integer())
    elif msg_id == OUT_REQ_HEAD_TIMESTAMP:
        request = _head_timestamp(r)
    elif msg_id == OUT_CANCEL_HEAD_TIMESTAMP:
        request = CancelHeadTimestamp(req_id=r.integer())
    else:
        other = account_codec.decode_text(msg_id, r, version) or symbol_codec.decode_text(msg_id, r)
        if other is None:  # neither positions, orders, executions, account nor reqMatchingSymbols
            return UnknownMessage(msg_id, tuple(fields))
        request = other
    r.finish()
    return request


# ---- replies: lists of fields after the message id -------------------------------------------------------------


def error(req_id: int, code: int, message: str, error_time_ms: int, advanced_json: str, version: int) -> list[Field]:
    if version >= V_ENCODE_MSG_ASCII7:
        message = escape_ascii7(message)
    if version >= V_ERROR_TIME:
        return [req_id, code, message, advanced_json, error_time_ms]
    fields: list[Field] = [2, req_id, code, message]  # 2: message version
    if version >= V_ADVANCED_ORDER_REJECT:
        fields.append(advanced_json)
    return fields


def managed_accounts(accounts: str, version: int) -> list[Field]:
    return [1, escape_ascii7(accounts) if version >= V_ENCODE_MSG_ASCII7 else accounts]


def contract_data(req_id: int, d: ContractDetailsInfo, version: int) -> list[Field]:
    """processContractDataMsg, field for field (message version 8)."""
    fields: list[Field] = []
    if version < V_SIZE_RULES:
        fields.append(8)
    fields += [req_id, d.symbol, d.sec_type, d.last_trade_date]
    if version >= V_LAST_TRADE_DATE:
        fields.append(d.last_trade_date)
    strike = fmt_float(d.strike) if d.strike else "0"
    fields += [strike, d.right, d.exchange, d.currency, d.local_symbol, d.market_name, d.trading_class, d.con_id,
               fmt_float(d.min_tick)]
    if V_MD_SIZE_MULTIPLIER <= version < V_SIZE_RULES:
        fields.append(d.md_size_multiplier)
    long_name = escape_ascii7(d.long_name) if version >= V_ENCODE_MSG_ASCII7 else d.long_name
    fields += [d.multiplier, d.order_types, d.valid_exchanges, d.price_magnifier, d.under_con_id, long_name,
               d.primary_exchange, d.contract_month, d.industry, d.category, d.subcategory, d.time_zone_id,
               d.trading_hours, d.liquid_hours, "", 0, len(d.sec_id_list)]  # "", 0: evRule, evMultiplier
    for tag, value in d.sec_id_list:
        fields += [tag, value]
    if version >= V_AGG_GROUP:
        fields.append(d.agg_group)
    if version >= V_UNDERLYING_INFO:
        fields += [d.under_symbol, d.under_sec_type]
    if version >= V_MARKET_RULES:
        fields.append(d.market_rule_ids)
    if version >= V_REAL_EXPIRATION_DATE:
        fields.append(d.last_trade_date)  # realExpirationDate
    if version >= V_STOCK_TYPE:
        fields.append(d.stock_type)
    if version == V_FRACTIONAL_SIZE:
        fields.append(d.size_increment)  # sizeMinTick
    if version >= V_SIZE_RULES:
        fields += [d.min_size, d.size_increment, d.suggested_size_increment]  # Decimal text
    if version >= V_FUND_DATA_FIELDS and d.sec_type == "FUND":
        fields += [""] * 7 + [0, 0, 0] + [""] * 7  # fund name .. load interval, 3 closed flags, amounts .. asset type
    if version >= V_INELIGIBILITY_REASONS:
        fields.append(0)
    return fields


def bar_fields(bar: Bar, version: int) -> list[Field]:
    """One bar of historicalData: date, open, high, low, close, volume, wap, [hasGaps before 124], barCount."""
    fields: list[Field] = [bar.date, fmt_float(bar.open), fmt_float(bar.high), fmt_float(bar.low),
                           fmt_float(bar.close), fmt_volume(bar.volume, version), fmt_float(bar.wap)]
    if version < V_SYNT_REALTIME_BARS:
        fields.append("false")  # hasGaps, read and ignored
    fields.append(bar.count)
    return fields


def historical_data(req_id: int, bars: Sequence[Bar], start: str, end: str, version: int) -> list[Field]:
    fields: list[Field] = [3] if version < V_SYNT_REALTIME_BARS else []  # 3: message version
    fields.append(req_id)
    if version < V_HISTORICAL_DATA_END:
        fields += [start, end]  # the client then calls historicalDataEnd itself
    fields.append(len(bars))
    for bar in bars:
        fields += bar_fields(bar, version)
    return fields


def historical_data_update(req_id: int, bar: Bar, version: int) -> list[Field]:
    # Close comes before high and low here, and wap before volume: not the historicalData order.
    return [req_id, bar.count, bar.date, fmt_float(bar.open), fmt_float(bar.close), fmt_float(bar.high),
            fmt_float(bar.low), fmt_float(bar.wap), fmt_volume(bar.volume, version)]


__all__ = ["encode_fields", "escape_ascii7", "fmt_float", "fmt_volume", "plain_number", "split_fields"]
