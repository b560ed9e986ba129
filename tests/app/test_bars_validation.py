"""POST /api/v1/bars refuses invalid input with 400, per-field messages, and sends nothing to the worker."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.schemas import BarsQuerySchema
from shared.bars import BarRequest
from tests.app.conftest import WorkerStub

VALID = {"symbol": "AAPL", "period": "5m", "duration": "1 D"}


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/bars", json=body)


def assert_refused(response: Any, stub: WorkerStub, *fields: str) -> dict[str, Any]:
    assert response.status_code == 400
    body = response.get_json()
    assert body["success"] is False
    assert body["code"] == "invalid_request"
    assert body["bars"] == [] and body["count"] == 0
    assert set(fields) <= set(body["fields"]), body
    assert stub.requests == [], "nothing may reach the worker"
    return body


class TestDefaults:
    def test_only_symbol_period_and_duration_are_required(self) -> None:
        assert BarsQuerySchema().load(VALID) == BarRequest(
            symbol="AAPL", bar_size="5 mins", duration="1 D", what_to_show="TRADES", use_rth=True,
            include_forming=False, end_datetime="", sec_type="STK", exchange="SMART", currency="USD")

    def test_every_field_maps_to_the_ib_request(self) -> None:
        loaded = BarsQuerySchema().load({
            "symbol": "eur", "period": "1h", "duration": "2 W", "what": "midpoint", "session": "ALL",
            "include_forming": False, "end_datetime": "20250126 10:30:00", "sec_type": "cash",
            "exchange": "idealpro", "currency": "usd"})
        assert loaded == BarRequest(
            symbol="EUR", bar_size="1 hour", duration="2 W", what_to_show="MIDPOINT", use_rth=False,
            include_forming=False, end_datetime="20250126 10:30:00", sec_type="CASH", exchange="IDEALPRO",
            currency="USD")

    def test_iso_8601_end_with_an_offset_becomes_utc(self) -> None:
        loaded = BarsQuerySchema().load({**VALID, "end_datetime": "2025-01-26T10:30:00-05:00"})
        assert loaded.end_datetime == "20250126-15:30:00"

    def test_null_in_an_optional_field_means_its_default(self) -> None:
        loaded = BarsQuerySchema().load({**VALID, "end_datetime": None, "what": None, "include_forming": None})
        assert (loaded.end_datetime, loaded.what_to_show, loaded.include_forming) == ("", "TRADES", False)

    def test_include_forming_is_forwarded(self) -> None:
        assert BarsQuerySchema().load({**VALID, "include_forming": True}).include_forming is True

    @pytest.mark.parametrize("period", ["1m", "5m", "15m", "30m", "1h", "1d"])
    def test_the_seed_periods_are_accepted(self, period: str) -> None:
        assert BarsQuerySchema().load({**VALID, "period": period}).symbol == "AAPL"


class TestRefusedFields:
    @pytest.mark.parametrize("missing", ["symbol", "period", "duration"])
    def test_a_required_field_missing(self, client: FlaskClient, stub: WorkerStub, missing: str) -> None:
        body = {k: v for k, v in VALID.items() if k != missing}
        refused = assert_refused(post(client, body), stub, missing)
        assert refused["fields"][missing] == {
            "symbol": "is required unless con_id names the contract", "period": "is required",
            "duration": "is required, or start_datetime (the range's length or its start)"}[missing]

    @pytest.mark.parametrize(("field", "value"), [
        ("symbol", ""), ("symbol", 42), ("symbol", None), ("symbol", "A" * 25), ("symbol", "-AAPL"),
        ("symbol", "AAPL;DROP"), ("period", "7m"), ("period", "5 mins"), ("period", ""),
        ("duration", "1D"), ("duration", "0 D"), ("duration", "1 X"), ("duration", "1 D "), ("duration", 1),
        ("what", "VOLUME"), ("session", "night"), ("include_forming", "maybe"), ("include_forming", [1]),
        ("end_datetime", "yesterday"), ("end_datetime", "2025-01-26T10:30:00"), ("end_datetime", "20251399 10:30:00"),
        ("sec_type", "WAR"), ("exchange", "SMART,NYSE"), ("exchange", ""), ("currency", "U S D"),
        # a trailing newline slips past a regex anchored with "$"; these are anchored with "\Z"
        ("symbol", "AAPL\n"), ("duration", "1 D\n"), ("exchange", "SMART\n"), ("currency", "USD\n"),
        ("end_datetime", "20250126 10:30:00\n"), ("end_datetime", "\u0662\u0660\u0662\u0665-01-26T10:30:00+00:00"),
    ])
    def test_a_bad_value(self, client: FlaskClient, stub: WorkerStub, field: str, value: Any) -> None:
        assert_refused(post(client, {**VALID, field: value}), stub, field)

    def test_every_bad_field_is_named_at_once(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {"symbol": "A,B", "period": "7m", "duration": "x"}), stub,
                              "symbol", "period", "duration")
        assert body["error"].startswith("invalid request: ")

    def test_unknown_fields_are_refused(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {**VALID, "bar_size": "5 mins", "extra": 1}), stub, "bar_size", "extra")
        assert body["fields"]["extra"] == "unknown field"

    def test_include_forming_needs_the_end_to_be_now(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = post(client, {**VALID, "include_forming": True, "end_datetime": "20250126 10:30:00"})
        assert_refused(response, stub, "include_forming")

    def test_valid_symbol_and_period_are_echoed_in_the_error(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {**VALID, "duration": "forever"}), stub, "duration")
        assert (body["symbol"], body["period"]) == ("AAPL", "5m")


class TestSymbolsThatMustNeverReachTws:
    @pytest.mark.parametrize("symbol", ["AA\x00PL", "AAPL\x00", "AA,PL", "AAPL,", "AA\nPL", "AAPL\r", "AA\tPL",
                                        "\x1bAAPL", "AA\x7fPL", "AA\x85PL"])
    def test_nul_comma_and_control_characters(self, client: FlaskClient, stub: WorkerStub, symbol: str) -> None:
        body = assert_refused(post(client, {**VALID, "symbol": symbol}), stub, "symbol")
        assert "symbol" not in body, "an invalid symbol is not echoed back"

    def test_the_message_names_the_problem(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert assert_refused(post(client, {**VALID, "symbol": "A\x00"}), stub)["fields"]["symbol"] == \
            "must not contain NUL or other control characters"
        assert assert_refused(post(client, {**VALID, "symbol": "A,B"}), stub)["fields"]["symbol"] == \
            "must not contain commas"

    @pytest.mark.parametrize("symbol", ["BRK B", "BRK.B", "ES", "EUR", "BF/B", "RDS-A"])
    def test_real_symbols_with_punctuation_pass(self, client: FlaskClient, stub: WorkerStub, symbol: str) -> None:
        assert post(client, {**VALID, "symbol": symbol}).status_code == 200
        assert stub.requests[0].body["symbol"] == symbol


class TestTheClientsExactStringIsValidated:
    """Unicode case mapping makes ASCII out of other letters: the check must see what the client sent."""

    @pytest.mark.parametrize(("field", "value"), [
        ("symbol", "\u017fpy"), ("symbol", "\u0131bm"), ("symbol", "\ufb00"),  # long s, dotless i, ff ligature
        ("what", "trade\u017f"), ("what", "m\u0131dpoint"), ("sec_type", "\u017ftk"), ("exchange", "\u017fmart"),
        ("currency", "u\u017fd"),
    ])
    def test_letters_that_become_ascii_when_upper_cased_are_refused(self, client: FlaskClient, stub: WorkerStub,
                                                                    field: str, value: str) -> None:
        assert value.upper().isascii(), "the value would pass a check made after upper-casing"
        assert_refused(post(client, {**VALID, field: value}), stub, field)

    @pytest.mark.parametrize("value", ["\u0280th", "r\u0442h", "\uff41ll"])
    def test_a_session_that_is_not_ascii_is_refused(self, client: FlaskClient, stub: WorkerStub, value: str) -> None:
        assert_refused(post(client, {**VALID, "session": value}), stub, "session")

    def test_ascii_in_any_case_is_put_in_ibs_case(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = post(client, {**VALID, "symbol": "spy", "what": "Midpoint", "sec_type": "stk",
                                 "exchange": "smart", "currency": "usd", "session": "RTH"})
        assert response.status_code == 200
        sent = stub.requests[0].body
        assert (sent["symbol"], sent["what_to_show"], sent["sec_type"], sent["exchange"], sent["currency"],
                sent["use_rth"]) == ("SPY", "MIDPOINT", "STK", "SMART", "USD", True)


    def test_a_valid_lower_case_symbol_is_echoed_in_ibs_case(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {**VALID, "symbol": "aapl", "duration": "forever"}), stub, "duration")
        assert body["symbol"] == "AAPL"


class TestIbsDurationLimits:
    @pytest.mark.parametrize(("period", "duration", "longest"), [
        ("1s", "3600 S", "1800 S"), ("5s", "1 D", "3600 S"), ("1m", "1 M", "1 D"), ("1m", "2 D", "1 D"),
        ("5m", "2 W", "1 W"), ("1h", "2 M", "1 M"), ("1d", "2 Y", "1 Y"),
    ])
    def test_include_forming_over_the_table_is_400_naming_the_longest(self, client: FlaskClient, stub: WorkerStub,
                                                                      period: str, duration: str,
                                                                      longest: str) -> None:
        body = assert_refused(post(client, {**VALID, "period": period, "duration": duration,
                                            "include_forming": True}), stub, "duration")
        assert body["fields"]["duration"].startswith(f"at most {longest} ")
        assert "include_forming" in body["fields"]["duration"] and "live subscription" in body["fields"]["duration"]
        assert set(body["fields"]) == {"duration"}

    @pytest.mark.parametrize(("period", "duration"), [("1s", "3600 S"), ("1m", "1 M"), ("1m", "50 Y"),
                                                      ("5m", "2 W"), ("1d", "2 Y"), ("1s", "600 M")])
    def test_without_include_forming_any_duration_up_to_fifty_years_is_forwarded(
            self, client: FlaskClient, stub: WorkerStub, period: str, duration: str) -> None:
        assert post(client, {**VALID, "period": period, "duration": duration}).status_code == 200
        assert stub.requests[0].body["duration"] == duration

    @pytest.mark.parametrize("duration", ["51 Y", "18251 D", "2608 W"])
    def test_over_fifty_years_is_400(self, client: FlaskClient, stub: WorkerStub, duration: str) -> None:
        body = assert_refused(post(client, {**VALID, "duration": duration}), stub, "duration")
        assert body["fields"]["duration"] == "at most 50 Y in all"

    @pytest.mark.parametrize(("period", "duration"), [("1s", "1800 S"), ("5s", "3600 S"), ("30s", "28800 S"),
                                                      ("1m", "1 D"), ("5m", "1 W"), ("1h", "1 M"), ("1d", "1 Y")])
    def test_the_longest_duration_is_served_with_include_forming(self, client: FlaskClient, stub: WorkerStub,
                                                                 period: str, duration: str) -> None:
        assert post(client, {**VALID, "period": period, "duration": duration,
                             "include_forming": True}).status_code == 200


class TestMalformedBodies:
    def test_malformed_json(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.post("/api/v1/bars", data='{"symbol": "AAPL",', content_type="application/json")
        body = assert_refused(response, stub, "body")
        assert body["error"].startswith("malformed JSON")

    @pytest.mark.parametrize("payload", ["[]", '"AAPL"', "42", "null"])
    def test_a_body_that_is_not_an_object(self, client: FlaskClient, stub: WorkerStub, payload: str) -> None:
        response = client.post("/api/v1/bars", data=payload, content_type="application/json")
        assert assert_refused(response, stub, "body")["fields"]["body"] == "must be a JSON object"

    def test_an_empty_body_names_the_required_fields(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert_refused(client.post("/api/v1/bars"), stub, "symbol", "period", "duration")

    def test_a_body_that_is_not_json_is_415(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.post("/api/v1/bars", data="symbol=AAPL&period=5m",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415
        assert response.get_json()["code"] == "unsupported_media_type"
        assert stub.requests == []

    def test_json_with_a_charset_is_json(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.post("/api/v1/bars", data='{"symbol": "AAPL", "period": "5m", "duration": "1 D"}',
                               content_type="application/json; charset=utf-8")
        assert response.status_code == 200


class TestCurrencyPairs:
    def test_ibs_pair_form_names_symbol_and_currency_of_a_cash_pair(self) -> None:
        loaded = BarsQuerySchema().load({**VALID, "symbol": "eur.usd", "sec_type": "CASH", "exchange": "IDEALPRO"})
        assert (loaded.symbol, loaded.currency, loaded.sec_type) == ("EUR", "USD", "CASH")
        loaded = BarsQuerySchema().load({**VALID, "symbol": "EUR.JPY", "sec_type": "CASH", "currency": "jpy"})
        assert (loaded.symbol, loaded.currency) == ("EUR", "JPY")

    def test_a_pair_with_another_currency_is_refused(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {**VALID, "symbol": "EUR.USD", "sec_type": "CASH", "currency": "GBP"}),
                              stub, "currency")
        assert "quoted in USD" in body["fields"]["currency"]

    def test_a_dotted_stock_symbol_stays_what_it_is(self) -> None:
        loaded = BarsQuerySchema().load({**VALID, "symbol": "BRK.B"})
        assert (loaded.symbol, loaded.currency) == ("BRK.B", "USD")
        assert BarsQuerySchema().load({**VALID, "symbol": "ABC.DEF"}).symbol == "ABC.DEF"  # STK: not a pair
