"""Validation of the HTTP input (marshmallow) into the `BarRequest` (POST /bars), `StreamRequest` (the stream) or
`HeadRequest` (a contract's head timestamp) the worker receives.

Every string that may reach TWS is checked here (app/field_checks.py) against the same patterns `shared.bars` and
`shared.contract_fields` enforce again on the worker side, so a NUL, a comma or a control character is refused with
400 before anything is sent anywhere. Each check runs on the client's exact string; only a valid (ASCII) string is then
put in IB's case: Unicode case mapping turns other letters into ASCII ones (the long s and the dotless i upper-case to
S and I: "\\u017fpy" would become SPY). The rules between fields (an option's expiry, strike and right; ADJUSTED_LAST
without an end; keepUpToDate only for the kinds IB keeps up to date) are the worker's own checks, made here too
(`worker_checks`), with the HTTP field names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validates_schema
from marshmallow.validate import OneOf

from app import field_checks as check
from app.field_checks import (
    CODE_DOC,
    CON_ID_MESSAGE,
    RIGHTS,
    STRIKE_MESSAGE,
    TIME_PATTERN,
    QueryText,
    doc,
    json_pattern,
    string,
)
from app.streams.request import StreamRequest
from shared.bars import (
    BAR_SECONDS,
    DURATION_RE,
    MAX_LIMIT,
    PAGE_TOKEN_RE,
    PERIODS,
    SESSIONS,
    BarRequest,
    InvalidBarRequest,
    parse_end_datetime,
)
from shared.contract_fields import (
    CODE_RE,
    CONTRACT_DEFAULTS,
    LAST_TRADE_DATE_RE,
    LIVE_WHAT_TO_SHOW,
    LOCAL_SYMBOL_RE,
    MAX_CON_ID,
    MAX_STRIKE,
    MULTIPLIER_RE,
    NO_LIVE_SEC_TYPES,
    SEC_TYPES,
    SYMBOL_RE,
    WHAT_TO_SHOW,
)
from shared.history import HeadRequest
from shared.streams import LIVE_MIN_BAR_SECONDS, MAX_BACKFILL, series_request

MAX_EPOCH = 7_258_118_400  # 2200-01-01: bar times are epoch seconds within shared.bars' years
PERIOD_OF_BAR_SIZE = {bar_size: period for period, bar_size in PERIODS.items()}
# BarRequest attribute -> the HTTP field a client sent, for messages that come from BarRequest.validate
HTTP_FIELD = {"bar_size": "period", "what_to_show": "what", "use_rth": "session"}
OPTIONAL_FIELDS = ("what", "session", "include_forming", "end_datetime", "sec_type", "exchange", "currency",
                   "duration", "start_datetime", "limit", "page_token", *CONTRACT_DEFAULTS)
# IB's own spelling is upper case
UPPER_FIELDS = ("symbol", "what", "sec_type", "exchange", "currency", "primary_exchange", "local_symbol",
                "trading_class")
# IB's local symbol of a currency pair, "EUR.USD": for CASH the same as symbol EUR with currency USD
CASH_PAIR_RE = re.compile(r"^([A-Z]{3})\.([A-Z]{3})\Z", re.ASCII)
DEFAULT_CURRENCY = "USD"
OPTIONAL_CODE_DOC = doc("'' (not given) or 1-16 letters, digits or '.'", pattern=f"^$|{json_pattern(CODE_RE)}")


class InstrumentFieldsSchema(Schema):
    """The fields that name an instrument (a TWS Contract), as JSON values; `instrument_fields` gives them in IB's
    spelling. Unknown fields are refused."""

    class Meta:
        unknown = RAISE

    symbol = string(load_default="", validate=check.symbol, metadata=doc(
        "e.g. AAPL, 'BRK B'; for CASH also IB's pair form EUR.USD (symbol EUR, currency USD); required unless "
        "con_id names the contract", pattern=f"^$|{json_pattern(SYMBOL_RE)}"))
    sec_type = string(load_default="STK", validate=check.choice(SEC_TYPES, str.upper), metadata=doc(
        "IB's security type (any ASCII letter case); OPT and FOP need last_trade_date, strike and right unless "
        "con_id or local_symbol names the contract; CONTFUT (a continuous future) takes no include_forming and no "
        "stream", enum=list(SEC_TYPES)))
    exchange = string(load_default="SMART", validate=check.code, metadata=CODE_DOC)
    # USD, or the quote currency of a CASH pair
    currency = string(load_default=None, validate=check.code, metadata=doc("default USD; " + CODE_DOC["description"],
                                                                           pattern=CODE_DOC["pattern"]))
    con_id = fields.Raw(load_default=0, validate=check.con_id, metadata=doc(
        "IB's contract id: alone it names the contract (then symbol may be left out; exchange still routes it); "
        "0 = not given", type="integer", minimum=0, maximum=MAX_CON_ID))
    last_trade_date = string(load_default="", validate=check.last_trade_date, metadata=doc(
        "a future's or option's expiry: its month YYYYMM or its last trading day YYYYMMDD; a FUT without one is "
        "the nearest expiry", pattern=f"^$|{json_pattern(LAST_TRADE_DATE_RE)}"))
    strike = fields.Raw(load_default=0.0, validate=check.strike, metadata=doc(
        "an option's strike; 0 = not given", type="number", minimum=0, maximum=MAX_STRIKE))
    right = string(load_default="", validate=check.choice(list(RIGHTS), str.upper), metadata=doc(
        "an option's right: C or P (also CALL, PUT, any ASCII letter case); '' = not given", enum=list(RIGHTS)))
    multiplier = string(load_default="", validate=check.multiplier, metadata=doc(
        "the contract's multiplier, e.g. 50 (ES), 100 (options); '' = not given",
        pattern=f"^$|{json_pattern(MULTIPLIER_RE)}"))
    primary_exchange = string(load_default="", validate=check.optional_code, metadata=doc(
        "the listing exchange of a SMART-routed contract, e.g. NASDAQ (tells apart equal symbols); "
        + OPTIONAL_CODE_DOC["description"], pattern=OPTIONAL_CODE_DOC["pattern"]))
    local_symbol = string(load_default="", validate=check.local_symbol, metadata=doc(
        "IB's local symbol, e.g. ESH5 or 'AAPL  250221C00230000': names one contract", maxLength=32,
        pattern=f"^$|{json_pattern(LOCAL_SYMBOL_RE)}"))
    trading_class = string(load_default="", validate=check.optional_code, metadata=doc(
        "IB's trading class, e.g. ES, SPXW; " + OPTIONAL_CODE_DOC["description"],
        pattern=OPTIONAL_CODE_DOC["pattern"]))
    include_expired = fields.Boolean(load_default=False, error_messages={
        "invalid": "must be true or false", "null": "must not be null"}, metadata=doc(
        "true: expired futures and options too (IB has no history for expired options)"))

    @pre_load
    def defaults_for_null(self, data: Any, **_: Any) -> Any:
        """null in an optional field means its default."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if not (k in OPTIONAL_FIELDS and v is None)}

    @validates_schema(skip_on_field_errors=False)  # named with the other missing fields of an empty body
    def symbol_or_con_id(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("symbol") == "" and data.get("con_id") == 0:
            raise ValidationError("is required unless con_id names the contract", "symbol")

    @staticmethod
    def instrument_fields(data: dict[str, Any]) -> dict[str, Any]:
        """Valid ASCII input in IB's spelling (IB names are case-insensitive for clients) as Contract fields."""
        data = {**data, **{name: data[name].upper() for name in UPPER_FIELDS if data.get(name) is not None}}
        symbol, currency = _cash_pair(data["symbol"], data["sec_type"], data["currency"])
        return {"symbol": symbol, "sec_type": data["sec_type"], "exchange": data["exchange"], "currency": currency,
                "con_id": data["con_id"], "last_trade_date": data["last_trade_date"],
                "strike": float(data["strike"]), "right": RIGHTS[data["right"].upper()],
                **{name: data[name] for name in ("multiplier", "primary_exchange", "local_symbol", "trading_class",
                                                 "include_expired")}}


class QueryContractFields:
    """The contract fields that are not text, as a query string gives them: text read strictly (ASCII digits for
    con_id, a decimal for strike, true/false/1/0 for include_expired). Put first among a query schema's bases."""

    con_id = QueryText(check.read_con_id, CON_ID_MESSAGE, load_default=0, metadata=doc(
        InstrumentFieldsSchema._declared_fields["con_id"].metadata["description"], type="integer", minimum=0,
        maximum=MAX_CON_ID))
    strike = QueryText(check.read_strike, STRIKE_MESSAGE, load_default=0.0, metadata=doc(
        "an option's strike, a decimal such as 230 or 232.5; 0 = not given", type="number", minimum=0,
        maximum=MAX_STRIKE))
    include_expired = QueryText(check.read_boolean, "must be true or false (or 1 or 0)", load_default=False,
                                metadata=doc("true: expired futures and options too (IB has no history for expired "
                                             "options)", type="boolean", default=False))


class ContractQuerySchema(QueryContractFields, InstrumentFieldsSchema):
    """A query naming contracts (for contract look-ups): `load` returns the Contract fields, each checked."""

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return self.instrument_fields(data)


class ContractFieldsSchema(InstrumentFieldsSchema):
    """The fields that name an instrument and its data (what to show, session): one definition for POST /bars, the
    stream and the head timestamp, so all take the same values with the same messages."""

    what = string(load_default="TRADES", validate=check.choice(WHAT_TO_SHOW, str.upper), metadata=doc(
        "the data (any ASCII letter case); for MIDPOINT, BID, ASK, BID_ASK TWS reports no trades: volume, wap, "
        "count are -1; BID_ASK: open = average bid, high = highest ask, low = lowest bid, close = average ask; "
        "ADJUSTED_LAST: split- and dividend-adjusted trades, only up to now (no end_datetime); "
        "HISTORICAL_VOLATILITY and OPTION_IMPLIED_VOLATILITY: the values as prices; AGGTRADES is IB's trades "
        f"series for crypto; include_forming and streams only for {', '.join(LIVE_WHAT_TO_SHOW)}",
        enum=list(WHAT_TO_SHOW)))
    session = string(load_default="rth", validate=check.choice(list(SESSIONS), str.lower), metadata=doc(
        "rth: regular trading hours only; all: with pre/post market", enum=list(SESSIONS)))

    @classmethod
    def contract_fields(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The instrument and its data as `HeadRequest` fields."""
        return {**cls.instrument_fields(data), "what_to_show": data["what"].upper(),
                "use_rth": SESSIONS[data["session"].lower()]}


class SeriesFieldsSchema(ContractFieldsSchema):
    """The fields that name a series: an instrument's data in bars of one size (POST /bars and the stream)."""

    period = string(required=True, validate=OneOf(list(PERIODS), error=f"must be one of {', '.join(PERIODS)}"),
                    metadata=doc("the bar size"))

    @classmethod
    def series_fields(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The contract fields and the bar size as `BarRequest` fields."""
        return {**cls.contract_fields(data), "bar_size": PERIODS[data["period"]]}


class HeadQuerySchema(QueryContractFields, ContractFieldsSchema):
    """The path's symbol and the query of GET /api/v1/contracts/<symbol>/head; `load` returns a `HeadRequest`."""

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> HeadRequest:
        request = HeadRequest(**self.contract_fields(data))
        with worker_checks():
            request.validate()
        return request


class BarsQuerySchema(SeriesFieldsSchema):
    """The body of POST /api/v1/bars; `load` returns a validated `BarRequest`. The range is `duration` (ending at
    the end) or `start_datetime`: exactly one of them."""

    duration = string(load_default="", validate=check.duration, metadata=doc(
        "IB's 'N S|D|W|M|Y' ('1 D', '3600 S', '10 Y'): the calendar span that ends at the end; at most 50 Y; "
        "required unless start_datetime", pattern=f"^$|{json_pattern(DURATION_RE)}"))
    start_datetime = string(load_default="", validate=check.tws_time("not given: duration names the range"),
                            metadata=doc("instead of duration: the range's start, in end_datetime's forms",
                                         pattern=TIME_PATTERN))
    include_forming = fields.Boolean(load_default=False, error_messages={
        "invalid": "must be true or false", "null": "must not be null"}, metadata=doc(
        "true: the forming bar too, current, last (end_datetime now, a duration within IB's longest for the "
        f"period; only for {', '.join(LIVE_WHAT_TO_SHOW)}, not for CONTFUT)"))
    end_datetime = string(load_default="", validate=check.tws_time("now"), metadata=doc(
        "'' = now; 'yyyymmdd HH:MM:SS' in the exchange's time zone; 'yyyymmdd-HH:MM:SS' in UTC; or ISO 8601 with "
        "an offset; must be '' with ADJUSTED_LAST (IB adjusts only up to now)", pattern=TIME_PATTERN))
    limit = fields.Raw(load_default=MAX_LIMIT, validate=check.limit, metadata=doc(
        "bars per answer; a longer answer comes in pages", type="integer", minimum=1, maximum=MAX_LIMIT))
    page_token = string(load_default="", validate=check.page_token, metadata=doc(
        "the next_page_token of the previous page, with the same request", pattern=f"^$|{json_pattern(PAGE_TOKEN_RE)}"))

    @validates_schema(skip_on_field_errors=False)  # named with the other missing fields of an empty body
    def one_range(self, data: dict[str, Any], **_: Any) -> None:
        if "duration" not in data or "start_datetime" not in data:
            return  # one of them is invalid already, with its own message
        if data["duration"] and data["start_datetime"].strip():
            raise ValidationError("give duration or start_datetime, not both", "start_datetime")
        if not data["duration"] and not data["start_datetime"].strip():
            raise ValidationError("is required, or start_datetime (the range's length or its start)", "duration")

    @validates_schema
    def forming_needs_now(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("include_forming"):
            return
        if data.get("end_datetime", "").strip():
            raise ValidationError("needs end_datetime empty (now): only the current bar is forming",
                                  "include_forming")
        if data.get("start_datetime", "").strip() or data.get("page_token"):
            raise ValidationError("takes a duration, not start_datetime or page_token: the forming bar is answered "
                                  "from one live subscription of IB's longest window", "include_forming")

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> BarRequest:
        request = BarRequest(**self.series_fields(data), duration=data["duration"],
                             include_forming=data["include_forming"],
                             end_datetime=parse_end_datetime(data["end_datetime"]),
                             start_datetime=parse_end_datetime(data["start_datetime"]), limit=data["limit"],
                             page_token=data["page_token"])
        with worker_checks():
            request.validate()
        return request


class BarsStreamQuerySchema(QueryContractFields, SeriesFieldsSchema):
    """The query of GET /api/v1/bars/stream; `load` returns a validated `StreamRequest`.

    Query values are text: `backfill` and `last_event_id` are checked as ASCII digits before they become numbers
    (int() would read other scripts' digits and surrounding spaces)."""

    # the same check as for POST /bars, then the live series' own (bars of 5 secs or more, with its message); the spec
    # lists only the periods a stream takes
    period = string(required=True, validate=OneOf(list(PERIODS), error=f"must be one of {', '.join(PERIODS)}"),
                    metadata=doc("the bar size (5 seconds or more: IB streams no 1-second bars)",
                                 enum=[p for p, size in PERIODS.items()
                                       if BAR_SECONDS[size] >= LIVE_MIN_BAR_SECONDS]))
    # the same checks as for POST /bars, then the live series' own (a kind and a security type IB keeps up to date);
    # the spec lists only what a stream takes
    what = string(load_default="TRADES", validate=check.choice(WHAT_TO_SHOW, str.upper), metadata=doc(
        "the data (any ASCII letter case): only the kinds IB keeps up to date; for MIDPOINT, BID, ASK TWS reports "
        "no trades: volume, wap, count are -1; AGGTRADES is IB's trades series for crypto",
        enum=list(LIVE_WHAT_TO_SHOW)))
    sec_type = string(load_default="STK", validate=check.choice(SEC_TYPES, str.upper), metadata=doc(
        "IB's security type (any ASCII letter case); OPT and FOP need last_trade_date, strike and right unless "
        "con_id or local_symbol names the contract; no CONTFUT (TWS keeps no continuous future up to date)",
        enum=[sec_type for sec_type in SEC_TYPES if sec_type not in NO_LIVE_SEC_TYPES]))
    backfill = string(load_default="0", validate=check.digits(0, MAX_BACKFILL, "must be a whole number of bars from 0 "
                                                              f"to {MAX_BACKFILL}"), metadata=doc(
        "completed bars to send first", type="integer", minimum=0, maximum=MAX_BACKFILL, default=0))
    last_event_id = string(load_default=None, validate=check.digits(0, MAX_EPOCH, "must be the id of a bar event "
                                                                    "(the bar's epoch seconds)"), metadata=doc(
        "resume after this bar event's id (the Last-Event-ID header wins)", type="integer", minimum=0,
        maximum=MAX_EPOCH))

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> StreamRequest:
        with worker_checks():  # BarRequest's, and a live series' own (bars of 5 secs or more, a kind IB keeps live)
            series = series_request(self.series_fields(data))
        after = data["last_event_id"]
        return StreamRequest(series, backfill=int(data["backfill"]), after=None if after is None else int(after))


@contextmanager
def worker_checks() -> Iterator[None]:
    """The worker's own checks, made here too (never send what the worker would refuse), as field messages."""
    try:
        yield
    except InvalidBarRequest as exc:
        raise ValidationError({HTTP_FIELD.get(k, k): [v] for k, v in exc.fields.items()}) from None


def _cash_pair(symbol: str, sec_type: str, currency: str | None) -> tuple[str, str]:
    """(symbol, currency) for IB: a CASH pair in IB's local-symbol form "EUR.USD" is symbol EUR in currency USD."""
    pair = CASH_PAIR_RE.match(symbol) if sec_type == "CASH" else None
    if pair is None:
        return symbol, currency or DEFAULT_CURRENCY
    base, quote = pair.groups()
    if currency is not None and currency != quote:
        raise ValidationError({"currency": [f"{symbol} is quoted in {quote}; leave currency out or give {quote}"]})
    return base, quote


def field_messages(messages: Any) -> dict[str, str]:
    """marshmallow's {field: [messages]} -> {field: "message; message"}; unknown fields say so plainly."""
    if not isinstance(messages, dict):
        return {"body": _join(messages)}
    flat: dict[str, str] = {}
    for name, value in messages.items():
        text = _join(value)
        flat["body" if name == "_schema" else str(name)] = "unknown field" if text == "Unknown field." else text
    return flat


def _join(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_join(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_join(v)}" for k, v in value.items())
    return str(value)
