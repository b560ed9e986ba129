"""POST /api/v1/bars with a start instead of a duration, a limit and a page token: validated with a message per
field before anything reaches the worker, and forwarded as the worker's wire form."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.schemas import BarsQuerySchema
from shared.bars import BarRequest
from tests.app.conftest import WorkerStub
from tests.app.test_bars_validation import assert_refused, post

RANGE = {"symbol": "AAPL", "period": "1m", "start_datetime": "20250102 09:30:00", "end_datetime": "20250201 16:00:00"}


class TestAStartInsteadOfADuration:
    def test_the_range_becomes_a_request_without_a_duration(self) -> None:
        assert BarsQuerySchema().load(RANGE) == BarRequest(
            symbol="AAPL", bar_size="1 min", duration="", start_datetime="20250102 09:30:00",
            end_datetime="20250201 16:00:00")

    def test_iso_8601_start_with_an_offset_becomes_utc(self) -> None:
        loaded = BarsQuerySchema().load({**RANGE, "start_datetime": "2025-01-02T09:30:00-05:00",
                                         "end_datetime": "2025-02-01T16:00:00-05:00"})
        assert (loaded.start_datetime, loaded.end_datetime) == ("20250102-14:30:00", "20250201-21:00:00")

    def test_a_start_until_now(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert post(client, {**RANGE, "end_datetime": ""}).status_code == 200
        sent = stub.requests[0].body
        assert (sent["duration"], sent["start_datetime"], sent["end_datetime"]) == ("", "20250102 09:30:00", "")

    def test_null_duration_with_a_start_means_no_duration(self) -> None:
        assert BarsQuerySchema().load({**RANGE, "duration": None}).duration == ""

    def test_the_wire_body_carries_the_new_fields(self, client: FlaskClient, stub: WorkerStub) -> None:
        assert post(client, {**RANGE, "limit": 1000, "page_token": "Zm9v_YmFy-1"}).status_code == 200
        sent = BarRequest.from_wire(stub.requests[0].body)
        assert (sent.start_datetime, sent.limit, sent.page_token) == ("20250102 09:30:00", 1000, "Zm9v_YmFy-1")


class TestExactlyOneOfDurationAndStart:
    def test_both_are_refused(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {**RANGE, "duration": "1 M"}), stub, "start_datetime")
        assert body["fields"] == {"start_datetime": "give duration or start_datetime, not both"}

    @pytest.mark.parametrize("body", [{"symbol": "AAPL", "period": "1m"},
                                      {"symbol": "AAPL", "period": "1m", "duration": "", "start_datetime": ""},
                                      {"symbol": "AAPL", "period": "1m", "end_datetime": "20250201 16:00:00"}])
    def test_neither_is_refused_naming_both(self, client: FlaskClient, stub: WorkerStub, body: dict[str, Any]) -> None:
        refused = assert_refused(post(client, body), stub, "duration")
        assert refused["fields"] == {"duration": "is required, or start_datetime (the range's length or its start)"}

    @pytest.mark.parametrize(("start", "end"), [("20250201 16:00:00", "20250201 16:00:00"),
                                                ("20250301 09:30:00", "20250201 16:00:00"),
                                                ("2025-02-02T00:00:00Z", "2025-02-01T16:00:00-05:00")])
    def test_the_start_must_be_before_the_end(self, client: FlaskClient, stub: WorkerStub, start: str,
                                              end: str) -> None:
        body = assert_refused(post(client, {**RANGE, "start_datetime": start, "end_datetime": end}), stub,
                              "start_datetime")
        assert body["fields"] == {"start_datetime": "must be before end_datetime"}

    @pytest.mark.parametrize("start", ["yesterday", "2025-01-02T09:30:00", "20250230 09:30:00", "20250102 09:30",
                                       "20250102 09:30:00\n", "2025-01-02T09:30:00\x00+00:00", 20250102, True,
                                       "\u0662\u0660\u0662\u0665-01-02T09:30:00+00:00"])
    def test_a_start_in_no_form_is_refused(self, client: FlaskClient, stub: WorkerStub, start: Any) -> None:
        assert_refused(post(client, {**RANGE, "start_datetime": start}), stub, "start_datetime")

    def test_the_message_names_the_forms(self, client: FlaskClient, stub: WorkerStub) -> None:
        body = assert_refused(post(client, {**RANGE, "start_datetime": "soon"}), stub, "start_datetime")
        assert "yyyymmdd HH:MM:SS" in body["fields"]["start_datetime"]
        assert "ISO 8601 with an offset" in body["fields"]["start_datetime"]


class TestLimit:
    @pytest.mark.parametrize("limit", [1, 50_000, None])
    def test_one_to_fifty_thousand_and_null_is_the_default(self, client: FlaskClient, stub: WorkerStub,
                                                           limit: int | None) -> None:
        assert post(client, {**RANGE, "limit": limit}).status_code == 200
        assert stub.requests[0].body["limit"] == (limit or 50_000)

    @pytest.mark.parametrize("limit", [0, -5, 50_001, 10**20, 1.5, 10.0, "100", True, [], {}])
    def test_anything_else_is_refused(self, client: FlaskClient, stub: WorkerStub, limit: Any) -> None:
        body = assert_refused(post(client, {**RANGE, "limit": limit}), stub, "limit")
        assert body["fields"]["limit"] == "must be a whole number of bars from 1 to 50000"


class TestPageToken:
    @pytest.mark.parametrize("token", ["a", "x" * 512, "AZaz09_-"])
    def test_an_opaque_url_safe_token_is_forwarded_as_is(self, client: FlaskClient, stub: WorkerStub,
                                                         token: str) -> None:
        assert post(client, {**RANGE, "page_token": token}).status_code == 200
        assert stub.requests[0].body["page_token"] == token

    @pytest.mark.parametrize("token", ["x" * 513, "abc=", "a b", "a/b", "a\x00b", "a\nb", "\u0430bc", 12, True])
    def test_other_characters_are_refused(self, client: FlaskClient, stub: WorkerStub, token: Any) -> None:
        assert_refused(post(client, {**RANGE, "page_token": token}), stub, "page_token")


class TestIncludeForming:
    @pytest.mark.parametrize("extra", [{"start_datetime": "20250102 09:30:00"}, {"page_token": "abc"}])
    def test_takes_a_duration_and_no_page(self, client: FlaskClient, stub: WorkerStub, extra: dict[str, Any]) -> None:
        body = assert_refused(post(client, {"symbol": "AAPL", "period": "1m", "duration": "1 D",
                                            "include_forming": True, **extra}), stub, "include_forming")
        assert body["fields"]["include_forming"].startswith("takes a duration, not start_datetime or page_token")
