"""Every failure as the same JSON answer: never an HTML page, never a traceback.

Shape: {"success": false, "symbol"?, "period"?, "bars": [], "count": 0, "error": <message>, "code": <stable code>,
"tws_code"?, "fields"?}; the status comes from `shared.errors.HTTP_STATUS`, and Retry-After is sent when the error
carries `retry_after`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, Response, g
from werkzeug.exceptions import HTTPException

from app.responses import json_response
from shared.errors import BridgeError, BridgeFailure, ErrorCode

log = logging.getLogger("http.errors")

# Werkzeug's statuses -> our stable codes
CODE_OF_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    414: ErrorCode.URI_TOO_LONG,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    408: ErrorCode.REQUEST_TIMEOUT,
    417: ErrorCode.EXPECTATION_FAILED,
    431: ErrorCode.HEADERS_TOO_LARGE,
    501: ErrorCode.NOT_IMPLEMENTED,
}
MESSAGE_OF_STATUS: dict[int, str] = {
    404: "no such endpoint; see /api/v1/health, /api/v1/bars, /api/v1/bars/stream, /api/v1/jobs/{id}, "
         "/api/v1/contracts, /api/v1/contracts/search, /api/v1/contracts/{symbol}/head, /api/v1/connect, "
         "/api/v1/disconnect, /api/v1/openapi.json, /metrics, / (the status page), /docs",
    405: "method not allowed on this endpoint",
    413: "request body too large",
}


def error_body(error: BridgeError) -> dict[str, Any]:
    """The failure shape; symbol and period are included once the request named them validly (see `g`)."""
    body: dict[str, Any] = {"success": False}
    for name in ("symbol", "period"):
        value = g.get(f"bridge_{name}") if g else None  # g is unbound outside a request
        if value is not None:
            body[name] = value
    body.update({"bars": [], "count": 0, "error": error.message, "code": error.code.value})
    if error.tws_code is not None:
        body["tws_code"] = error.tws_code
    if error.fields:
        body["fields"] = error.fields
    return body


def error_response(error: BridgeError, status: int | None = None, extra: dict[str, Any] | None = None) -> Response:
    """The JSON answer for `error`; `extra` adds fields (health's shape), never replacing the error's own."""
    body = {**(extra or {}), **error_body(error)}
    response = json_response(body, status or error.http_status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if error.code is ErrorCode.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tws-bridge"'
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(BridgeFailure)
    def bridge_failure(exc: BridgeFailure) -> Response:
        return error_response(exc.error)

    @app.errorhandler(HTTPException)
    def http_exception(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = CODE_OF_STATUS.get(status, ErrorCode.INVALID_REQUEST if status < 500 else ErrorCode.INTERNAL_ERROR)
        message = MESSAGE_OF_STATUS.get(status) or (exc.description or exc.name or "error")
        response = error_response(BridgeError(code, message), status)
        for name, value in exc.get_headers():
            if name.lower() in ("allow", "www-authenticate", "retry-after"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error: %s", exc)
        return error_response(BridgeError(ErrorCode.INTERNAL_ERROR, "internal error; see the bridge's log"))
