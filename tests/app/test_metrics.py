"""GET /metrics in one process: requests counted by route template, method and status with bounded labels; the TWS
worker's figures collected at scrape time; 200 with `tws_bridge_worker_up 0` when the worker does not answer; open
like /health when a token is set."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from shared.protocol import WorkerReply, WorkerRequest
from tests.app.conftest import WorkerStub, default_handler

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TOKEN = "a-token-of-sixteen-chars-or-more"


def scrape(client: FlaskClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.get_data(as_text=True)) for s in family.samples}


def requests_of(samples: Samples, route: str, method: str, status: str) -> float:
    key = frozenset({("route", route), ("method", method), ("status", status)})
    return samples.get(("tws_bridge_http_requests_total", key), 0.0)


def with_metrics(stub: WorkerStub, figures: dict[str, object] | None = None) -> WorkerStub:
    def handler(request: WorkerRequest) -> WorkerReply | bytes | None:
        if request.op == "metrics":
            return WorkerReply(request.id, result=figures or {})
        return default_handler(request)
    stub.handler = handler
    return stub


@pytest.fixture
def worker(stub: WorkerStub) -> WorkerStub:
    """The stand-in worker, answering "metrics" with no figures."""
    return with_metrics(stub)


def test_requests_are_counted_by_route_template_method_and_status(client: FlaskClient, worker: WorkerStub) -> None:
    before = scrape(client)
    client.get("/api/v1/health")
    client.get("/api/v1/jobs/0123456789abcdef")
    client.get("/api/v1/jobs/fedcba9876543210")
    client.post("/api/v1/bars", data=b"{", content_type="application/json")
    after = scrape(client)
    for route, method, status, count in (("/api/v1/health", "GET", "200", 1),
                                         ("/api/v1/jobs/<job_id>", "GET", "404", 2),
                                         ("/api/v1/bars", "POST", "400", 1)):
        assert requests_of(after, route, method, status) - requests_of(before, route, method, status) == count
    latency = ("tws_bridge_http_request_duration_seconds_count", frozenset({("route", "/api/v1/bars")}))
    assert after[latency] - before.get(latency, 0.0) == 1


def test_unknown_paths_and_methods_are_one_label_each(client: FlaskClient, worker: WorkerStub) -> None:
    before = scrape(client)
    for path in ("/nowhere", "/api/v1/nothing/0", "/api/v1/nothing/1"):
        assert client.get(path).status_code == 404
    assert client.open("/api/v1/health", method="BREW").status_code == 405
    after = scrape(client)
    assert requests_of(after, "unmatched", "GET", "404") - requests_of(before, "unmatched", "GET", "404") == 3
    assert requests_of(after, "unmatched", "other", "405") - requests_of(before, "unmatched", "other", "405") == 1
    routes = {dict(labels).get("route") for name, labels in after}
    assert not any(route and "nothing" in route for route in routes)


def test_a_request_refused_before_its_view_is_counted_too(app_factory: Callable[..., Flask],
                                                          worker: WorkerStub) -> None:
    client = app_factory(api_token=TOKEN).test_client()
    before = scrape(client)
    assert client.post("/api/v1/bars", json={"symbol": "AAPL"}).status_code == 401
    after = scrape(client)
    assert requests_of(after, "/api/v1/bars", "POST", "401") - requests_of(before, "/api/v1/bars", "POST", "401") == 1


def test_metrics_is_open_like_health_when_a_token_is_set(app_factory: Callable[..., Flask], worker: WorkerStub) -> None:
    client = app_factory(api_token=TOKEN).test_client()
    assert client.get("/metrics").status_code == 200
    assert client.post("/metrics").status_code == 405
    assert client.post("/metrics").json["code"] == "method_not_allowed"


def test_the_workers_figures_are_asked_for_at_scrape_time(client: FlaskClient, stub: WorkerStub) -> None:
    with_metrics(stub, {"connected": True, "reconnects": 3, "connection_state": "connected",
                        "connection_states": ["stopped", "connecting", "connected", "disconnected"],
                        "tws_errors": {"200": 2, "2104": 1}, "upstream_requests": {"historical": 5},
                        "jobs": {"running": 1, "done": 4}})
    samples = scrape(client)
    assert [r.op for r in stub.requests].count("metrics") == 1
    assert samples[("tws_bridge_worker_up", frozenset())] == 1
    assert samples[("tws_bridge_tws_connected", frozenset())] == 1
    assert samples[("tws_bridge_tws_reconnects_total", frozenset())] == 3
    assert samples[("tws_bridge_tws_connection_state", frozenset({("state", "connected")}))] == 1
    assert samples[("tws_bridge_tws_connection_state", frozenset({("state", "stopped")}))] == 0
    assert samples[("tws_bridge_tws_errors_total", frozenset({("code", "200")}))] == 2
    assert samples[("tws_bridge_upstream_requests_total", frozenset({("kind", "historical")}))] == 5
    assert samples[("tws_bridge_jobs", frozenset({("state", "done")}))] == 4


def test_without_a_worker_metrics_answers_200_with_worker_up_0(client: FlaskClient) -> None:
    client.get("/api/v1/health")  # 503: nobody listens on the endpoint (the real client, its real timeout)
    samples = scrape(client)
    assert samples[("tws_bridge_worker_up", frozenset())] == 0
    assert requests_of(samples, "/api/v1/health", "GET", "503") >= 1
    assert not any(name.startswith("tws_bridge_tws_") for name, _ in samples)
