"""Cross-cutting HTTP behaviour: bearer auth, CORS, the body cap, and JSON (never HTML) for every failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import bridge_state
from tests.app.conftest import WorkerStub

TOKEN = "s3cret-token-0123456789"
VALID = {"symbol": "AAPL", "period": "5m", "duration": "1 D"}
ERROR_KEYS = {"success", "bars", "count", "error", "code"}


def assert_json_error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.mimetype == "application/json"  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert ERROR_KEYS <= set(body)
    assert (body["success"], body["bars"], body["count"], body["code"]) == (False, [], 0, code)
    assert "Traceback" not in body["error"] and "<" not in body["error"]
    return body  # type: ignore[no-any-return]


class TestBearerToken:
    @pytest.fixture
    def client(self, app_factory: Callable[..., Flask]) -> FlaskClient:
        return app_factory(api_token=TOKEN).test_client()

    @pytest.mark.parametrize("path", ["/api/v1/bars", "/api/v1/connect", "/api/v1/disconnect"])
    @pytest.mark.parametrize("header", [None, "", f"Basic {TOKEN}", "Bearer wrong-token-0123456789",
                                        f"Bearer {TOKEN}x", "Bearer ", f"Bearer{TOKEN}"])
    def test_refused_without_the_right_token(self, client: FlaskClient, stub: WorkerStub, path: str,
                                             header: str | None) -> None:
        headers = {} if header is None else {"Authorization": header}
        response = client.post(path, json=VALID, headers=headers)
        assert_json_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert stub.requests == []

    def test_accepted_with_the_token(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert client.post("/api/v1/bars", json=VALID, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.post("/api/v1/connect", json={}, headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200

    def test_checked_before_validation(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert client.post("/api/v1/bars", json={"bogus": 1}).status_code == 401

    def test_health_needs_no_token(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert client.get("/api/v1/health").status_code == 200

    def test_no_token_configured_means_open(self, app: Flask, stub: WorkerStub) -> None:
        assert app.test_client().post("/api/v1/bars", json=VALID).status_code == 200


class TestCors:
    def test_any_origin_by_default(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.post("/api/v1/bars", json=VALID, headers={"Origin": "http://app.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    def test_errors_carry_cors_headers_too(self, client: FlaskClient) -> None:
        response = client.post("/api/v1/bars", json={}, headers={"Origin": "http://app.example"})
        assert response.status_code == 400
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    def test_configured_origins_only(self, app_factory: Callable[..., Flask], stub: WorkerStub) -> None:
        client = app_factory(cors_origins=("http://a.example", "http://b.example")).test_client()
        allowed = client.get("/api/v1/health", headers={"Origin": "http://b.example"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://b.example"
        other = client.get("/api/v1/health", headers={"Origin": "http://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers

    def test_preflight_needs_no_token(self, app_factory: Callable[..., Flask]) -> None:
        client = app_factory(api_token=TOKEN).test_client()
        response = client.options("/api/v1/bars", headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type"})
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


class TestJsonForEveryFailure:
    def test_a_body_over_the_cap_is_413(self, app_factory: Callable[..., Flask], stub: WorkerStub) -> None:
        client = app_factory(max_body_bytes=1024).test_client()
        response = client.post("/api/v1/bars", json={**VALID, "end_datetime": "x" * 2000})
        assert_json_error(response, 413, "payload_too_large")
        assert stub.requests == []

    def test_a_body_just_under_the_cap_is_read(self, app_factory: Callable[..., Flask], stub: WorkerStub) -> None:
        client = app_factory(max_body_bytes=1024).test_client()
        assert client.post("/api/v1/bars", json=VALID).status_code == 200

    @pytest.mark.parametrize("path", ["/api", "/api/v1", "/api/v1/nope", "/api/v2/bars", "/index.html"])
    def test_unknown_paths_are_404(self, client: FlaskClient, path: str) -> None:
        assert_json_error(client.get(path), 404, "not_found")

    @pytest.mark.parametrize(("method", "path", "allowed"), [
        ("GET", "/api/v1/bars", "POST"), ("PUT", "/api/v1/bars", "POST"), ("DELETE", "/api/v1/connect", "POST"),
        ("POST", "/api/v1/health", "GET")])
    def test_wrong_methods_are_405_with_allow(self, client: FlaskClient, method: str, path: str,
                                              allowed: str) -> None:
        response = client.open(path, method=method)
        assert_json_error(response, 405, "method_not_allowed")
        assert allowed in response.headers["Allow"]

    def test_an_unexpected_exception_is_a_json_500(self, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
        def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(bridge_state(app).worker, "request", explode)
        body = assert_json_error(app.test_client().post("/api/v1/bars", json=VALID), 500, "internal_error")
        assert "secret internals" not in body["error"]


def test_the_body_cap_holds_for_endpoints_that_read_no_body(client) -> None:
    response = client.post("/api/v1/connect", data=b"x" * 100_000, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
