"""GET /api/v1/contracts/<symbol>/head against a stand-in worker: the query validated as strictly as POST /bars
(the same fields, values and messages), the head passed on in its documented shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.contract_fields import CONTRACT_DEFAULTS
from shared.errors import BridgeError, ErrorCode
from shared.history import HeadRequest
from tests.app.conftest import WorkerStub, error, result
from tests.app.test_http_errors import TOKEN, assert_json_error

HEAD = {"time": 345479400, "date": "19801212 09:30:00"}


@pytest.fixture(autouse=True)
def answers_the_head(stub: WorkerStub) -> None:
    stub.handler = result({"head": HEAD})


def get(client: FlaskClient, path: str = "/api/v1/contracts/AAPL/head", **query: Any) -> Any:
    return client.get(path, query_string=query)


def assert_refused(response: Any, stub: WorkerStub, *fields: str) -> dict[str, Any]:
    body = assert_json_error(response, 400, "invalid_request")
    assert set(fields) <= set(body["fields"]), body
    assert stub.requests == [], "nothing may reach the worker"
    return body


class TestTheHead:
    def test_defaults_and_the_answer(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = get(client)
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "symbol": "AAPL", "what": "TRADES", "session": "rth",
                                       "head": HEAD}
        (request,) = stub.requests
        assert request.op == "head"
        assert request.body == {"symbol": "AAPL", "what_to_show": "TRADES", "use_rth": True, "sec_type": "STK",
                                "exchange": "SMART", "currency": "USD", **CONTRACT_DEFAULTS}
        assert HeadRequest.from_wire(request.body) == HeadRequest("AAPL")

    def test_every_field_in_ibs_case(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = get(client, "/api/v1/contracts/eur.usd/head", what="midpoint", session="ALL", sec_type="cash",
                       exchange="idealpro")
        assert response.get_json() | {"head": None} == {"success": True, "symbol": "EUR", "what": "MIDPOINT",
                                                        "session": "all", "head": None}
        assert stub.requests[0].body == {"symbol": "EUR", "what_to_show": "MIDPOINT", "use_rth": False,
                                         "sec_type": "CASH", "exchange": "IDEALPRO", "currency": "USD",
                                         **CONTRACT_DEFAULTS}

    @pytest.mark.parametrize(("path", "symbol"), [("/api/v1/contracts/BRK%20B/head", "BRK B"),
                                                  ("/api/v1/contracts/BF/B/head", "BF/B"),
                                                  ("/api/v1/contracts/BF%2FB/head", "BF/B"),
                                                  ("/api/v1/contracts/brk.b/head", "BRK.B")])
    def test_symbols_with_spaces_slashes_and_dots(self, client: FlaskClient, stub: WorkerStub, path: str,
                                                  symbol: str) -> None:
        assert get(client, path).status_code == 200
        assert stub.requests[0].body["symbol"] == symbol

    def test_the_workers_errors_are_json(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.SYMBOL_NOT_FOUND, "no such contract", tws_code=200))
        body = assert_json_error(get(client, "/api/v1/contracts/ZZZZ/head"), 404, "symbol_not_found")
        assert (body["tws_code"], body["symbol"]) == (200, "ZZZZ")

    @pytest.mark.parametrize("head", [None, {"time": "1"}, {"time": 1}, {"date": "19801212"}, [1, 2]])
    def test_a_head_in_another_shape_is_a_json_500(self, client: FlaskClient, stub: WorkerStub, head: Any) -> None:
        stub.handler = result({"head": head})
        assert_json_error(get(client), 500, "internal_error")

    def test_a_hung_worker_is_503_after_the_bar_timeout(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        assert_json_error(get(client), 503, "worker_unavailable")


class TestRefused:
    @pytest.mark.parametrize(("field", "value"), [
        ("what", "VOLUME"), ("what", "trade\u017f"), ("session", "night"), ("session", "\u0280th"),
        ("sec_type", "WAR"), ("exchange", "SMART,NYSE"), ("exchange", ""), ("exchange", "SMART\n"),
        ("currency", "U S D"), ("currency", "u\u017fd"),
    ])
    def test_a_bad_value_with_the_bars_message(self, client: FlaskClient, stub: WorkerStub, field: str,
                                               value: str) -> None:
        bars = client.post("/api/v1/bars", json={"symbol": "AAPL", "period": "1m", "duration": "1 D", field: value})
        body = assert_refused(get(client, **{field: value}), stub, field)
        assert body["fields"][field] == bars.get_json()["fields"][field]

    @pytest.mark.parametrize("path", ["/api/v1/contracts/AA%00PL/head", "/api/v1/contracts/AA,PL/head",
                                      "/api/v1/contracts/-AAPL/head", "/api/v1/contracts/%C5%BFpy/head",
                                      "/api/v1/contracts/" + "A" * 25 + "/head", "/api/v1/contracts/AAPL%0D/head",
                                      # a newline too: a 400 naming the symbol, as the spec says, not "no such
                                      # endpoint" (werkzeug's path converter stopped at it)
                                      "/api/v1/contracts/AA%0APL/head", "/api/v1/contracts/7%0Ar%3B%C3%82/head"])
    def test_a_symbol_that_must_never_reach_tws(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        body = assert_refused(get(client, path), stub, "symbol")
        assert "symbol" not in body

    @pytest.mark.parametrize("name", ["period", "duration", "bar_size", "symbol", "backfill"])
    def test_fields_that_are_not_the_heads_are_refused(self, client: FlaskClient, stub: WorkerStub,
                                                       name: str) -> None:
        assert_refused(get(client, **{name: "1m"}), stub, name)

    def test_a_field_given_twice_is_refused(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(client.get("/api/v1/contracts/AAPL/head?what=TRADES&what=BID"), stub, "what")
        assert body["fields"]["what"] == "given more than once"

    def test_a_cash_pair_quoted_in_another_currency(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(get(client, "/api/v1/contracts/EUR.USD/head", sec_type="CASH", currency="GBP"), stub,
                              "currency")
        assert "quoted in USD" in body["fields"]["currency"]

    @pytest.mark.parametrize("path", ["/api/v1/contracts/AAPL", "/api/v1/contracts//head", "/api/v1/contracts/head"])
    def test_other_paths_are_json_404(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        assert_json_error(client.get(path), 404, "not_found")
        assert stub.requests == []


class TestToken:
    @pytest.fixture
    def client(self, app_factory: Callable[..., Flask]) -> FlaskClient:
        return app_factory(api_token=TOKEN).test_client()

    def test_the_token_is_required(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert_json_error(get(client), 401, "unauthorized")
        assert stub.requests == []
        assert get(client, headers=None).status_code == 401

    def test_with_the_token(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.get("/api/v1/contracts/AAPL/head", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
