"""The shipped nginx configuration (deploy/nginx/tws-bridge.conf) in Debian's nginx, in front of a real bridge and the
simulator: every answer a client can get through it is JSON with `success` and `code`, the control endpoints are not
exposed, and kept-alive connections are reused on both sides of nginx."""

from __future__ import annotations

import threading

import pytest

from tests.e2e.raw_http import RawAnswer, RawConnection, request
from tests.ports import connections_to, free_port

JSON = {"Content-Type": "application/json"}
VALID = b'{"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250127 16:00:00"}'


def exchange(port: int, raw: bytes) -> RawAnswer:
    with RawConnection(port) as conn:
        return conn.exchange(raw)


def assert_json_error(answer: RawAnswer, status: int, code: str) -> dict:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    body = answer.json()
    assert (body["success"], body["code"], body["bars"], body["count"]) == (False, code, [], 0)
    return body


def test_health_and_bars_pass_through_with_the_bridges_cors(nginx):
    health = exchange(nginx.port, request("GET", "/api/v1/health", {"Origin": "http://app.example"}))
    assert health.status == 200 and health.json()["connected"] is True
    assert health.headers["access-control-allow-origin"] == "*"
    bars = exchange(nginx.port, request("POST", "/api/v1/bars", JSON, VALID))
    assert bars.status == 200 and bars.json()["count"] == 78


@pytest.mark.parametrize(("raw", "status", "code"), [
    (request("POST", "/api/v1/bars", {"Content-Type": "application/x\x00json"}, VALID), 400, "invalid_request"),
    (b"GARBAGE\r\n\r\n", 400, "invalid_request"),
    (b"G(E)T /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    (b"GET /api/v1/health HTTP/7.3\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    (b"GET /api/v1/he%00alth HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    (b"GET /api/v1/health HTTP/1.1\r\n\r\n", 400, "invalid_request"),  # no Host
    (b"POST /api/v1/bars HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "invalid_request"),
    (request("POST", "/api/v1/bars", JSON, chunked=b"zz\r\nabc\r\n0\r\n\r\n"), 400, "invalid_request"),
    (b"POST /api/v1/bars HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zstd\r\n\r\n", 501, "not_implemented"),
    (request("GET", "/api/v1/health", {"X-Big": "b" * 9000}), 431, "headers_too_large"),
    (request("GET", "/api/v1/health?" + "a" * 9000), 414, "uri_too_long"),
    (request("POST", "/api/v1/bars", JSON, b" " * 100_000), 413, "payload_too_large"),  # client_max_body_size
    (request("POST", "/api/v1/bars", JSON, chunked=b"%x\r\n%s\r\n0\r\n\r\n" % (100_000, b" " * 100_000)), 413,
     "payload_too_large"),
    (request("TRACE", "/api/v1/health"), 405, "method_not_allowed"),
    (request("GET", "/index.html"), 404, "not_found"),
    (request("GET", "/favicon.ico"), 404, "not_found"),
    (request("GET", "/api/"), 404, "not_found"),
    (request("POST", "/api/v1/nope", JSON, b"{}"), 404, "not_found"),
    (request("GET", "/.tws-bridge-errors/forbidden"), 404, "not_found"),  # the error pages are internal
], ids=lambda value: value[:40] if isinstance(value, bytes) else None)
def test_what_nginx_answers_itself_is_json_with_cors(nginx, raw, status, code):
    answer = exchange(nginx.port, raw)
    assert_json_error(answer, status, code)
    assert answer.headers["access-control-allow-origin"] == "*"


def test_the_status_page_and_its_files_pass_through_never_nginxs_welcome_page(nginx):
    page = exchange(nginx.port, request("GET", "/"))
    assert page.status == 200 and page.headers["content-type"].startswith("text/html"), page
    assert b"tws-bridge" in page.body and b"nginx" not in page.body.lower()
    script = exchange(nginx.port, request("GET", "/static/status/status.js"))
    assert script.status == 200 and "javascript" in script.headers["content-type"], script


def test_metrics_pass_through_for_a_scraper_on_this_host_only(nginx):
    scrape = exchange(nginx.port, request("GET", "/metrics"))
    assert scrape.status == 200 and scrape.headers["content-type"].startswith("text/plain"), scrape
    assert b"tws_bridge_worker_up 1" in scrape.body
    with RawConnection(nginx.port, source="127.0.0.2") as conn:  # another address (of loopback, as tests must be)
        refused = conn.exchange(request("GET", "/metrics"))
    assert_json_error(refused, 403, "forbidden")


def test_a_request_nginx_passes_but_gunicorn_cannot_parse_is_the_bridges_json(nginx):
    # nginx adds X-Forwarded-Proto http to the client's X-Forwarded-Ssl on: gunicorn sees contradictory schemes
    answer = exchange(nginx.port, request("GET", "/api/v1/health", {"X-Forwarded-Ssl": "on"}))
    body = assert_json_error(answer, 400, "invalid_request")
    assert "scheme" in body["error"]


@pytest.mark.parametrize(("raw", "status", "code"), [
    (request("GET", "/api/v1/bars"), 405, "method_not_allowed"),
    (request("POST", "/api/v1/bars", JSON, b'{"symbol": "AAPL"}'), 400, "invalid_request"),
    (request("POST", "/api/v1/bars", JSON, b'{"symbol": "NOSUCHSYM", "period": "5m", "duration": "1 D"}'), 404,
     "symbol_not_found"),
    (request("POST", "/api/v1/bars", JSON, b" " * 20_000), 413, "payload_too_large"),  # the bridge's own cap
    (request("GET", "/api/v1/jobs/" + "0" * 32), 404, "job_not_found"),  # the 202's Location passes through
    (request("DELETE", "/api/v1/jobs/" + "0" * 32), 404, "job_not_found"),
    (request("GET", "/api/v1/contracts/NOSUCHSYM/head"), 404, "symbol_not_found"),
    (request("GET", "/api/v1/contracts?symbol=NOSUCHSYM"), 404, "symbol_not_found"),  # the look-up, no slash
    (request("GET", "/api/v1/contracts/search?q=A,B"), 400, "invalid_request"),
])
def test_the_bridges_own_errors_pass_unchanged(nginx, raw, status, code):
    assert_json_error(exchange(nginx.port, raw), status, code)


@pytest.mark.parametrize("path", ["/api/v1/connect", "/api/v1/disconnect", "/api/v1/%64isconnect",
                                  "//api/v1//disconnect", "/api/v1/./disconnect", "/api/v1/x/../disconnect",
                                  "/api/v1/disconnect/"])
def test_the_control_endpoints_are_not_exposed(nginx, bridge, path):
    answer = exchange(nginx.port, request("POST", path, JSON, b"{}"))
    body = assert_json_error(answer, 403, "forbidden")
    assert "nginx" in body["error"]
    assert "access-control-allow-origin" not in answer.headers
    assert bridge.get("/health").body["connected"] is True


def test_the_bridge_refuses_control_through_a_proxy_even_where_nginx_lets_it(nginx, bridge):
    # what a config that forgot the block would get: the bridge sees nginx's X-Forwarded-For and says no
    answer = exchange(bridge.port, request("POST", "/api/v1/disconnect", {**JSON, "X-Forwarded-For": "10.1.2.3"},
                                           b"{}"))
    assert_json_error(answer, 403, "forbidden")
    assert bridge.get("/health").body["connected"] is True


def test_gunicorn_down_is_a_json_503_with_retry_after_and_cors(make_nginx):
    proxy = make_nginx(free_port())  # nothing listens there: nginx cannot connect (its 502)
    for raw in (request("GET", "/api/v1/health"), request("POST", "/api/v1/bars", JSON, VALID)):
        answer = exchange(proxy.port, raw)
        assert_json_error(answer, 503, "worker_unavailable")
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["access-control-allow-origin"] == "*"
        assert answer.headers["access-control-expose-headers"] == "Retry-After"


def test_an_upstream_slower_than_the_read_timeout_is_a_json_503(make_nginx, bridge, tws):
    proxy = make_nginx(bridge.port, read_timeout="1s")
    tws.control("reply_delay", seconds=4)  # the bridge answers after 4 s; nginx gives up after 1 s (its 504)
    try:
        body = b'{"symbol": "MSFT", "period": "5m", "duration": "1 D", "end_datetime": "20250121 16:00:00"}'
        answer = exchange(proxy.port, request("POST", "/api/v1/bars", JSON, body))
    finally:
        tws.control("reply_delay", seconds=0)
    assert_json_error(answer, 503, "worker_unavailable")
    assert answer.headers["retry-after"] == "1"


def test_connections_idle_for_3_s_and_10_s_are_reused_by_the_client_and_by_nginx(nginx, bridge):
    def health(conn: RawConnection) -> None:
        answer = conn.exchange(request("GET", "/api/v1/health"))
        assert answer.status == 200 and answer.headers["connection"] == "keep-alive"

    with RawConnection(nginx.port) as after_3, RawConnection(nginx.port) as after_10:
        health(after_3)
        health(after_10)
        upstream = connections_to(bridge.port)  # nginx's connections to gunicorn, kept alive
        assert upstream
        threading.Event().wait(3)  # a client's pause between polls: the behaviour under test
        health(after_3)
        assert connections_to(bridge.port) - upstream == set(), "nginx reused an upstream connection"
        threading.Event().wait(7)
        health(after_10)
        assert connections_to(bridge.port) - upstream == set(), "nginx reused an upstream connection"
