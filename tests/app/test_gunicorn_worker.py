"""Our gunicorn worker: what gunicorn cannot parse is answered in the bridge's JSON shape with a stable code, and the
app can have a connection closed after its answer. (tests/e2e/test_http_framing.py sends the bytes to gunicorn.)"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from gunicorn.http import errors as http_errors

from app.client_deadlines import ClientTimeout, SlowClientDeadlines
from app.gunicorn_worker import GeventWorker, JsonServerErrors, _closing_on_request, encode_error_response, server_error
from app.request_body import CLOSE_CONNECTION
from shared.errors import BridgeError, ErrorCode


@pytest.mark.parametrize(("exc", "code", "status"), [
    (http_errors.InvalidRequestLine("GARBAGE"), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.InvalidRequestMethod("G(E)T"), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.InvalidHTTPVersion("HTTP/7.3"), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.InvalidHeader("CONTENT-TYPE"), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.InvalidHeaderName("bad name"), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.InvalidSchemeHeaders(), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.InvalidChunkSize(b"zz"), ErrorCode.INVALID_REQUEST, 400),
    (http_errors.LimitRequestLine(5000, 4094), ErrorCode.URI_TOO_LONG, 414),
    (http_errors.LimitRequestHeaders("limit request headers fields"), ErrorCode.HEADERS_TOO_LARGE, 431),
    (http_errors.ExpectationFailed("teapot"), ErrorCode.EXPECTATION_FAILED, 417),
    (http_errors.UnsupportedTransferCoding("zstd"), ErrorCode.NOT_IMPLEMENTED, 501),
    (http_errors.ForbiddenProxyRequest("10.0.0.1"), ErrorCode.FORBIDDEN, 403),
    (http_errors.InvalidResponseHeader("X-Bad"), ErrorCode.INTERNAL_ERROR, 500),
    (RuntimeError("secret internals"), ErrorCode.INTERNAL_ERROR, 500),
])
def test_each_server_error_has_a_stable_code_and_its_status(exc: Exception, code: ErrorCode, status: int) -> None:
    error = server_error(exc)
    assert (error.code, error.http_status) == (code, status)
    if code is ErrorCode.INTERNAL_ERROR:
        assert str(exc) not in error.message, "nothing about our internals reaches the client"


def test_the_description_quoted_from_the_request_is_bounded() -> None:
    assert len(server_error(http_errors.InvalidRequestLine("x" * 5000)).message) < 300


def test_the_answer_is_the_bridges_json_error_and_closes_the_connection() -> None:
    raw = encode_error_response(BridgeError(ErrorCode.HEADERS_TOO_LARGE, "the HTTP request could not be parsed"))
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    assert {"Connection: close", "Content-Type: application/json", f"Content-Length: {len(body)}"} <= set(lines)
    assert json.loads(body) == {"success": False, "bars": [], "count": 0,
                                "error": "the HTTP request could not be parsed", "code": "headers_too_large"}


def test_handle_error_writes_the_json_answer_to_the_client() -> None:
    worker = GeventWorker.__new__(GeventWorker)  # handle_error needs none of a worker's process state
    ours, theirs = socket.socketpair()
    with ours, theirs:
        worker.handle_error(None, ours, ("127.0.0.1", 5555), http_errors.InvalidHeader("CONTENT-TYPE"))
        ours.close()
        answer = theirs.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "invalid_request"


def test_a_slow_client_that_sent_a_request_line_gets_408_request_timeout() -> None:
    error = server_error(ClientTimeout("header", 10, answer=True))
    assert (error.code, error.http_status) == (ErrorCode.REQUEST_TIMEOUT, 408)
    assert error.message == "the request's header section did not arrive within 10 s; the connection is closed"


@pytest.mark.parametrize("phase", ["header", "idle"])
def test_a_slow_client_without_a_request_line_is_closed_without_an_answer(phase: str) -> None:
    worker = GeventWorker.__new__(GeventWorker)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        worker.handle_error(None, ours, ("127.0.0.1", 5555), ClientTimeout(phase, 10, answer=False))
        ours.close()  # what gunicorn does next
        assert theirs.recv(65536) == b""


def test_the_worker_class_is_gunicorns_gevent_worker_with_json_errors_and_deadlines() -> None:
    from gunicorn.workers.ggevent import GeventWorker as GunicornGeventWorker

    assert issubclass(GeventWorker, JsonServerErrors) and issubclass(GeventWorker, GunicornGeventWorker)
    assert issubclass(GeventWorker, SlowClientDeadlines)
    assert GeventWorker.handle_error is JsonServerErrors.handle_error
    assert GeventWorker.handle is SlowClientDeadlines.handle


class FakeResponse:
    """The part of gunicorn's Response the wrapper uses: every worker passes its bound start_response."""

    def __init__(self) -> None:
        self.closed = False
        self.started: list[str] = []

    def force_close(self) -> None:
        self.closed = True

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.started.append(status)


@pytest.mark.parametrize("close", [True, False])
def test_the_app_can_ask_gunicorn_to_close_the_connection_after_its_answer(close: bool) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if close:
            environ[CLOSE_CONNECTION] = True
        start_response("413 Payload Too Large", [("Content-Type", "application/json")])
        return [b"{}"]

    response = FakeResponse()
    assert _closing_on_request(app)({}, response.start_response) == [b"{}"]
    assert response.started == ["413 Payload Too Large"]
    assert response.closed is close
