"""Validation of the HTTP input (marshmallow) into the `BarRequest` (POST /bars), `StreamRequest` (the stream) or
`HeadRequest` (a contract's head timestamp) the worker receives.

Every string that may reach TWS is checked here against the same patterns `shared.bars` enforces again on the
worker side, so a NUL, a comma or a control character is refused with 400 before anything is sent anywhere.
Each check runs on the client's exact string; only a valid (ASCII) string is then put in IB's case: Unicode case
mapping turns other letters into ASCII ones (the long s and the dotless i upper-case to S and I: "\\u017fpy" would
become SPY).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validates_schema
from marshmallow.validate import OneOf

from app.streams.request import StreamRequest
from shared.bars import (
    BAR_SECONDS,
    CODE_RE,
    DURATION_RE,
    MAX_LIMIT,
    PAGE_TOKEN_RE,
    PERIODS,
    SEC_TYPES,
    SESSIONS,
    SYMBOL_RE,
    WHAT_TO_SHOW,
    BarRequest,
    InvalidBarRequest,
    parse_end_datetime,
)
from shared.history import HeadRequest
from shared.streams import LIVE_MIN_BAR_SECONDS, MAX_BACKFILL, series_request

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DIGITS_RE = re.compile(r"^[0-9]{1,12}\Z", re.ASCII)
MAX_EPOCH = 7_258_118_400  # 2200-01-01: bar times are epoch seconds within shared.bars' years
PERIOD_OF_BAR_SIZE = {bar_size: period for period, bar_size in PERIODS.items()}
# BarRequest attribute -> the HTTP field a client sent, for messages that come from BarRequest.validate
HTTP_FIELD = {"bar_size": "period", "what_to_show": "what", "use_rth": "session"}
OPTIONAL_FIELDS = ("what", "session", "include_forming", "end_datetime", "sec_type", "exchange", "currency",
                   "duration", "start_datetime", "limit", "page_token")
UPPER_FIELDS = ("symbol", "what", "sec_type", "exchange", "currency")  # IB's own spelling is upper case
# IB's local symbol of a currency pair, "EUR.USD": for CASH the same as symbol EUR with currency USD
CASH_PAIR_RE = re.compile(r"^([A-Z]{3})\.([A-Z]{3})\Z", re.ASCII)
DEFAULT_CURRENCY = "USD"


def _symbol(value: str) -> None:
    if CONTROL_RE.search(value):
        raise ValidationError("must not contain NUL or other control characters")
    if "," in value:
        raise ValidationError("must not contain commas")
    if not SYMBOL_RE.match(value):
        raise ValidationError("must be 1-24 letters, digits, spaces, '.', '/' or '-', starting with a letter or digit")


def _duration(value: str) -> None:
    if value != "" and not DURATION_RE.match(value):  # "": not given (start_datetime names the range)
        raise ValidationError("must be IB's 'N S|D|W|M|Y', e.g. '1 D', '2 D', '1 W', '1 M', '10 Y'")


def _limit(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"must be a whole number of bars from 1 to {MAX_LIMIT}")


def _page_token(value: str) -> None:
    if value != "" and not PAGE_TOKEN_RE.match(value):
        raise ValidationError("must be the next_page_token of an earlier answer, as it was sent (1-512 of "
                              "A-Z a-z 0-9 _ -)")


def _code(value: str) -> None:
    if not CODE_RE.match(value):
        raise ValidationError("must be 1-16 letters, digits or '.'")


def _choice(choices: Collection[str], fold: Callable[[str], str]) -> Callable[[str], None]:
    """One of `choices` in any ASCII letter case (`fold` puts it in the choices' case)."""
    def check(value: str) -> None:
        if not value.isascii() or fold(value) not in choices:
            raise ValidationError(f"must be one of {', '.join(choices)}")
    return check


def _tws_time(empty: str) -> Callable[[str], None]:
    """A time in parse_end_datetime's forms; `empty` says what "" means for the field."""
    def check(value: str) -> None:
        if CONTROL_RE.search(value) or not value.isascii():  # \d and fromisoformat take any Unicode digit
            raise ValidationError("must be ASCII without control characters")
        try:
            parse_end_datetime(value)
        except ValueError:
            raise ValidationError(f"must be '' ({empty}), 'yyyymmdd HH:MM:SS' in the exchange's time zone, "
                                  "or ISO 8601 with an offset, e.g. '2025-01-26T10:30:00-05:00'") from None
    return check


def _digits(lo: int, hi: int, message: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not DIGITS_RE.match(value) or not lo <= int(value) <= hi:
            raise ValidationError(message)
    return check


def _string(**kwargs: Any) -> fields.String:
    messages = {"required": "is required", "null": "must not be null", "invalid": "must be a string"}
    return fields.String(error_messages=messages, **kwargs)


def json_pattern(pattern: re.Pattern[str] | str) -> str:
    """A pattern of this module or shared/bars.py in JSON Schema's (ECMA 262) spelling, for the OpenAPI spec: there
    `$` ends the text (Python's `\\Z`) and `-` needs no escape at a class's end."""
    text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return text.replace("\\Z", "$").replace("\\-", "-")


def _doc(description: str, **schema: Any) -> dict[str, Any]:
    """A field's OpenAPI description and JSON Schema keywords (app/openapi): what the checks above enforce."""
    return {"description": description, **schema}


# The time forms parse_end_datetime reads, as the spec names them (it also reads other ISO 8601 spellings)
TIME_PATTERN = ("^$|^[0-9]{8}[ -][0-9]{2}:[0-9]{2}:[0-9]{2}$"
                "|^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$")
CODE_DOC = _doc("1-16 letters, digits or '.'", pattern=json_pattern(CODE_RE))


class ContractFieldsSchema(Schema):
    """The fields that name an instrument and its data (what to show, session): one definition for POST /bars, the
    stream and the head timestamp, so all take the same values with the same messages. Unknown fields are refused."""

    class Meta:
        unknown = RAISE

    symbol = _string(required=True, validate=_symbol, metadata=_doc(
        "e.g. AAPL, 'BRK B'; for CASH also IB's pair form EUR.USD (symbol EUR, currency USD)",
        pattern=json_pattern(SYMBOL_RE)))
    what = _string(load_default="TRADES", validate=_choice(WHAT_TO_SHOW, str.upper), metadata=_doc(
        "the data (any ASCII letter case); for MIDPOINT, BID, ASK TWS reports no trades: volume, wap, count are -1; "
        "AGGTRADES is IB's trades series for crypto", enum=list(WHAT_TO_SHOW)))
    session = _string(load_default="rth", validate=_choice(list(SESSIONS), str.lower), metadata=_doc(
        "rth: regular trading hours only; all: with pre/post market", enum=list(SESSIONS)))
    sec_type = _string(load_default="STK", validate=_choice(SEC_TYPES, str.upper), metadata=_doc(
        "IB's security type (any ASCII letter case)", enum=list(SEC_TYPES)))
    exchange = _string(load_default="SMART", validate=_code, metadata=CODE_DOC)
    # USD, or the quote currency of a CASH pair
    currency = _string(load_default=None, validate=_code, metadata=_doc("default USD; " + CODE_DOC["description"],
                                                                        pattern=CODE_DOC["pattern"]))

    @pre_load
    def defaults_for_null(self, data: Any, **_: Any) -> Any:
        """null in an optional field means its default."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if not (k in OPTIONAL_FIELDS and v is None)}

    @staticmethod
    def contract_fields(data: dict[str, Any]) -> dict[str, Any]:
        """Valid ASCII input in IB's case (IB names are case-insensitive for clients) as `HeadRequest` fields."""
        data = {**data, **{name: data[name].upper() for name in UPPER_FIELDS if data.get(name) is not None},
                "session": data["session"].lower()}
        symbol, currency = _cash_pair(data["symbol"], data["sec_type"], data["currency"])
        return {"symbol": symbol, "what_to_show": data["what"], "use_rth": SESSIONS[data["session"]],
                "sec_type": data["sec_type"], "exchange": data["exchange"], "currency": currency}


class SeriesFieldsSchema(ContractFieldsSchema):
    """The fields that name a series: an instrument's data in bars of one size (POST /bars and the stream)."""

    period = _string(required=True, validate=OneOf(list(PERIODS), error=f"must be one of {', '.join(PERIODS)}"),
                     metadata=_doc("the bar size"))

    @classmethod
    def series_fields(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The contract fields and the bar size as `BarRequest` fields."""
        return {**cls.contract_fields(data), "bar_size": PERIODS[data["period"]]}


class HeadQuerySchema(ContractFieldsSchema):
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

    duration = _string(load_default="", validate=_duration, metadata=_doc(
        "IB's 'N S|D|W|M|Y' ('1 D', '3600 S', '10 Y'): the calendar span that ends at the end; at most 50 Y; "
        "required unless start_datetime", pattern=f"^$|{json_pattern(DURATION_RE)}"))
    start_datetime = _string(load_default="", validate=_tws_time("not given: duration names the range"),
                             metadata=_doc("instead of duration: the range's start, in end_datetime's forms",
                                           pattern=TIME_PATTERN))
    include_forming = fields.Boolean(load_default=False, error_messages={
        "invalid": "must be true or false", "null": "must not be null"}, metadata=_doc(
        "true: the forming bar too, current, last (end_datetime now, a duration within IB's longest for the "
        "period)"))
    end_datetime = _string(load_default="", validate=_tws_time("now"), metadata=_doc(
        "'' = now; 'yyyymmdd HH:MM:SS' in the exchange's time zone; 'yyyymmdd-HH:MM:SS' in UTC; or ISO 8601 with "
        "an offset", pattern=TIME_PATTERN))
    limit = fields.Raw(load_default=MAX_LIMIT, validate=_limit, metadata=_doc(
        "bars per answer; a longer answer comes in pages", type="integer", minimum=1, maximum=MAX_LIMIT))
    page_token = _string(load_default="", validate=_page_token, metadata=_doc(
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


class BarsStreamQuerySchema(SeriesFieldsSchema):
    """The query of GET /api/v1/bars/stream; `load` returns a validated `StreamRequest`.

    Query values are text: `backfill` and `last_event_id` are checked as ASCII digits before they become numbers
    (int() would read other scripts' digits and surrounding spaces)."""

    # the same check as for POST /bars, then the live series' own (bars of 5 secs or more, with its message); the spec
    # lists only the periods a stream takes
    period = _string(required=True, validate=OneOf(list(PERIODS), error=f"must be one of {', '.join(PERIODS)}"),
                     metadata=_doc("the bar size (5 seconds or more: IB streams no 1-second bars)",
                                   enum=[p for p, size in PERIODS.items()
                                         if BAR_SECONDS[size] >= LIVE_MIN_BAR_SECONDS]))
    backfill = _string(load_default="0", validate=_digits(0, MAX_BACKFILL, "must be a whole number of bars from 0 "
                                                          f"to {MAX_BACKFILL}"), metadata=_doc(
        "completed bars to send first", type="integer", minimum=0, maximum=MAX_BACKFILL, default=0))
    last_event_id = _string(load_default=None, validate=_digits(0, MAX_EPOCH, "must be the id of a bar event "
                                                                "(the bar's epoch seconds)"), metadata=_doc(
        "resume after this bar event's id (the Last-Event-ID header wins)", type="integer", minimum=0,
        maximum=MAX_EPOCH))

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> StreamRequest:
        with worker_checks():  # BarRequest's, and a live series' own (bars of 5 secs or more)
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
