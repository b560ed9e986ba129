"""The /api/v1 blueprint: health, bars, connect, disconnect. Views validate, forward to the worker and shape replies.

A bar request the worker fetches by a job answers 202 with the job (app/jobs.py serves it from then on).
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Any

import orjson
from flask import Blueprint, Response, g, request
from marshmallow import Schema, ValidationError

from app.auth import require_token
from app.control_access import require_control_access
from app.errors import error_response
from app.request_body import request_body
from app.responses import json_response
from app.schemas import PERIOD_OF_BAR_SIZE, BarsQuerySchema, field_messages
from app.state import VERSION, bridge_state
from app.streams.hub import fanout, forming_answers
from app.validated_requests import ValidatedRequests
from app.worker_client import WorkerClient
from shared.bars import PAGE_TOKEN_RE, BarRequest
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.history import FINISHED_STATES, job_from_result
from shared.protocol import BarsJson, ProtocolError, WorkerReply
from shared.streams import LiveAnswer

log = logging.getLogger("http.api")
api = Blueprint("api", __name__, url_prefix="/api/v1")
_bars_schema = BarsQuerySchema()
# Retry-After for a job that is not finished: its eta, within these bounds (seconds); UNKNOWN_ETA when it has none
RETRY_AFTER_MIN, RETRY_AFTER_MAX, RETRY_AFTER_UNKNOWN_ETA = 1, 30, 5


@api.before_request
def authenticate() -> None:
    """The body was read and capped already (app-wide, app/request_body.py); then the token, then who may control."""
    config = bridge_state().config
    require_token(config.api_token)
    require_control_access(config.api_token)


@api.get("/health")
def health() -> Response | tuple[Response, int]:
    """200 while the bridge runs ("degraded" when TWS is down); 503 only when the worker process does not answer."""
    state = bridge_state()
    config = state.config
    shape: dict[str, Any] = {"status": "ok", "connected": False, "tws_host": config.tws_host,
                             "tws_port": config.tws_port, "uptime_seconds": state.uptime_seconds,
                             "version": VERSION, "http_worker_pid": os.getpid(),
                             "http_worker": {"waiting_requests": state.worker.waiting,
                                             "max_waiting_requests": config.max_waiting_requests,
                                             "answer_cache": state.answers.stats(),
                                             "forming_answers": forming_answers().stats(),
                                             "stream_clients": fanout().receivers},
                             "worker": None}
    try:
        result = call_worker("health", {}, config.worker_timeout)
    except BridgeFailure as exc:  # whatever failed, the worker did not answer usefully: 503, never 500
        return error_response(exc.error, status=503, extra={**shape, "status": "unavailable"})
    connected = result.get("connected") is True
    return json_response({**shape, "status": "ok" if connected else "degraded", "connected": connected,
                          "worker": result})


@api.post("/bars")
def bars() -> Response:
    started = time.monotonic()
    state = bridge_state()
    bar_request = _load_bars_request(state.validated)
    g.bridge_symbol = bar_request.symbol
    g.bridge_period = PERIOD_OF_BAR_SIZE[bar_request.bar_size]
    final_possible = bool(bar_request.end_datetime)  # only an end in the past can make an answer final
    if final_possible and (cached := state.answers.get(bar_request)) is not None:
        log.debug("bars %s %s %s -> from this HTTP worker's cache in %.3f s", bar_request.symbol, g.bridge_period,
                  bar_request.range_text, time.monotonic() - started)
        return Response(cached, mimetype="application/json")
    forming = forming_answers() if bar_request.include_forming else None  # current until the series' next event
    if forming is not None and (cached := forming.get(bar_request)) is not None:
        return Response(cached, mimetype="application/json")
    try:
        result = call_worker("bars", bar_request.to_wire(), WorkerClient.bars_timeout(state.config))
    except BridgeFailure as exc:
        log.info("bars %s %s %s -> %s (%s) in %.3f s", bar_request.symbol, g.bridge_period, bar_request.range_text,
                 exc.error.code.value, exc.error.message, time.monotonic() - started)
        raise
    if result.get("status") == "pending":  # fetched by a job: never cached, the client polls the job
        job = checked_job(result)
        log.info("bars %s %s %s -> job %s (%d windows) in %.3f s", bar_request.symbol, g.bridge_period,
                 bar_request.range_text, job["id"], job["total"], time.monotonic() - started)
        response = job_response({"success": True, "status": "pending", "job": job}, 202)
        response.headers["Location"] = f"/api/v1/jobs/{job['id']}"
        return response
    bar_list = result.get("bars")
    if isinstance(bar_list, BarsJson):  # the worker's JSON of the bars (from its store): passed through as it is
        bars: Any = orjson.Fragment(bar_list.data)
        count = bar_list.count
    elif isinstance(bar_list, list):
        bars, count = bar_list, len(bar_list)
    else:
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, "the TWS worker sent bars that are not a list"))
    next_page = result.get("next_page_token")
    if next_page is not None and not (isinstance(next_page, str) and PAGE_TOKEN_RE.match(next_page)):
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, "the TWS worker sent an invalid next_page_token"))
    body: dict[str, Any] = {"success": True, "symbol": bar_request.symbol, "period": g.bridge_period,
                            "bars": bars, "count": count, "next_page_token": next_page, "error": None}
    if not count and result.get("notice") is not None:
        body["notice"] = result["notice"]
    data = orjson.dumps(body)
    if final_possible and "ttl" in result and result["ttl"] is None:  # the worker keeps it for good: so may we
        state.answers.put(bar_request, data)
    if forming is not None:
        try:
            forming.put(bar_request, data, LiveAnswer.from_result(result))
        except ProtocolError as exc:
            log.warning("bars %s: the TWS worker's live marker is invalid (%s); not repeated", bar_request.symbol, exc)
    log.info("bars %s %s %s -> %d bars in %.3f s", bar_request.symbol, g.bridge_period, bar_request.range_text,
             count, time.monotonic() - started)
    return Response(data, mimetype="application/json")


@api.post("/connect")
def connect() -> Response:
    return _control("connect")


@api.post("/disconnect")
def disconnect() -> Response:
    """Takes the TWS connection down; it stays down (no automatic reconnect) until /connect."""
    return _control("disconnect")


def _control(op: str) -> Response:
    _load_control_body()
    result = call_worker(op, {}, bridge_state().config.worker_timeout)
    log.info("%s -> %s", op, result.get("state"))
    return json_response({"success": True, "connected": result.get("connected") is True, "state": result.get("state")})


def checked_job(result: dict[str, Any]) -> dict[str, Any]:
    """The job in a worker result, in the documented shape; internal_error when the worker sent another."""
    try:
        return job_from_result(result)
    except ProtocolError as exc:
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, f"the TWS worker sent an invalid job: {exc}")) \
            from None


def job_response(body: dict[str, Any], status: int = 200) -> Response:
    """An answer carrying `body["job"]`; while the job is unfinished, Retry-After says when to look again: its eta
    (rounded up) within RETRY_AFTER_MIN..RETRY_AFTER_MAX seconds, RETRY_AFTER_UNKNOWN_ETA while it has none."""
    response = json_response(body, status)
    job = body["job"]
    if job["state"] not in FINISHED_STATES:
        eta = job["eta_seconds"]
        wait = RETRY_AFTER_UNKNOWN_ETA if eta is None else math.ceil(eta)
        response.headers["Retry-After"] = str(min(RETRY_AFTER_MAX, max(RETRY_AFTER_MIN, wait)))
    return response


def call_worker(op: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The worker's result for `op`, or `BridgeFailure` with the worker's error (or worker_unavailable)."""
    reply: WorkerReply = bridge_state().worker.request(op, body, timeout)
    if reply.error is not None:
        raise BridgeFailure(reply.error)
    return reply.result or {}


def _load_control_body() -> None:
    """A control request must say `Content-Type: application/json` even without a body (a browser cannot send that
    cross-origin without a preflight, which the control endpoints never grant); the body is empty or `{}`."""
    if not request.is_json:
        raise BridgeFailure(BridgeError(ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                                        "control requests need 'Content-Type: application/json' (the body may be "
                                        "empty or {})"))
    payload = _json_object(request_body())
    if payload:
        raise _invalid("control requests take no fields", {str(name): "unknown field" for name in payload})


def _load_bars_request(validated: ValidatedRequests) -> BarRequest:
    """The JSON body as a validated `BarRequest`; 415 for a body that is not JSON, 400 for anything invalid."""
    data = request_body()
    if data.strip() and not request.is_json:
        raise BridgeFailure(BridgeError(ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                                        "send the request body as JSON with 'Content-Type: application/json'"))
    known = validated.get(data)
    if known is not None:
        return known
    payload = _json_object(data)
    bar_request: BarRequest = load_validated(_bars_schema, payload)
    validated.put(data, bar_request)
    return bar_request


def query_fields() -> dict[str, str]:
    """The query string as fields, each given once (400 naming those given more than once)."""
    given = request.args.to_dict(flat=False)
    repeated = {name: "given more than once" for name, values in given.items() if len(values) > 1}
    if repeated:
        raise _invalid("invalid request: each field may be given once", repeated)
    return {name: values[0] for name, values in given.items()}


def load_validated(schema: Schema, payload: dict[str, Any]) -> Any:
    """`schema.load(payload)`, or 400 invalid_request with a message per field (POST /bars and the stream alike);
    symbol and period are named in the answer when they were valid."""
    try:
        return schema.load(payload)
    except ValidationError as exc:
        messages = field_messages(exc.messages)
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        if "symbol" in valid and "symbol" not in messages:
            g.bridge_symbol = valid["symbol"].upper()  # validated ASCII: as the request would be sent
        if "period" in valid and "period" not in messages:
            g.bridge_period = valid["period"]
        summary = "; ".join(f"{name}: {text}" for name, text in messages.items())
        raise _invalid(f"invalid request: {summary}", messages) from None


def _json_object(data: bytes) -> dict[str, Any]:
    """The body as a JSON object ({} for an empty body); 400 for malformed JSON or another JSON value."""
    try:
        payload = orjson.loads(data) if data.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise _invalid(f"malformed JSON: {exc}", {"body": "malformed JSON"}) from None
    if not isinstance(payload, dict):
        raise _invalid("the request body must be a JSON object", {"body": "must be a JSON object"})
    return payload


def _invalid(message: str, fields: dict[str, str]) -> BridgeFailure:
    return BridgeFailure(BridgeError(ErrorCode.INVALID_REQUEST, message, fields=fields))
