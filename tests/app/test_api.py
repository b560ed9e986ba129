"""The /api/v1 endpoints against a stand-in worker: what is forwarded, and how each reply becomes an HTTP answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from shared.protocol import WorkerReply
from tests.app.conftest import BAR, CONNECTED_HEALTH, WorkerStub, error, result

VALID = {"symbol": "AAPL", "period": "5m", "duration": "1 D"}


class TestHealth:
    def test_ok_when_tws_is_connected(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.get("/api/v1/health")
        assert response.status_code == 200
        body = response.get_json()
        assert list(body)[:6] == ["status", "connected", "tws_host", "tws_port", "uptime_seconds", "version"]
        assert body["status"] == "ok" and body["connected"] is True
        assert (body["tws_host"], body["tws_port"]) == ("127.0.0.1", 7497)
        assert body["uptime_seconds"] >= 0 and body["version"] == "0.1.0"
        assert body["worker"] == CONNECTED_HEALTH
        assert stub.requests[0].op == "health" and stub.requests[0].body == {}

    def test_degraded_but_200_when_tws_is_down(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({**CONNECTED_HEALTH, "connected": False, "state": "connecting",
                               "reconnect_attempts": 3})
        response = client.get("/api/v1/health")
        assert response.status_code == 200
        body = response.get_json()
        assert (body["status"], body["connected"]) == ("degraded", False)
        assert body["worker"]["reconnect_attempts"] == 3

    def test_503_within_the_worker_timeout_when_the_worker_is_not_running(self, client: FlaskClient) -> None:
        started = time.monotonic()
        response = client.get("/api/v1/health")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert 0.3 <= elapsed < 1.5
        body = response.get_json()
        assert body["code"] == "worker_unavailable" and body["success"] is False
        assert (body["status"], body["connected"], body["worker"]) == ("unavailable", False, None)
        assert {"tws_host", "tws_port", "uptime_seconds", "version", "error"} <= set(body)
        assert response.headers["Retry-After"] == "1"

    def test_503_when_the_worker_hangs(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        started = time.monotonic()
        response = client.get("/api/v1/health")
        assert response.status_code == 503 and time.monotonic() - started < 1.5
        assert response.get_json()["code"] == "worker_unavailable"

    def test_the_default_worker_timeout_answers_503_within_2_seconds(self, app_factory: Callable[..., Flask]) -> None:
        client = app_factory(worker_timeout=2.0).test_client()
        started = time.monotonic()
        assert client.get("/api/v1/health").status_code == 503
        assert time.monotonic() - started < 2.5


class TestBars:
    def test_forwards_the_validated_request_and_answers_the_bars(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.post("/api/v1/bars", json={**VALID, "include_forming": True})
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "symbol": "AAPL", "period": "5m", "bars": [BAR],
                                       "count": 1, "next_page_token": None, "error": None}
        (request,) = stub.requests
        assert request.op == "bars"
        assert BarRequest.from_wire(request.body) == BarRequest("AAPL", "5 mins", "1 D", include_forming=True)

    def test_the_envelope_deadline_covers_the_bar_timeout(self, client: FlaskClient, stub: WorkerStub) -> None:
        before = time.time()
        client.post("/api/v1/bars", json=VALID)
        assert stub.requests[0].deadline >= before + 1.0  # bar_timeout in the test configuration

    def test_zero_bars_come_with_the_tws_notice(self, client: FlaskClient, stub: WorkerStub) -> None:
        notice = {"tws_code": 162,
                  "message": "Historical Market Data Service error message:HMDS query returned no data"}
        stub.handler = result({"bars": [], "notice": notice})
        response = client.post("/api/v1/bars", json=VALID)
        assert response.status_code == 200
        body = response.get_json()
        assert (body["success"], body["bars"], body["count"], body["notice"]) == (True, [], 0, notice)

    def test_no_notice_field_when_there_are_bars(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert "notice" not in client.post("/api/v1/bars", json=VALID).get_json()

    def test_logs_one_info_line_per_request(self, client: FlaskClient, stub: WorkerStub,
                                            caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.INFO, logger="http.api"):
            client.post("/api/v1/bars", json={**VALID, "symbol": "MSFT", "period": "1h", "duration": "2 D"})
        (record,) = [r for r in caplog.records if r.name == "http.api"]
        assert record.levelno == logging.INFO
        message = record.getMessage()
        for part in ("MSFT", "1h", "2 D", "1 bars", " s"):
            assert part in message

    def test_a_hung_worker_is_unavailable_after_the_bar_timeout_and_margin(self, client: FlaskClient,
                                                                           stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        started = time.monotonic()
        response = client.post("/api/v1/bars", json=VALID)
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and response.get_json()["code"] == "worker_unavailable"
        assert 1.3 <= elapsed < 2.5  # bar_timeout 1.0 + worker_timeout 0.3

    def test_a_worker_that_is_not_running_is_reported_within_the_worker_timeout(self, client: FlaskClient) -> None:
        started = time.monotonic()
        response = client.post("/api/v1/bars", json=VALID)
        assert response.status_code == 503 and time.monotonic() - started < 1.0  # not the bar timeout
        body = response.get_json()
        assert (body["code"], body["symbol"], body["period"]) == ("worker_unavailable", "AAPL", "5m")


PAST = {**VALID, "end_datetime": "20250127 16:00:00"}


class TestFinalAnswersKeptByTheHttpWorker:
    """An answer the worker calls final (`"ttl": null`) is answered again from the HTTP worker, without a trip."""

    def test_a_final_answer_is_repeated_without_asking_the_worker(self, client: FlaskClient,
                                                                  stub: WorkerStub) -> None:
        stub.handler = result({"bars": [BAR], "notice": None, "ttl": None})
        first = client.post("/api/v1/bars", json=PAST)
        again = client.post("/api/v1/bars", json={**PAST, "symbol": "aapl", "what": "trades"})  # the same request
        assert first.status_code == again.status_code == 200
        assert again.data == first.data and again.mimetype == "application/json"
        assert again.get_json() == {"success": True, "symbol": "AAPL", "period": "5m", "bars": [BAR], "count": 1,
                                    "next_page_token": None, "error": None}
        assert len(stub.requests) == 1

    def test_a_different_request_still_goes_to_the_worker(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"bars": [BAR], "notice": None, "ttl": None})
        client.post("/api/v1/bars", json=PAST)
        client.post("/api/v1/bars", json={**PAST, "duration": "2 D"})
        client.post("/api/v1/bars", json={**PAST, "session": "all"})
        assert len(stub.requests) == 3

    @pytest.mark.parametrize("reply", [{"bars": [BAR], "notice": None, "ttl": 15.0},  # ends now: may still change
                                       {"bars": [BAR], "notice": None}])  # a worker that does not say
    def test_an_answer_that_may_change_is_asked_again(self, client: FlaskClient, stub: WorkerStub,
                                                      reply: dict[str, Any]) -> None:
        stub.handler = result(reply)
        for _ in range(2):
            assert client.post("/api/v1/bars", json=PAST).status_code == 200
        assert len(stub.requests) == 2

    def test_an_answer_ending_now_is_never_kept_whatever_the_worker_says(self, client: FlaskClient,
                                                                         stub: WorkerStub) -> None:
        stub.handler = result({"bars": [BAR], "notice": None, "ttl": None})
        for _ in range(2):
            client.post("/api/v1/bars", json=VALID)
            client.post("/api/v1/bars", json={**VALID, "include_forming": True})
        assert len(stub.requests) == 4

    def test_an_error_is_never_kept(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.TWS_TIMEOUT, "slow"))
        for _ in range(2):
            assert client.post("/api/v1/bars", json=PAST).status_code == 504
        assert len(stub.requests) == 2

    def test_a_kept_answer_is_served_while_the_worker_is_down(self, app_factory: Callable[..., Flask],
                                                              stub: WorkerStub) -> None:
        client = app_factory().test_client()
        stub.handler = result({"bars": [], "notice": {"tws_code": 162, "message": "no data"}, "ttl": None})
        first = client.post("/api/v1/bars", json=PAST)
        stub.stop()
        assert client.post("/api/v1/bars", json=PAST).data == first.data
        assert client.post("/api/v1/bars", json={**PAST, "duration": "2 D"}).status_code == 503

    def test_bridge_http_cache_mb_0_keeps_nothing(self, app_factory: Callable[..., Flask], stub: WorkerStub) -> None:
        client = app_factory(http_cache_mb=0).test_client()
        stub.handler = result({"bars": [BAR], "notice": None, "ttl": None})
        for _ in range(2):
            client.post("/api/v1/bars", json=PAST)
        assert len(stub.requests) == 2

    def test_health_shows_this_http_workers_cache_and_waiting_requests(self, client: FlaskClient,
                                                                       stub: WorkerStub) -> None:
        stub.handler = lambda request: WorkerReply(request.id, result=(
            CONNECTED_HEALTH if request.op == "health" else {"bars": [BAR], "notice": None, "ttl": None}))
        for _ in range(3):
            client.post("/api/v1/bars", json=PAST)
        http_worker = client.get("/api/v1/health").get_json()["http_worker"]
        assert http_worker["waiting_requests"] == 0 and http_worker["max_waiting_requests"] == 500
        assert (http_worker["answer_cache"]["entries"], http_worker["answer_cache"]["hits"]) == (1, 2)


class TestWorkerErrorsBecomeStatuses:
    @pytest.mark.parametrize(("error_value", "status"), [
        (BridgeError(ErrorCode.SYMBOL_NOT_FOUND, "No security definition has been found", tws_code=200), 404),
        (BridgeError(ErrorCode.AMBIGUOUS_SYMBOL, "ambiguous: give exchange and currency"), 400),
        (BridgeError(ErrorCode.TWS_UNAVAILABLE, "not connected to TWS", tws_code=504), 503),
        (BridgeError(ErrorCode.TWS_TIMEOUT, "TWS did not answer within 30 s"), 504),
        (BridgeError(ErrorCode.TWS_ERROR, "Historical Market Data Service error message:bad", tws_code=162), 502),
        (BridgeError(ErrorCode.NOT_SUBSCRIBED, "No market data permissions", tws_code=354), 502),
        (BridgeError(ErrorCode.INTERNAL_ERROR, "worker bug"), 500),
    ])
    def test_each_code_has_its_status(self, client: FlaskClient, stub: WorkerStub, error_value: BridgeError,
                                      status: int) -> None:
        stub.handler = error(error_value)
        response = client.post("/api/v1/bars", json=VALID)
        assert response.status_code == status
        expected: dict[str, Any] = {"success": False, "symbol": "AAPL", "period": "5m", "bars": [], "count": 0,
                                    "error": error_value.message, "code": error_value.code.value}
        if error_value.tws_code is not None:
            expected["tws_code"] = error_value.tws_code
        assert response.get_json() == expected
        assert "Retry-After" not in response.headers

    def test_pacing_sends_retry_after(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.PACING_LIMITED, "pacing violation", tws_code=162,
                                         retry_after=14.2))
        response = client.post("/api/v1/bars", json=VALID)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "15"
        assert response.get_json()["code"] == "pacing_limited"

    def test_a_reply_that_is_not_an_envelope_is_a_500(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: b"<html>oops</html>"
        response = client.post("/api/v1/bars", json=VALID)
        assert response.status_code == 500 and response.get_json()["code"] == "internal_error"

    def test_bars_that_are_not_a_list_are_a_500(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"bars": "lots"})
        assert client.post("/api/v1/bars", json=VALID).status_code == 500


class TestConnectionControl:
    @pytest.mark.parametrize(("op", "connected", "state"), [("connect", True, "connected"),
                                                            ("disconnect", False, "stopped")])
    def test_forwards_and_answers(self, client: FlaskClient, stub: WorkerStub, op: str, connected: bool,
                                  state: str) -> None:
        response = client.post(f"/api/v1/{op}", json={})
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "connected": connected, "state": state}
        assert [r.op for r in stub.requests] == [op]

    def test_503_when_the_worker_is_not_running(self, client: FlaskClient) -> None:
        response = client.post("/api/v1/disconnect", json={})
        assert response.status_code == 503
        assert response.get_json()["code"] == "worker_unavailable"


class TestFactory:
    def test_reads_the_configuration_from_the_environment_when_not_given(
            self, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
        monkeypatch.setenv("BRIDGE_ENV_FILE", "/nonexistent/.env")
        monkeypatch.setenv("BRIDGE_WORKER_ENDPOINT", endpoint)
        monkeypatch.setenv("TWS_PORT", "4002")
        app = create_app()
        state = app.extensions["tws_bridge"]
        try:
            assert (state.config.worker_endpoint, state.config.tws_port) == (endpoint, 4002)
            assert app.config["MAX_CONTENT_LENGTH"] == state.config.max_body_bytes
        finally:
            state.worker.close()
