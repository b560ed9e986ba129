"""What a client can send that no well-behaved library does, against the real gunicorn: every answer is the bridge's
JSON error with a stable code (never gunicorn's HTML page, never a 500 with a traceback in the log), and a connection
whose body could not be framed is closed after the answer, with nothing more sent on it."""

from __future__ import annotations

import pytest

from tests.e2e.raw_http import RawAnswer, RawConnection, request

JSON = {"Content-Type": "application/json"}
VALID = b'{"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250127 16:00:00"}'
MALFORMED_CHUNKS = {
    "size that is not hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "negative size": b"-5\r\nabc\r\n0\r\n\r\n",
    "more bytes than the size": b"2\r\nabc\r\n0\r\n\r\n",
}
ENDPOINTS = [("POST", "/api/v1/bars"), ("POST", "/api/v1/connect"), ("GET", "/api/v1/health")]


def assert_json_error(answer: RawAnswer, status: int, code: str) -> dict:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    body = answer.json()
    assert (body["success"], body["code"], body["bars"], body["count"]) == (False, code, [], 0)
    assert "<" not in body["error"] and "Traceback" not in body["error"]
    return body


def assert_no_traceback(bridge) -> None:
    assert bridge.get("/health").status == 200  # the bridge still serves, and its log is written up to here
    log = bridge.log_path.read_text()
    assert "Traceback" not in log and "Error handling request" not in log


@pytest.mark.parametrize("chunks", list(MALFORMED_CHUNKS.values()), ids=list(MALFORMED_CHUNKS))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_malformed_chunked_body_is_400_and_the_connection_closes(bridge, method, path, chunks):
    with RawConnection(bridge.port) as conn:
        answer = conn.exchange(request(method, path, JSON, chunked=chunks))
        body = assert_json_error(answer, 400, "invalid_request")
        assert body["fields"] == {"body": "malformed HTTP framing"}
        assert answer.headers["connection"] == "close"
        assert conn.closed_by_peer(), "one answer, then the connection is closed: it cannot be framed any further"
    assert bridge.get("/health").body["connected"] is True, "/connect did nothing"
    assert_no_traceback(bridge)


def test_a_chunked_body_over_the_cap_is_413_not_a_cut_body(bridge):
    big = b'{"symbol": "' + b"A" * 20_000 + b'", "period": "5m", "duration": "1 D"}'  # over BRIDGE_MAX_BODY_BYTES
    with RawConnection(bridge.port) as conn:
        chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
        answer = conn.exchange(request("POST", "/api/v1/bars", JSON, chunked=chunks))
        body = assert_json_error(answer, 413, "payload_too_large")
        assert "16384" in body["error"]
        assert conn.closed_by_peer()


def test_a_chunked_body_over_the_cap_with_a_malformed_rest_gets_one_answer_only(bridge):
    # the cap stops the read; gunicorn would drain the rest and answer its framing error on the same connection
    with RawConnection(bridge.port) as conn:
        big = b"x" * 20_000
        answer = conn.exchange(request("POST", "/api/v1/connect", JSON,
                                       chunked=b"%x\r\n%s\r\nzz\r\n\r\n" % (len(big), big)))
        assert_json_error(answer, 413, "payload_too_large")
        assert conn.rest() == b"", "nothing after the 413"


def test_a_well_formed_chunked_body_is_served_and_the_connection_reused(bridge):
    with RawConnection(bridge.port) as conn:
        chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, VALID[:10], len(VALID) - 10, VALID[10:])
        first = conn.exchange(request("POST", "/api/v1/bars", JSON, chunked=chunks))
        assert first.status == 200 and first.json()["count"] == 78
        assert first.headers["connection"] == "keep-alive"
        assert conn.exchange(request("GET", "/api/v1/health")).status == 200


@pytest.mark.parametrize(("name", "raw", "status", "code"), [
    ("NUL in a header", request("POST", "/api/v1/bars", {"Content-Type": "application/\x00json"}, VALID), 400,
     "invalid_request"),
    ("a request line that is not HTTP", b"GARBAGE\r\n\r\n", 400, "invalid_request"),
    ("a bad HTTP version", b"GET /api/v1/health HTTP/7.3\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    ("a method with bad characters", b"G(E)T /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    ("a header without a colon", b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nbroken\r\n\r\n", 400,
     "invalid_request"),
    ("contradictory proxy scheme headers", request("GET", "/api/v1/health", {"X-Forwarded-Ssl": "on",
                                                                            "X-Forwarded-Proto": "http"}), 400,
     "invalid_request"),
    ("Content-Length and chunked together", b"POST /api/v1/bars HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "invalid_request"),
    ("a request line over 4094 bytes", request("GET", "/api/v1/health?" + "a" * 5000), 414, "uri_too_long"),
    ("a header over 8190 bytes", request("GET", "/api/v1/health", {"X-Big": "b" * 9000}), 431, "headers_too_large"),
    ("more than 100 headers", request("GET", "/api/v1/health", {f"X-H{i}": "v" for i in range(120)}), 431,
     "headers_too_large"),
    ("an unknown transfer coding", b"POST /api/v1/bars HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zstd\r\n\r\n", 501,
     "not_implemented"),
    ("an expectation other than 100-continue", request("GET", "/api/v1/health", {"Expect": "teapot"}), 417,
     "expectation_failed"),
])
def test_what_gunicorn_cannot_parse_is_answered_as_json(bridge, name, raw, status, code):
    with RawConnection(bridge.port) as conn:
        answer = conn.exchange(raw)
        assert_json_error(answer, status, code)
        assert conn.closed_by_peer()
    assert_no_traceback(bridge)


@pytest.mark.parametrize("path", ["//api/v1//bars", "/api/v1//bars", "/api//v1/health", "/api/v1/bars/"])
def test_a_path_with_doubled_or_trailing_slashes_is_a_json_404_never_an_html_redirect(bridge, path):
    with RawConnection(bridge.port) as conn:
        answer = conn.exchange(request("POST", path, JSON, VALID))
        assert_json_error(answer, 404, "not_found")
        assert "location" not in answer.headers
