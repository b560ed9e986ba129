"""GET /api/v1/bars/stream validates its query exactly as POST /bars validates its body (the same field definitions,
the same messages): anything invalid is a 400 JSON answer before any stream starts, and nothing reaches the worker."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from app.schemas import BarsStreamQuerySchema
from app.streams.request import StreamRequest
from shared.bars import BarRequest
from shared.contract_fields import CONTRACT_DEFAULTS
from shared.streams import MAX_BACKFILL
from tests.app.conftest import WorkerStub

QUERY = {"symbol": "AAPL", "period": "1m"}
BARS_BODY = {"symbol": "AAPL", "period": "1m", "duration": "1 D"}


def stream(client: FlaskClient, query: dict[str, Any] | str, headers: dict[str, str] | None = None) -> Any:
    text = query if isinstance(query, str) else urlencode(query)
    return client.get(f"/api/v1/bars/stream?{text}", headers=headers or {})


def refused(response: Any, stub: WorkerStub, *fields: str) -> dict[str, Any]:
    assert response.status_code == 400, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert (body["success"], body["code"], body["bars"], body["count"]) == (False, "invalid_request", [], 0)
    assert set(fields) <= set(body["fields"]), body
    assert stub.requests == [], "nothing may reach the worker"
    return body


class TestTheSeriesFields:
    def test_only_symbol_and_period_are_required_and_the_series_is_ibs_longest_window(self) -> None:
        assert BarsStreamQuerySchema().load(QUERY) == StreamRequest(
            BarRequest(symbol="AAPL", bar_size="1 min", duration="1 D", include_forming=True), backfill=0,
            after=None)

    def test_every_field_maps_to_the_series(self) -> None:
        loaded = BarsStreamQuerySchema().load({
            "symbol": "eur.usd", "period": "1h", "what": "midpoint", "session": "ALL", "sec_type": "cash",
            "exchange": "idealpro", "backfill": "20", "last_event_id": "1738080000"})
        assert loaded.series_fields == {"symbol": "EUR", "bar_size": "1 hour", "what_to_show": "MIDPOINT",
                                        "use_rth": False, "sec_type": "CASH", "exchange": "IDEALPRO",
                                        "currency": "USD", **CONTRACT_DEFAULTS}
        assert (loaded.backfill, loaded.after, loaded.series.duration) == (20, 1738080000, "1 M")

    @pytest.mark.parametrize(("field", "value"), [
        ("symbol", ""), ("symbol", "A" * 25), ("symbol", "-AAPL"), ("symbol", "AA,PL"), ("symbol", "AA\x00PL"),
        ("symbol", "AAPL\n"), ("symbol", "\u017fpy"), ("period", "7m"), ("period", "1 min"), ("what", "VOLUME"),
        ("what", "trade\u017f"), ("session", "night"), ("session", "\u0280th"), ("sec_type", "WAR"),
        ("exchange", "SMART,NYSE"), ("exchange", ""), ("currency", "U S D"), ("currency", "u\u017fd"),
    ])
    def test_a_bad_series_field_gets_the_message_post_bars_gives(self, client: FlaskClient, stub: WorkerStub,
                                                                 field: str, value: str) -> None:
        body = refused(stream(client, {**QUERY, field: value}), stub, field)
        as_bars = client.post("/api/v1/bars", json={**BARS_BODY, field: value}).get_json()
        assert body["fields"][field] == as_bars["fields"][field]

    def test_a_live_series_needs_bars_of_5_seconds_or_more(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = refused(stream(client, {**QUERY, "period": "1s"}), stub, "period")
        assert "5 secs or more" in body["fields"]["period"]
        assert BarsStreamQuerySchema().load({**QUERY, "period": "5s"}).series.duration == "3600 S"

    def test_required_fields_missing(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = refused(stream(client, {}), stub, "symbol", "period")
        assert body["fields"]["symbol"] == "is required unless con_id names the contract"

    @pytest.mark.parametrize("field", ["duration", "include_forming", "end_datetime", "bar_size", "token"])
    def test_fields_a_stream_does_not_take_are_refused(self, client: FlaskClient, stub: WorkerStub,
                                                       field: str) -> None:
        assert refused(stream(client, {**QUERY, field: "1"}), stub, field)["fields"][field] == "unknown field"

    def test_a_field_given_twice_is_refused(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = refused(stream(client, "symbol=AAPL&symbol=MSFT&period=1m"), stub, "symbol")
        assert body["fields"]["symbol"] == "given more than once"

    def test_a_cash_pair_quoted_in_another_currency(self, client: FlaskClient, stub: WorkerStub) -> None:
        refused(stream(client, {**QUERY, "symbol": "EUR.USD", "sec_type": "CASH", "currency": "GBP"}), stub,
                "currency")

    def test_valid_symbol_and_period_are_named_in_the_error(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = refused(stream(client, {**QUERY, "symbol": "aapl", "backfill": "x"}), stub, "backfill")
        assert (body["symbol"], body["period"]) == ("AAPL", "1m")


class TestBackfillAndResume:
    @pytest.mark.parametrize("value", ["-1", str(MAX_BACKFILL + 1), "1.5", "ten", " 5", "5 ", "\u0661\u0660", "",
                                       "0x10", "1e3"])
    def test_backfill_is_a_whole_number_of_bars_up_to_the_limit(self, client: FlaskClient, stub: WorkerStub,
                                                                value: str) -> None:
        body = refused(stream(client, {**QUERY, "backfill": value}), stub, "backfill")
        assert body["fields"]["backfill"] == f"must be a whole number of bars from 0 to {MAX_BACKFILL}"

    @pytest.mark.parametrize("value", ["0", "5000"])
    def test_backfill_bounds_are_accepted(self, value: str) -> None:
        assert BarsStreamQuerySchema().load({**QUERY, "backfill": value}).backfill == int(value)

    @pytest.mark.parametrize("value", ["yesterday", "-5", "1738080000.5", "\u0661\u0667\u0663\u0668", "99999999999"])
    def test_last_event_id_is_a_bars_epoch_seconds(self, client: FlaskClient, stub: WorkerStub, value: str) -> None:
        refused(stream(client, {**QUERY, "last_event_id": value}), stub, "last_event_id")

    def test_the_last_event_id_header_is_validated_like_the_query(self, client: FlaskClient,
                                                                  stub: WorkerStub) -> None:
        refused(stream(client, QUERY, {"Last-Event-ID": "garbage"}), stub, "last_event_id")

    def test_the_last_event_id_header_wins_over_the_query(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = refused(stream(client, {**QUERY, "last_event_id": "1738080000", "backfill": "x"},
                              {"Last-Event-ID": "bad"}), stub, "last_event_id", "backfill")
        assert "must be the id" in body["fields"]["last_event_id"]


class TestAnswersBeforeTheStream:
    def test_a_stream_needs_the_token_when_one_is_set(self, app_factory: Any, stub: WorkerStub) -> None:
        client = app_factory(api_token="a-token-of-16-chars-or-more").test_client()
        response = stream(client, QUERY)
        assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
        assert stub.requests == []

    def test_head_gets_the_streams_headers_and_no_stream(self, client: FlaskClient, stub: WorkerStub) -> None:
        response = client.head(f"/api/v1/bars/stream?{urlencode(QUERY)}")
        assert response.status_code == 200 and response.mimetype == "text/event-stream"
        assert (response.headers["Cache-Control"], response.headers["X-Accel-Buffering"]) == ("no-cache", "no")
        assert stub.requests == []

    def test_post_is_not_allowed(self, client: FlaskClient) -> None:
        response = client.post(f"/api/v1/bars/stream?{urlencode(QUERY)}")
        assert response.status_code == 405 and response.get_json()["code"] == "method_not_allowed"
