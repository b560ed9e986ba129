"""The bridge's answers as marshmallow schemas: the source the OpenAPI spec's response shapes are generated from
(app/openapi/spec.py). The requests' schemas are app/schemas.py's own, the ones the endpoints validate with.

These schemas describe; they never load or dump an answer (the views build answers with orjson). Objects a client
codes against (bars, jobs, errors) are closed: a key the spec does not name is an answer off the spec, which the
conformance test (schemathesis) catches. Health is open: it is an operator's diagnostic and grows.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields
from marshmallow.validate import OneOf, Range

from shared.bars import PERIODS, WHAT_TO_SHOW
from shared.errors import ErrorCode
from shared.history import JOB_STATES

ERROR_CODES = [code.value for code in ErrorCode]
CONNECTION_STATES = ["connected", "connecting", "disconnected", "stopped"]  # worker/tws/connection_manager.py
JOB_ID_PATTERN = "^[0-9a-f]{32}$"
COUNT = Range(min=0)


def _int(description: str, metadata: dict[str, Any] | None = None, **kwargs: Any) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description, **(metadata or {})}, **kwargs)


def _num(description: str, metadata: dict[str, Any] | None = None, **kwargs: Any) -> fields.Float:
    return fields.Float(required=True, metadata={"description": description, **(metadata or {})}, **kwargs)


def _str(description: str, metadata: dict[str, Any] | None = None, **kwargs: Any) -> fields.String:
    return fields.String(required=True, metadata={"description": description, **(metadata or {})}, **kwargs)


def _const(value: Any, description: str) -> fields.Raw:
    """A field that always has `value` (`success`), as a one-value enum of its JSON type."""
    json_type = {bool: "boolean", str: "string", int: "integer", type(None): "null"}[type(value)]
    return fields.Raw(required=True, metadata={"type": json_type, "enum": [value], "description": description})


class BarSchema(Schema):
    """One bar, in the same shape everywhere: POST /bars answers, forming bars, stream events."""

    date = _str("the bar's start in the exchange's time zone: 'yyyymmdd HH:MM:SS' intraday, 'yyyymmdd' for daily "
                "and larger bars")
    time = _int("epoch seconds of the bar's start", validate=COUNT)
    datetime = _str("the bar's start in ISO 8601 with the exchange's UTC offset at that instant, seconds precision "
                    "('2025-01-27T09:30:00-05:00'), the date ('2025-01-27') for daily and larger bars")
    open = _num("first price")
    high = _num("highest price")
    low = _num("lowest price")
    close = _num("last price")
    volume = _num("the volume TWS sent: an integer stays an integer, a fractional size keeps its value; -1 when TWS "
                  "reports no trades (MIDPOINT, BID, ASK)")
    wap = _num("volume-weighted average price as TWS sent it; -1 when TWS reports no trades")
    count = _int("number of trades; -1 when TWS reports no trades")


class NoticeSchema(Schema):
    """TWS's notice with an answer of zero bars (162 "HMDS query returned no data")."""

    tws_code = _int("the TWS message code, e.g. 162")
    message = _str("TWS's message")


class BarsAnswerSchema(Schema):
    """200 of POST /api/v1/bars: the bars (one page of them)."""

    success = _const(True, "always true in a 200")
    symbol = _str("the symbol as sent to TWS (IB's case)")
    period = _str("the bar size asked for", validate=OneOf(list(PERIODS)))
    bars = fields.List(fields.Nested(BarSchema), required=True, metadata={"description": "oldest first"})
    count = _int("the number of bars in this answer", validate=COUNT)
    next_page_token = fields.String(required=True, allow_none=True, metadata={
        "description": "null when this is the whole answer (or its last page); else send the same request with "
                       "this page_token for the next page"})
    error = _const(None, "always null in a 200")
    notice = fields.Nested(NoticeSchema, metadata={"description": "only with zero bars: why TWS had none"})


class JobErrorSchema(Schema):
    code = _str("why the job failed: a stable error code", validate=OneOf(ERROR_CODES))
    message = _str("for people")


class JobSchema(Schema):
    """A history job: a range the TWS worker fetches in IB-sized windows, paced by IB's rules."""

    id = _str("32 lowercase hex digits", metadata={"pattern": JOB_ID_PATTERN})
    state = _str("pending (waiting for pacing), running, done, failed, cancelled", validate=OneOf(list(JOB_STATES)))
    done = _int("IB requests (windows) fetched", validate=COUNT)
    total = _int("IB requests (windows) in all", validate=COUNT)
    bars_so_far = _int("bars stored so far", validate=COUNT)
    eta_seconds = fields.Float(required=True, allow_none=True, validate=COUNT, metadata={
        "description": "seconds until done by the pacing schedule, or null"})
    error = fields.Nested(JobErrorSchema, required=True, allow_none=True, metadata={
        "description": "null, or why the job failed"})


class JobAcceptedSchema(Schema):
    """202 of POST /api/v1/bars: the range is fetched by a job; poll its Location."""

    success = _const(True, "always true")
    status = _const("pending", "the bars are not answered yet: a job fetches them")
    job = fields.Nested(JobSchema, required=True)


class JobAnswerSchema(Schema):
    """200 of GET and DELETE /api/v1/jobs/{id}."""

    success = _const(True, "always true in a 200")
    job = fields.Nested(JobSchema, required=True)


class HeadSchema(Schema):
    time = _int("epoch seconds of the earliest bar", validate=COUNT)
    date = _str("the same instant, 'yyyymmdd HH:MM:SS' in the exchange's time zone")


class HeadAnswerSchema(Schema):
    """200 of GET /api/v1/contracts/{symbol}/head: the earliest bar TWS has for the instrument's data."""

    success = _const(True, "always true in a 200")
    symbol = _str("the symbol as sent to TWS (IB's case)")
    what = _str("the data, as sent to TWS", validate=OneOf(WHAT_TO_SHOW))
    session = _str("rth or all", validate=OneOf(["rth", "all"]))
    head = fields.Nested(HeadSchema, required=True)


class ContractSchema(Schema):
    """One contract as TWS's contract details describe it (GET /api/v1/contracts)."""

    con_id = _int("IB's contract id: alone it names the contract in any request", validate=COUNT)
    symbol = _str("the underlying's symbol")
    sec_type = _str("IB's security type, e.g. STK, FUT, OPT")
    local_symbol = _str("IB's local symbol, e.g. ESH5")
    last_trade_date = _str("expiry, 'yyyymmdd' (futures, options); '' for none")
    strike = _num("an option's strike; 0 for none")
    right = _str("an option's right, C or P; '' for none")
    multiplier = _str("e.g. '50' (ES), '100' (options); '' for none")
    exchange = _str("the exchange (or SMART) TWS answered for")
    primary_exchange = _str("the listing exchange; '' when TWS gives none")
    currency = _str("the currency")
    trading_class = _str("IB's trading class")
    long_name = _str("the instrument's name")
    time_zone = _str("the zone of trading_hours and liquid_hours (TWS's timeZoneId)")
    trading_hours = _str("TWS's sessions, all hours: 'yyyymmdd:hhmm-yyyymmdd:hhmm;yyyymmdd:CLOSED;...'")
    liquid_hours = _str("the regular sessions, in trading_hours' form")
    min_tick = _num("the smallest price step")


class ContractsAnswerSchema(Schema):
    """200 of GET /api/v1/contracts: every contract that matches."""

    success = _const(True, "always true in a 200")
    count = _int("how many contracts (at least 1)", validate=Range(min=1))
    contracts = fields.List(fields.Nested(ContractSchema), required=True, metadata={
        "description": "sorted by expiry, right, strike, con_id"})


class SymbolMatchSchema(Schema):
    """One contract whose symbol or name starts with the text (TWS's contract description)."""

    con_id = _int("IB's contract id", validate=COUNT)
    symbol = _str("the symbol")
    sec_type = _str("IB's security type")
    primary_exchange = _str("the listing exchange")
    currency = _str("the currency")
    derivative_sec_types = fields.List(fields.String(), required=True, metadata={
        "description": "security types of derivatives IB has on it, e.g. OPT, WAR"})


class SymbolSearchAnswerSchema(Schema):
    """200 of GET /api/v1/contracts/search: at most 16 matches, as TWS sends them."""

    success = _const(True, "always true in a 200")
    count = _int("how many matches (0 to 16)", validate=Range(min=0, max=16))
    matches = fields.List(fields.Nested(SymbolMatchSchema), required=True, metadata={"maxItems": 16})


class ControlAnswerSchema(Schema):
    """200 of POST /api/v1/connect and /api/v1/disconnect."""

    success = _const(True, "always true in a 200")
    connected = fields.Boolean(required=True, metadata={"description": "whether TWS is connected now"})
    state = fields.String(required=True, allow_none=True, validate=OneOf(CONNECTION_STATES), metadata={
        "description": "the worker's connection state: stopped after disconnect (no automatic reconnect until "
                       "connect), connecting after connect"})


class ErrorSchema(Schema):
    """Every failure: the same JSON shape, whatever the endpoint. Never an HTML page, never a traceback."""

    success = _const(False, "always false")
    symbol = fields.String(metadata={"description": "the request's symbol, once it was valid"})
    period = fields.String(validate=OneOf(list(PERIODS)), metadata={"description": "the request's period, once it "
                                                                                   "was valid"})
    bars = fields.List(fields.Raw(), required=True, metadata={
        "maxItems": 0, "description": "always empty"})
    count = _const(0, "always 0")
    error = _str("for people")
    code = _str("stable, for programs (the HTTP status follows from it)", validate=OneOf(ERROR_CODES))
    tws_code = fields.Integer(metadata={"description": "the TWS error code, when a TWS error caused it"})
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.String(), metadata={
        "description": "invalid_request: a message per field ('body' for the body as a whole)"})


class ReportSchema(Schema):
    """A figure group of the health answer; open (it grows with the bridge)."""

    class Meta:
        unknown = INCLUDE


class LastErrorSchema(Schema):
    tws_code = _int("the TWS error code")
    message = _str("TWS's message, with the remedy when one is known")
    time = _num("epoch seconds")


class WorkerHealthSchema(Schema):
    """The TWS worker's own report (worker/health.py); open: it grows with the worker."""

    class Meta:
        unknown = INCLUDE

    connected = fields.Boolean(required=True)
    state = _str("the connection state", validate=OneOf(CONNECTION_STATES))
    ib_reachable = fields.Boolean(metadata={"description": "false between 1100/2110 and 1101/1102"})
    client_id = fields.Integer()
    server_version = fields.Integer(allow_none=True)
    last_error = fields.Nested(LastErrorSchema, allow_none=True)
    reconnect_attempts = fields.Integer()
    reconnects = fields.Integer()
    farms = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "IB's data farms and their state (ok, broken, inactive)"})
    worker_pid = fields.Integer()
    worker_uptime_seconds = fields.Float()


class HttpWorkerHealthSchema(Schema):
    """The answering HTTP worker's figures; open."""

    class Meta:
        unknown = INCLUDE

    waiting_requests = _int("requests of this HTTP worker waiting for the TWS worker", validate=COUNT)
    max_waiting_requests = _int("BRIDGE_MAX_WAITING_REQUESTS", validate=COUNT)
    answer_cache = fields.Nested(ReportSchema)
    forming_answers = fields.Nested(ReportSchema)
    stream_clients = fields.Integer(validate=COUNT)


class HealthSchema(Schema):
    """200 of GET /api/v1/health; open (an operator's diagnostic that grows)."""

    class Meta:
        unknown = INCLUDE

    status = _str("ok; degraded when TWS is not connected (worker.last_error says why)",
                  validate=OneOf(["ok", "degraded"]))
    connected = fields.Boolean(required=True, metadata={"description": "whether TWS is connected"})
    tws_host = _str("the TWS host the bridge connects to")
    tws_port = _int("the TWS port")
    uptime_seconds = _num("seconds since this HTTP worker started")
    version = _str("the bridge's version")
    http_worker_pid = _int("the answering HTTP worker's pid")
    http_worker = fields.Nested(HttpWorkerHealthSchema, required=True)
    worker = fields.Nested(WorkerHealthSchema, required=True)


class HealthUnavailableSchema(ErrorSchema, HealthSchema):
    """503 of GET /api/v1/health: the TWS worker process did not answer; the health shape and the error shape."""

    class Meta:
        unknown = INCLUDE

    status = _str("unavailable", validate=OneOf(["unavailable"]))
    worker = _const(None, "null: the worker did not answer")


class StreamStatusSchema(Schema):
    """The data of a stream's `status` event."""

    status = _str("live when the stream opens; interrupted when TWS's connection is lost or IB is unreachable; "
                  "restored when the series is live again", validate=OneOf(["live", "interrupted", "restored"]))
    reason = fields.String(required=True, allow_none=True, metadata={"description": "why, for interrupted"})


class StreamErrorSchema(Schema):
    """The data of a stream's `error` event: the last event, the server closes the stream after it."""

    code = _str("stable error code", validate=OneOf(ERROR_CODES))
    error = _str("for people")
