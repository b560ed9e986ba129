"""GET /api/v1/contracts and /api/v1/contracts/search against a stand-in worker: the queries validated as strictly as
POST /bars (nothing with a comma, NUL or control character reaches the worker), the token rule of /api/v1, and the
worker's answers passed on in their documented shape (and an answer off it refused as internal_error)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.contract_lookup import ContractQuery, SymbolSearch
from shared.errors import BridgeError, ErrorCode
from tests.app.conftest import WorkerStub, error, result
from tests.app.test_http_errors import TOKEN, assert_json_error

ESH5 = {"con_id": 620250321, "symbol": "ES", "sec_type": "FUT", "local_symbol": "ESH5", "last_trade_date": "20250321",
        "strike": 0.0, "right": "", "multiplier": "50", "exchange": "CME", "primary_exchange": "", "currency": "USD",
        "trading_class": "ES", "long_name": "E-mini S&P 500", "time_zone": "US/Central",
        "trading_hours": "20250127:1700-20250128:1600", "liquid_hours": "20250128:0830-20250128:1500",
        "min_tick": 0.25}
AAPL = {"con_id": 265598, "symbol": "AAPL", "sec_type": "STK", "primary_exchange": "NASDAQ", "currency": "USD",
        "derivative_sec_types": ["OPT", "WAR"]}


def refused(response: Any, stub: WorkerStub, *fields: str) -> dict[str, Any]:
    body = assert_json_error(response, 400, "invalid_request")
    assert set(fields) <= set(body["fields"]), body
    assert stub.requests == [], "nothing may reach the worker"
    return body


class TestContracts:
    def test_the_fields_in_ibs_case_and_every_contract(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"contracts": [ESH5]})
        response = client.get("/api/v1/contracts", query_string={"symbol": "es", "sec_type": "fut",
                                                                 "exchange": "cme", "last_trade_date": "202503"})
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "count": 1, "contracts": [ESH5]}
        (request,) = stub.requests
        assert request.op == "contracts"
        assert ContractQuery.from_wire(request.body) == ContractQuery("ES", "FUT", "CME", last_trade_date="202503")

    def test_a_con_id_alone_and_include_expired(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"contracts": [ESH5]})
        response = client.get("/api/v1/contracts?con_id=620250321&include_expired=true")
        assert response.status_code == 200
        assert ContractQuery.from_wire(stub.requests[0].body) == ContractQuery(con_id=620250321,
                                                                               include_expired=True)

    def test_an_option_chain_needs_no_expiry_strike_or_right(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"contracts": [ESH5]})
        assert client.get("/api/v1/contracts?symbol=AAPL&sec_type=OPT").status_code == 200

    @pytest.mark.parametrize(("query", "field"), [
        ("symbol=ES,NQ", "symbol"), ("symbol=ES%00", "symbol"), ("symbol=ES%0A", "symbol"), ("", "symbol"),
        ("symbol=ES&sec_type=BOND", "sec_type"), ("symbol=ES&exchange=C,ME", "exchange"),
        ("con_id=12x", "con_id"), ("con_id=-1", "con_id"), ("symbol=ES&last_trade_date=2025", "last_trade_date"),
        ("symbol=ES&right=X", "right"), ("symbol=ES&strike=nan", "strike"), ("symbol=ES&include_expired=maybe",
                                                                            "include_expired"),
        ("symbol=ES&what=TRADES", "what"), ("symbol=ES&symbol=NQ", "symbol"), ("symbol=ES&bogus=1", "bogus")])
    def test_an_invalid_query_is_400_with_the_fields_message(self, client: FlaskClient, stub: WorkerStub, query: str,
                                                             field: str) -> None:
        refused(client.get(f"/api/v1/contracts?{query}"), stub, field)

    def test_no_match_is_the_workers_404(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.SYMBOL_NOT_FOUND, "no contract matches NOPE STK SMART USD", 200))
        body = assert_json_error(client.get("/api/v1/contracts?symbol=NOPE"), 404, "symbol_not_found")
        assert body["tws_code"] == 200

    def test_a_contract_off_the_documented_shape_is_internal_error(self, client: FlaskClient,
                                                                   stub: WorkerStub) -> None:
        stub.handler = result({"contracts": [{**ESH5, "strike": "x"}]})
        assert_json_error(client.get("/api/v1/contracts?symbol=ES"), 500, "internal_error")


class TestSearch:
    def test_the_matches(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"matches": [AAPL]})
        response = client.get("/api/v1/contracts/search?q=App")
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "count": 1, "matches": [AAPL]}
        (request,) = stub.requests
        assert request.op == "symbol_search" and SymbolSearch.from_wire(request.body) == SymbolSearch("App")

    def test_no_match_is_an_empty_200(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"matches": []})
        assert client.get("/api/v1/contracts/search?q=ZZZQ").get_json() == {"success": True, "count": 0,
                                                                             "matches": []}

    @pytest.mark.parametrize("query", ["q=A,B", "q=A%00", "q=A%0D", "q=A%7F", "", "q=", "q=%20A", "q=" + "A" * 33,
                                       "q=%C3%84", "q=A&q=B", "q=A&symbol=B"])
    def test_an_invalid_text_is_400(self, client: FlaskClient, stub: WorkerStub, query: str) -> None:
        body = refused(client.get(f"/api/v1/contracts/search?{query}"), stub)
        assert body["fields"]

    def test_pacing_is_the_workers_429_with_retry_after(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.PACING_LIMITED, "IB allows one symbol search a second",
                                         retry_after=3))
        response = client.get("/api/v1/contracts/search?q=APP")
        assert_json_error(response, 429, "pacing_limited")
        assert response.headers["Retry-After"] == "3"


class TestTheToken:
    @pytest.fixture
    def client(self, app_factory: Any) -> FlaskClient:
        app: Flask = app_factory(api_token=TOKEN)
        return app.test_client()

    @pytest.mark.parametrize("path", ["/api/v1/contracts?symbol=ES", "/api/v1/contracts/search?q=ES"])
    def test_the_token_is_required_before_validation(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        assert_json_error(client.get(path), 401, "unauthorized")
        assert_json_error(client.get(path + ",bad"), 401, "unauthorized")
        stub.handler = result({"contracts": [ESH5], "matches": [AAPL]})
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
