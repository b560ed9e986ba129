"""What each status of the API means and which error codes it carries: the error half of the spec's responses.

One meaning per code (shared.errors.ErrorCode), written once; each operation lists its statuses and their codes
(app/openapi/spec.py), and a status's answer is the shared Error shape with `code` narrowed to those codes.
"""

from __future__ import annotations

from typing import Any

from shared.errors import HTTP_STATUS, ErrorCode

E = ErrorCode
MEANING: dict[ErrorCode, str] = {
    E.INVALID_REQUEST: "a bad or unknown field (`fields` has a message per field), malformed JSON, or a body that "
                       "cannot be framed",
    E.UNAUTHORIZED: "BRIDGE_API_TOKEN is set and `Authorization: Bearer <token>` is missing or wrong",
    E.FORBIDDEN: "a control request from a browser (an Origin header) or, without a token, not from a direct local "
                 "client",
    E.NOT_FOUND: "no such route",
    E.METHOD_NOT_ALLOWED: "no such method on this route",
    E.PAYLOAD_TOO_LARGE: "the body is over BRIDGE_MAX_BODY_BYTES",
    E.UNSUPPORTED_MEDIA_TYPE: "a body that is not JSON; a control request without `Content-Type: application/json`",
    E.URI_TOO_LONG: "the request line is over the HTTP server's limit",
    E.EXPECTATION_FAILED: "an `Expect` header other than 100-continue",
    E.HEADERS_TOO_LARGE: "the header section is over the HTTP server's limits",
    E.NOT_IMPLEMENTED: "an unknown transfer coding",
    E.REQUEST_TIMEOUT: "the header section or the body did not arrive within BRIDGE_HEADER_TIMEOUT / "
                       "BRIDGE_BODY_TIMEOUT; the connection is closed",
    E.SYMBOL_NOT_FOUND: "TWS knows no such contract (`tws_code` 200)",
    E.AMBIGUOUS_SYMBOL: "the fields match several contracts: `fields.candidates` lists them (up to 20); name one by "
                        "con_id, or narrow it (exchange, currency, last_trade_date, strike, right, ...)",
    E.PACING_LIMITED: "TWS refused for pacing (162 / 322), or keeping IB's pacing rules would take past the "
                      "request's deadline",
    E.NOT_SUBSCRIBED: "the account has no market data subscription for this",
    E.TWS_REJECTED: "TWS refused the request (with its message and `tws_code`)",
    E.TWS_ERROR: "any other TWS error (with its message and `tws_code`)",
    E.TWS_UNAVAILABLE: "TWS is not connected: answered at once, never after a timeout",
    E.TWS_TIMEOUT: "TWS did not answer within BAR_TIMEOUT (the upstream request is cancelled)",
    E.TWS_UNDECODABLE: "TWS sent a message this ibapi version cannot decode; the connection stays up",
    E.NO_DATA: "TWS has no bars (or no head timestamp) for this series now",
    E.SUBSCRIPTIONS_EXHAUSTED: "a new live subscription is needed and every one of BRIDGE_MAX_SUBSCRIPTIONS serves "
                               "stream clients",
    E.RESUME_UNAVAILABLE: "a stream's resume point is older than the series' window",
    E.JOB_NOT_FOUND: "no job has this id (also any id that is not 32 lowercase hex digits)",
    E.INVALID_PAGE_TOKEN: "page_token is not one the bridge made for this request (same fields, same limit)",
    E.WORKER_UNAVAILABLE: "the TWS worker process does not answer (it is restarted automatically)",
    E.OVERLOADED: "the HTTP worker already has BRIDGE_MAX_WAITING_REQUESTS requests waiting: answered at once",
    E.ASSETS_MISSING: "the page's browser libraries are not installed (`make assets`)",
    E.INTERNAL_ERROR: "a bug in the bridge (details in its log, never in the answer)",
}
# Codes that carry Retry-After (seconds) when the bridge knows when to try again
RETRY_AFTER_CODES = frozenset({E.PACING_LIMITED, E.TWS_UNAVAILABLE, E.SUBSCRIPTIONS_EXHAUSTED, E.OVERLOADED,
                               E.WORKER_UNAVAILABLE})
# Any request may meet these, whatever its endpoint: the body is read and capped app-wide before any view
# (app/request_body.py), and the HTTP server refuses what it cannot parse before the app runs
ANY_REQUEST = (E.INVALID_REQUEST, E.REQUEST_TIMEOUT, E.PAYLOAD_TOO_LARGE, E.URI_TOO_LONG, E.EXPECTATION_FAILED,
               E.HEADERS_TOO_LARGE, E.NOT_IMPLEMENTED, E.INTERNAL_ERROR)
# What asking the TWS worker can answer besides the operation's own errors (app/worker_client.py)
WORKER_CALL = (E.WORKER_UNAVAILABLE, E.OVERLOADED)
# What asking TWS itself can answer (worker/tws/errors.py maps TWS's codes to these)
TWS_CALL = (E.SYMBOL_NOT_FOUND, E.AMBIGUOUS_SYMBOL, E.PACING_LIMITED, E.NOT_SUBSCRIBED, E.TWS_REJECTED, E.TWS_ERROR,
            E.TWS_UNDECODABLE, E.TWS_UNAVAILABLE, E.TWS_TIMEOUT)

ERROR_REF = "#/components/schemas/Error"


def error_responses(*codes: ErrorCode, schema_ref: str = ERROR_REF) -> dict[str, dict[str, Any]]:
    """The responses for `codes` (and every request's own), by status: the Error shape, `code` narrowed."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, *ANY_REQUEST):
        listed = by_status.setdefault(HTTP_STATUS[code], [])
        if code not in listed:
            listed.append(code)
    return {str(status): error_response(status, listed, schema_ref) for status, listed in sorted(by_status.items())}


def error_response(status: int, codes: list[ErrorCode], schema_ref: str = ERROR_REF) -> dict[str, Any]:
    lines = "\n".join(f"- `{code.value}`: {MEANING[code]}" for code in codes)
    response: dict[str, Any] = {
        "description": f"{lines}",
        "content": {"application/json": {"schema": {
            "allOf": [{"$ref": schema_ref}],
            "properties": {"code": {"enum": [code.value for code in codes]}}}}},
    }
    headers: dict[str, Any] = {}
    if any(code in RETRY_AFTER_CODES for code in codes):
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    if E.UNAUTHORIZED in codes:
        headers["WWW-Authenticate"] = {"description": "`Bearer realm=\"tws-bridge\"`", "schema": {"type": "string"}}
    if headers:
        response["headers"] = headers
    return response
