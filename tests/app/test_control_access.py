"""/connect and /disconnect never answer a browser page, and without a token only direct clients on the host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.control_access import PROXY_HEADERS
from tests.app.conftest import WorkerStub

TOKEN = "s3cret-token-0123456789"
CONTROL_PATHS = ["/api/v1/connect", "/api/v1/disconnect"]


def control(client: FlaskClient, path: str, remote: str = "127.0.0.1", **kwargs: Any) -> Any:
    kwargs.setdefault("json", {})
    return client.post(path, environ_base={"REMOTE_ADDR": remote}, **kwargs)


def assert_refused(response: Any, stub: WorkerStub, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    body = response.get_json()
    assert (body["success"], body["code"]) == (False, code)
    assert stub.requests == [], "nothing reached the worker"
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", CONTROL_PATHS)
class TestBrowsersCannotControlTheBridge:
    def test_a_cross_origin_simple_request_is_refused(self, client: FlaskClient, stub: WorkerStub,
                                                      path: str) -> None:
        # what a web page can send without a preflight: text/plain, with the page's Origin
        response = control(client, path, json=None, data="x", content_type="text/plain",
                           headers={"Origin": "http://evil.example"})
        assert_refused(response, stub, 403, "forbidden")
        assert "Access-Control-Allow-Origin" not in response.headers

    def test_an_origin_is_refused_even_with_json_and_a_token(self, app_factory: Callable[..., Flask],
                                                             stub: WorkerStub, path: str) -> None:
        client = app_factory(api_token=TOKEN).test_client()
        response = control(client, path, headers={"Origin": "http://127.0.0.1:3003",
                                                  "Authorization": f"Bearer {TOKEN}"})
        assert_refused(response, stub, 403, "forbidden")

    @pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                              "multipart/form-data; boundary=x"])
    def test_a_request_that_is_not_json_is_415(self, client: FlaskClient, stub: WorkerStub, path: str,
                                               content_type: str | None) -> None:
        kwargs: dict[str, Any] = {"json": None}
        if content_type is not None:
            kwargs.update(data="", content_type=content_type)
        body = assert_refused(control(client, path, **kwargs), stub, 415, "unsupported_media_type")
        assert "application/json" in body["error"]

    def test_a_preflight_gets_no_cors_permission(self, client: FlaskClient, path: str) -> None:
        response = client.options(path, headers={"Origin": "http://evil.example",
                                                 "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "Content-Type"})
        assert "Access-Control-Allow-Origin" not in response.headers

    def test_the_data_endpoints_keep_their_cors(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        response = client.get("/api/v1/health", headers={"Origin": "http://app.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", CONTROL_PATHS)
class TestWithoutATokenOnlyDirectLocalClients:
    @pytest.mark.parametrize("remote", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
    def test_a_loopback_client_is_served(self, client: FlaskClient, stub: WorkerStub, path: str,
                                         remote: str) -> None:
        assert control(client, path, remote=remote).status_code == 200
        assert len(stub.requests) == 1

    @pytest.mark.parametrize("remote", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "::ffff:10.0.0.5", "0.0.0.0", ""])
    def test_another_address_is_403(self, client: FlaskClient, stub: WorkerStub, path: str, remote: str) -> None:
        body = assert_refused(control(client, path, remote=remote), stub, 403, "forbidden")
        assert "BRIDGE_API_TOKEN" in body["error"]

    @pytest.mark.parametrize("header", PROXY_HEADERS)
    def test_a_loopback_client_that_came_through_a_proxy_is_403(self, client: FlaskClient, stub: WorkerStub,
                                                                 path: str, header: str) -> None:
        body = assert_refused(control(client, path, headers={header: "203.0.113.7"}), stub, 403, "forbidden")
        assert header in body["error"]

    def test_the_proxy_header_is_recognised_in_any_case(self, client: FlaskClient, stub: WorkerStub,
                                                        path: str) -> None:
        assert_refused(control(client, path, headers={"x-real-ip": "203.0.113.7"}), stub, 403, "forbidden")


@pytest.mark.parametrize("path", CONTROL_PATHS)
class TestWithATokenTheTokenIsTheGuard:
    @pytest.fixture
    def client(self, app_factory: Callable[..., Flask]) -> FlaskClient:
        return app_factory(api_token=TOKEN).test_client()

    def test_a_remote_client_through_a_proxy_with_the_token_is_served(self, client: FlaskClient, stub: WorkerStub,
                                                                      path: str) -> None:
        response = control(client, path, remote="10.0.0.5", headers={"Authorization": f"Bearer {TOKEN}",
                                                                     "X-Forwarded-For": "203.0.113.7"})
        assert response.status_code == 200

    def test_without_the_token_it_is_401_first(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        assert_refused(control(client, path, remote="10.0.0.5"), stub, 401, "unauthorized")


@pytest.mark.parametrize("path", CONTROL_PATHS)
class TestTheControlBody:
    @pytest.mark.parametrize("data", [b"", b"{}", b" { } "])
    def test_empty_or_an_empty_object(self, client: FlaskClient, stub: WorkerStub, path: str, data: bytes) -> None:
        assert control(client, path, json=None, data=data, content_type="application/json").status_code == 200

    def test_fields_are_refused(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        body = assert_refused(control(client, path, json={"anything": 1}), stub, 400, "invalid_request")
        assert body["fields"] == {"anything": "unknown field"}

    @pytest.mark.parametrize("data", [b"[]", b"{", b"null"])
    def test_not_an_object_is_refused(self, client: FlaskClient, stub: WorkerStub, path: str, data: bytes) -> None:
        response = control(client, path, json=None, data=data, content_type="application/json")
        assert_refused(response, stub, 400, "invalid_request")
