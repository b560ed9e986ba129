"""The contract fields and data kinds at the HTTP edge: POST /bars (JSON body), the stream and the head (query text)
take con_id, last_trade_date, strike, right, multiplier, primary_exchange, local_symbol, trading_class and
include_expired with the same checks and messages, refuse each misuse TWS would refuse with 400 naming the field, and
send nothing to the worker then."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from app.schemas import BarsQuerySchema, BarsStreamQuerySchema
from shared.bars import BarRequest
from tests.app.conftest import WorkerStub, result
from tests.app.test_http_errors import assert_json_error

BARS = {"symbol": "AAPL", "period": "1d", "duration": "1 Y"}
OPTION = {**BARS, "sec_type": "opt", "last_trade_date": "20250221", "strike": 230, "right": "call",
          "multiplier": "100", "trading_class": "aapl", "primary_exchange": "nasdaq", "include_expired": True}
STREAM = {"symbol": "AAPL", "period": "1m"}


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/bars", json=body)


def stream(client: FlaskClient, query: dict[str, Any]) -> Any:
    return client.get(f"/api/v1/bars/stream?{urlencode(query)}")


def refused(response: Any, stub: WorkerStub, field: str) -> str:
    """The message of `field` in a 400 invalid_request that sent nothing to the worker."""
    body = assert_json_error(response, 400, "invalid_request")
    assert field in body["fields"], body
    assert stub.requests == [], "nothing may reach the worker"
    return str(body["fields"][field])


class TestTheBody:
    def test_every_contract_field_reaches_the_worker_in_ibs_spelling(self, client: FlaskClient,
                                                                     stub: WorkerStub) -> None:
        assert post(client, {**OPTION, "local_symbol": "aapl  250221c00230000"}).status_code == 200
        sent = stub.requests[0].body
        assert {k: sent[k] for k in ("sec_type", "last_trade_date", "strike", "right", "multiplier", "trading_class",
                                     "primary_exchange", "local_symbol", "include_expired", "con_id")} == {
            "sec_type": "OPT", "last_trade_date": "20250221", "strike": 230.0, "right": "C", "multiplier": "100",
            "trading_class": "AAPL", "primary_exchange": "NASDAQ", "local_symbol": "AAPL  250221C00230000",
            "include_expired": True, "con_id": 0}
        assert BarRequest.from_wire(sent).strike == 230.0

    @pytest.mark.parametrize(("right", "ib"), [("C", "C"), ("p", "P"), ("CALL", "C"), ("put", "P"), ("Put", "P")])
    def test_right_takes_c_p_call_put_in_any_case(self, right: str, ib: str) -> None:
        assert BarsQuerySchema().load({**OPTION, "right": right}).right == ib

    def test_a_con_id_alone_names_the_contract(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = {"con_id": 265598, "period": "1d", "duration": "1 Y", "exchange": "SMART"}
        assert post(client, body).status_code == 200
        assert (stub.requests[0].body["symbol"], stub.requests[0].body["con_id"]) == ("", 265598)

    def test_without_symbol_or_con_id_the_symbol_is_required(self, client: FlaskClient, stub: WorkerStub) -> None:
        message = refused(post(client, {"period": "1d", "duration": "1 Y", "con_id": 0}), stub, "symbol")
        assert message == "is required unless con_id names the contract"

    def test_null_in_a_contract_field_means_its_default(self) -> None:
        loaded = BarsQuerySchema().load({**BARS, "con_id": None, "strike": None, "right": None,
                                         "include_expired": None, "local_symbol": None})
        assert (loaded.con_id, loaded.strike, loaded.right, loaded.include_expired, loaded.local_symbol) == (
            0, 0.0, "", False, "")

    @pytest.mark.parametrize(("change", "field", "words"), [
        ({"what": "ADJUSTED_LAST", "end_datetime": "20250127 16:00:00"}, "end_datetime", "ADJUSTED_LAST"),
        ({"what": "adjusted_last", "include_forming": True}, "include_forming", "ADJUSTED_LAST"),
        ({"what": "BID_ASK", "include_forming": True}, "include_forming", "up to date"),
        ({"what": "HISTORICAL_VOLATILITY", "include_forming": True}, "include_forming", "up to date"),
        ({"symbol": "ES", "sec_type": "CONTFUT", "exchange": "CME", "include_forming": True}, "include_forming",
         "CONTFUT"),
        ({"sec_type": "OPT", "last_trade_date": "20250221", "right": "C"}, "strike", "unless con_id"),
        ({"sec_type": "FOP", "strike": 5000}, "last_trade_date", "unless con_id"),
        ({"local_symbol": "ESH5,ESM5"}, "local_symbol", "commas"),
        ({"trading_class": "ES\x00"}, "trading_class", "NUL"),
        ({"primary_exchange": "NYSE\x1b"}, "primary_exchange", "control"),
        ({"multiplier": "50,0"}, "multiplier", "commas"),
    ])
    def test_each_misuse_is_400_naming_its_field(self, client: FlaskClient, stub: WorkerStub,
                                                 change: dict[str, Any], field: str, words: str) -> None:
        assert words in refused(post(client, {**BARS, **change}), stub, field)

    @pytest.mark.parametrize(("field", "value"), [
        ("con_id", -1), ("con_id", 2**31), ("con_id", "265598"), ("con_id", True), ("con_id", 1.5),
        ("strike", -5), ("strike", "230"), ("strike", True), ("strike", 1e10),
        ("right", "X"), ("right", "CALLS"), ("right", "\u0441"), ("right", 1),
        ("last_trade_date", "202513"), ("last_trade_date", "20250230"), ("last_trade_date", "2025-03"),
        ("last_trade_date", "\uff12\uff10\uff12\uff15\uff10\uff13"), ("multiplier", "5."), ("multiplier", "1e3"),
        ("primary_exchange", "NAS DAQ"), ("local_symbol", "E" * 33), ("local_symbol", "ESH5\n"),
        ("local_symbol", "\u017fPY"), ("trading_class", "E S"), ("trading_class", "\u0131S"),
        ("include_expired", "maybe"), ("include_expired", [1]),
    ])
    def test_a_bad_contract_field(self, client: FlaskClient, stub: WorkerStub, field: str, value: Any) -> None:
        refused(post(client, {**BARS, field: value}), stub, field)

    def test_adjusted_last_over_a_duration_or_from_a_start_is_forwarded(self, client: FlaskClient,
                                                                        stub: WorkerStub) -> None:
        assert post(client, {**BARS, "what": "ADJUSTED_LAST"}).status_code == 200
        assert post(client, {**BARS, "what": "ADJUSTED_LAST", "duration": None,
                             "start_datetime": "20200101 00:00:00"}).status_code == 200
        assert [r.body["what_to_show"] for r in stub.requests] == ["ADJUSTED_LAST"] * 2


class TestTheStream:
    def test_the_query_text_becomes_typed_contract_fields(self) -> None:
        loaded = BarsStreamQuerySchema().load({**STREAM, "symbol": "", "con_id": "495512563", "strike": "232.5",
                                               "right": "put", "include_expired": "TRUE", "exchange": "CME"})
        fields = loaded.series_fields
        assert (fields["con_id"], fields["strike"], fields["right"], fields["include_expired"]) == (
            495512563, 232.5, "P", True)

    @pytest.mark.parametrize(("field", "value"), [
        ("con_id", "\uff11\uff12\uff13"), ("con_id", " 123"), ("con_id", "12a"), ("con_id", "-1"),
        ("con_id", "2147483648"), ("con_id", "1.0"), ("strike", "1e3"), ("strike", "nan"), ("strike", "inf"),
        ("strike", "-5"), ("strike", "\uff12\uff13\uff10"), ("strike", "230 "), ("include_expired", "yes"),
        ("include_expired", ""),
    ])
    def test_numbers_and_booleans_are_read_from_ascii_only(self, client: FlaskClient, stub: WorkerStub,
                                                           field: str, value: str) -> None:
        refused(stream(client, {**STREAM, field: value}), stub, field)

    @pytest.mark.parametrize(("change", "field"), [
        ({"what": "BID_ASK"}, "what"), ({"what": "ADJUSTED_LAST"}, "what"),
        ({"what": "OPTION_IMPLIED_VOLATILITY"}, "what"),
        ({"symbol": "ES", "sec_type": "CONTFUT", "exchange": "CME"}, "sec_type"),
    ])
    def test_no_stream_of_a_series_ib_keeps_no_live_updates_of(self, client: FlaskClient, stub: WorkerStub,
                                                               change: dict[str, str], field: str) -> None:
        assert "no stream" in refused(stream(client, {**STREAM, **change}), stub, field)

    @pytest.mark.parametrize(("field", "value"), [("local_symbol", "ES,H5"), ("trading_class", "ES\x00"),
                                                  ("last_trade_date", "202513"), ("right", "X")])
    def test_a_text_field_gets_the_message_post_bars_gives(self, client: FlaskClient, stub: WorkerStub,
                                                           field: str, value: str) -> None:
        message = refused(stream(client, {**STREAM, field: value}), stub, field)
        assert message == post(client, {**BARS, field: value}).get_json()["fields"][field]


class TestTheHead:
    def test_the_contract_fields_reach_the_worker(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({"head": {"time": 1700000000, "date": "20231114 17:13:20"}})
        query = {"sec_type": "FUT", "exchange": "CME", "last_trade_date": "202503", "con_id": "495512563",
                 "include_expired": "1", "what": "BID_ASK"}
        assert client.get("/api/v1/contracts/ES/head", query_string=query).status_code == 200
        sent = stub.requests[0].body
        assert (sent["con_id"], sent["last_trade_date"], sent["include_expired"], sent["what_to_show"]) == (
            495512563, "202503", True, "BID_ASK")

    def test_an_option_without_its_strike_is_400(self, client: FlaskClient, stub: WorkerStub) -> None:
        query = {"sec_type": "OPT", "last_trade_date": "20250221", "right": "C"}
        assert "unless con_id" in refused(client.get("/api/v1/contracts/AAPL/head", query_string=query), stub,
                                          "strike")
