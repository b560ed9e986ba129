"""Errors as values with stable codes, and the one place where a code becomes an HTTP status.

Clients code against `code`; `message` is for people; `tws_code` is the TWS error number when TWS caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # requests the HTTP server (gunicorn, nginx) cannot parse, answered before the app runs
    URI_TOO_LONG = "uri_too_long"
    EXPECTATION_FAILED = "expectation_failed"
    HEADERS_TOO_LARGE = "headers_too_large"
    NOT_IMPLEMENTED = "not_implemented"
    REQUEST_TIMEOUT = "request_timeout"  # the header section or the body did not arrive in time
    SYMBOL_NOT_FOUND = "symbol_not_found"
    AMBIGUOUS_SYMBOL = "ambiguous_symbol"
    PACING_LIMITED = "pacing_limited"
    NOT_SUBSCRIBED = "market_data_not_subscribed"
    TWS_REJECTED = "tws_rejected"
    TWS_ERROR = "tws_error"
    TWS_UNAVAILABLE = "tws_unavailable"
    TWS_TIMEOUT = "tws_timeout"
    TWS_UNDECODABLE = "tws_undecodable"  # TWS sent a message this ibapi version cannot decode
    NO_DATA = "no_data"  # a stream of a series TWS has no bars for now (shared/streams.py)
    SUBSCRIPTIONS_EXHAUSTED = "subscriptions_exhausted"  # every live subscription slot serves stream clients
    RESUME_UNAVAILABLE = "resume_unavailable"  # a stream's resume point lies before what the worker holds
    JOB_NOT_FOUND = "job_not_found"  # no history job with that id (never was, or forgotten)
    INVALID_PAGE_TOKEN = "invalid_page_token"  # a page_token the worker did not make for this request
    WORKER_UNAVAILABLE = "worker_unavailable"
    OVERLOADED = "overloaded"  # an HTTP worker's bound on requests waiting for the TWS worker is reached
    ASSETS_MISSING = "assets_missing"  # a page's browser libraries were not installed (`make assets`)
    INTERNAL_ERROR = "internal_error"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.URI_TOO_LONG: 414,
    ErrorCode.EXPECTATION_FAILED: 417,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.SYMBOL_NOT_FOUND: 404,
    ErrorCode.AMBIGUOUS_SYMBOL: 400,
    ErrorCode.PACING_LIMITED: 429,
    ErrorCode.NOT_SUBSCRIBED: 502,
    ErrorCode.TWS_REJECTED: 502,
    ErrorCode.TWS_ERROR: 502,
    ErrorCode.TWS_UNAVAILABLE: 503,
    ErrorCode.TWS_TIMEOUT: 504,
    ErrorCode.TWS_UNDECODABLE: 502,
    ErrorCode.NO_DATA: 404,
    ErrorCode.SUBSCRIPTIONS_EXHAUSTED: 503,
    ErrorCode.RESUME_UNAVAILABLE: 410,
    ErrorCode.JOB_NOT_FOUND: 404,
    ErrorCode.INVALID_PAGE_TOKEN: 400,
    ErrorCode.WORKER_UNAVAILABLE: 503,
    ErrorCode.ASSETS_MISSING: 503,
    ErrorCode.OVERLOADED: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}


@dataclass(frozen=True)
class BridgeError:
    code: ErrorCode
    message: str
    tws_code: int | None = None
    retry_after: float | None = None  # seconds; sent as Retry-After
    fields: dict[str, Any] = field(default_factory=dict)  # per-field messages for invalid_request

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.tws_code is not None:
            wire["tws_code"] = self.tws_code
        if self.retry_after is not None:
            wire["retry_after"] = self.retry_after
        if self.fields:
            wire["fields"] = self.fields
        return wire

    @classmethod
    def from_wire(cls, wire: Any) -> BridgeError:
        if not isinstance(wire, dict):
            raise ValueError("error must be an object")
        try:
            code = ErrorCode(wire.get("code"))
        except ValueError:
            code = ErrorCode.INTERNAL_ERROR
        message = wire.get("message")
        tws_code = wire.get("tws_code")
        retry_after = wire.get("retry_after")
        fields = wire.get("fields")
        return cls(code, message if isinstance(message, str) else "error",
                   tws_code if isinstance(tws_code, int) else None,
                   float(retry_after) if isinstance(retry_after, int | float) else None,
                   {str(k): v for k, v in fields.items()} if isinstance(fields, dict) else {})


class BridgeFailure(Exception):
    """Carries a BridgeError through code that raises; the HTTP layer turns it into the JSON answer."""

    def __init__(self, error: BridgeError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
