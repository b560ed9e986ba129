"""Reading the request body: once per request, for every endpoint, before any answer, never past the cap.

Every request's body is read here first (views use the bytes kept in `g`), whether the endpoint needs it or not:
a body nobody read would be drained by the server after the answer, where a framing error could no longer be
answered. A body sent with `Transfer-Encoding: chunked` has no Content-Length to check up front, so the cap is
enforced while reading: one byte more than `BRIDGE_MAX_BODY_BYTES` is 413, never a silently cut body.
"""

from __future__ import annotations

import logging

from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from app.client_deadlines import ClientTimeout
from shared.errors import BridgeError, BridgeFailure, ErrorCode

log = logging.getLogger("http.request_body")
READ_STEP = 64 * 1024
# environ key: close the connection after this answer (app/gunicorn_worker.py tells gunicorn)
CLOSE_CONNECTION = "tws_bridge.close_connection"


def read_body(max_bytes: int) -> bytes:
    """The whole body (b"" when there is none), kept in `g.request_body`.

    413 `payload_too_large` beyond `max_bytes`; 400 `invalid_request` when the body cannot be framed (a malformed
    chunk size or terminator, fewer bytes than Content-Length); 408 `request_timeout` when it did not arrive within
    BRIDGE_BODY_TIMEOUT. Either way the connection closes after the answer: the rest of the body was not read, or
    where the next request would start is unknown.
    """
    length = request.content_length  # None for a chunked body
    if (length or 0) > max_bytes:
        raise _too_large(max_bytes)
    try:
        body = _read_exactly(length) if length is not None else _read_chunked(max_bytes)
    except RequestEntityTooLarge:
        raise _too_large(max_bytes) from None
    except ClientTimeout as exc:  # BRIDGE_BODY_TIMEOUT passed (app/client_deadlines.py): 408, then close
        log.info("request body from %s too slow: %s", request.remote_addr, exc)
        request.environ[CLOSE_CONNECTION] = True
        raise BridgeFailure(BridgeError(ErrorCode.REQUEST_TIMEOUT, f"{exc}; the connection is closed")) from None
    except Exception as exc:  # whatever the reader raises: gunicorn's InvalidChunkSize, werkzeug's ClientDisconnected
        log.warning("unreadable request body from %s: %s: %s", request.remote_addr, type(exc).__name__, exc)
        request.environ[CLOSE_CONNECTION] = True
        raise BridgeFailure(BridgeError(
            ErrorCode.INVALID_REQUEST, "the request body could not be read: malformed chunked encoding, or fewer "
            "bytes than Content-Length", fields={"body": "malformed HTTP framing"})) from None
    g.request_body = body
    return body


def _read_exactly(length: int) -> bytes:
    """A body with Content-Length: the server's stream ends there (WSGI), so one read of `length` bytes is all."""
    body: bytes = request.environ["wsgi.input"].read(length) if length else b""
    if len(body) != length:
        raise ValueError(f"{len(body)} of {length} bytes")
    return body


def _read_chunked(max_bytes: int) -> bytes:
    """A chunked body (or none): read to its end, one byte past the cap at most, to see that it is over."""
    # the server terminates the stream (gunicorn sets wsgi.input_terminated)
    stream = get_input_stream(request.environ, max_content_length=max_bytes + 1)
    parts: list[bytes] = []
    size = 0
    while size <= max_bytes:
        part = stream.read(min(READ_STEP, max_bytes + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > max_bytes:
        raise RequestEntityTooLarge()
    return b"".join(parts)


def request_body() -> bytes:
    """The body `read_body` kept for this request."""
    body: bytes = g.get("request_body", b"")
    return body


def _too_large(max_bytes: int) -> BridgeFailure:
    request.environ[CLOSE_CONNECTION] = True
    return BridgeFailure(BridgeError(ErrorCode.PAYLOAD_TOO_LARGE,
                                     f"request body too large (at most {max_bytes} bytes)"))
