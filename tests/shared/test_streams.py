"""The live-series protocol both sides share: ids and topics, events on the PUB socket, stream_open and
stream_interest bodies, all validated on the way in."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shared.bars import InvalidBarRequest
from shared.contract_fields import CONTRACT_DEFAULTS
from shared.protocol import OPERATIONS, ProtocolError
from shared.streams import (
    MAX_BACKFILL,
    StreamEvent,
    StreamInterest,
    StreamOpen,
    StreamSnapshot,
    parse_series_id,
    series_id,
    series_request,
    status_data,
    topic,
)

BAR = {"date": "20250128 10:59:00", "time": 1738079940, "datetime": "2025-01-28T10:59:00-05:00",
       "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5,
       "volume": 100, "wap": 1.2, "count": 7}
ID = "265598|SMART|1 min|TRADES|rth"
FIELDS = {"symbol": "AAPL", "bar_size": "1 min", "what_to_show": "TRADES", "use_rth": True, "sec_type": "STK",
          "exchange": "SMART", "currency": "USD"}


def test_the_stream_operations_are_operations_of_the_envelope() -> None:
    assert {"stream_open", "stream_interest"} <= set(OPERATIONS)


# ---- ids and topics ----------------------------------------------------------------------------------------------

def test_a_series_id_names_contract_exchange_bar_size_what_and_session() -> None:
    assert series_id(265598, "SMART", "1 min", "TRADES", True) == ID
    assert series_id(12087792, "IDEALPRO", "5 mins", "MIDPOINT", False) == "12087792|IDEALPRO|5 mins|MIDPOINT|all"
    assert parse_series_id(ID) == (265598, "SMART", "1 min", "TRADES", True)


@pytest.mark.parametrize("bad", ["", "265598|SMART|1 min|TRADES", "0|SMART|1 min|TRADES|rth",
                                 "265598|SMART|7 mins|TRADES|rth", "265598|SM,ART|1 min|TRADES|rth",
                                 "265598|SMART|1 min|TRADES|rth\n", "265598|SMART|1 min|trades|rth", 265598, None])
def test_anything_else_is_not_a_series_id(bad: Any) -> None:
    with pytest.raises(ProtocolError, match="series id"):
        parse_series_id(bad)


def test_no_topic_is_a_prefix_of_another() -> None:
    one, eleven = topic("1|SMART|1 min|TRADES|rth"), topic("11|SMART|1 min|TRADES|rth")
    ten_minutes = topic("1|SMART|10 mins|TRADES|rth")
    assert one == b"1|SMART|1 min|TRADES|rth\n"
    assert not eleven.startswith(one) and not ten_minutes.startswith(one)


# ---- events ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "data"), [("bar", BAR), ("update", BAR), ("revision", BAR),
                                            ("status", status_data("interrupted", "1101 (data lost)")),
                                            ("status", status_data("restored")),
                                            ("error", {"code": "tws_undecodable", "message": "m"})])
def test_an_event_is_two_frames_topic_and_json_and_round_trips(kind: str, data: dict[str, Any]) -> None:
    event = StreamEvent(ID, "0123456789abcdef", 7, kind, data)
    frames = event.frames()
    assert frames[0] == topic(ID)
    assert orjson.loads(frames[1]) == {"v": 1, "series": ID, "incarnation": "0123456789abcdef", "seq": 7,
                                       "event": kind, "data": data}
    assert StreamEvent.from_frames(frames) == event


def frames(**fields: Any) -> list[bytes]:
    msg = {"v": 1, "series": ID, "incarnation": "0123456789abcdef", "seq": 1, "event": "bar", "data": BAR, **fields}
    return [topic(ID), orjson.dumps(msg)]


@pytest.mark.parametrize(("bad", "why"), [
    ([topic(ID)], "2 frames"),
    ([topic(ID), b"nope"], "JSON"),
    (frames(v=2), "version"),
    ([topic("1|SMART|1 min|TRADES|rth"), frames()[1]], "topic"),
    (frames(incarnation="XYZ"), "incarnation"),
    (frames(seq=0), "seq"),
    (frames(seq=True), "seq"),
    (frames(event="tick"), "unknown event"),
    (frames(data=[1]), "data"),
    (frames(data={"time": 1}), "a bar needs"),
    (frames(event="status", data={"status": "gone"}), "status"),
    (frames(event="error", data={"code": 1}), "error"),
])
def test_a_bad_event_is_refused(bad: list[bytes], why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        StreamEvent.from_frames(bad)


# ---- stream_open -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("bar_size", "duration"), [("5 secs", "3600 S"), ("1 min", "1 D"), ("5 mins", "1 W"),
                                                    ("1 hour", "1 M"), ("1 day", "1 Y")])
def test_a_series_subscribes_to_ib_longest_duration_for_its_bar_size(bar_size: str, duration: str) -> None:
    request = series_request({**FIELDS, "bar_size": bar_size})
    assert (request.duration, request.include_forming, request.end_datetime) == (duration, True, "")


def test_stream_open_round_trips() -> None:
    opened = StreamOpen(series_request(FIELDS), after=1738079940, backfill=0)
    assert opened.to_wire() == {"request": {**FIELDS, **CONTRACT_DEFAULTS}, "after": 1738079940, "backfill": 0}
    assert StreamOpen.from_wire(opened.to_wire()) == opened
    assert StreamOpen.from_wire({"request": FIELDS}) == StreamOpen(series_request(FIELDS))  # an older HTTP side's


def test_stream_open_keeps_every_contract_field() -> None:
    future = {**FIELDS, "symbol": "", "sec_type": "FUT", "exchange": "CME", "con_id": 620730920,
              "last_trade_date": "202503", "multiplier": "50", "local_symbol": "ESH5", "trading_class": "ES",
              "include_expired": True, "primary_exchange": "CME", "strike": 0.0, "right": ""}
    opened = StreamOpen(series_request(future))
    assert opened.to_wire()["request"] == future
    assert StreamOpen.from_wire(orjson.loads(orjson.dumps(opened.to_wire()))) == opened


@pytest.mark.parametrize(("change", "field"), [
    ({"what_to_show": "BID_ASK"}, "what_to_show"), ({"what_to_show": "ADJUSTED_LAST"}, "what_to_show"),
    ({"what_to_show": "HISTORICAL_VOLATILITY"}, "what_to_show"),
    ({"what_to_show": "OPTION_IMPLIED_VOLATILITY"}, "what_to_show"),
    ({"sec_type": "CONTFUT", "exchange": "CME", "symbol": "ES"}, "sec_type"),
])
def test_a_stream_is_only_of_a_series_ib_keeps_up_to_date(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        series_request({**FIELDS, **change})
    assert set(caught.value.fields) == {field}
    assert "up to date" in caught.value.fields[field] or "keepUpToDate" in caught.value.fields[field]


@pytest.mark.parametrize(("body", "field"), [
    ([], "body"),
    ({"request": FIELDS, "extra": 1}, "body"),
    ({"request": None}, "request"),
    ({"request": {**FIELDS, "duration": "1 D"}}, "request"),
    ({"request": {**FIELDS, "symbol": "AA\x00PL"}}, "symbol"),
    ({"request": {**FIELDS, "bar_size": "7 mins"}}, "bar_size"),
    ({"request": {**FIELDS, "bar_size": "1 secs"}}, "bar_size"),  # keepUpToDate needs 5 secs or more
    ({"request": {**FIELDS, "use_rth": "yes"}}, "use_rth"),
    ({"request": {**FIELDS, "trading_class": "ES\x00"}}, "trading_class"),
    ({"request": {**FIELDS, "sec_type": "FOP"}}, "right"),
    ({"request": FIELDS, "after": -1}, "after"),
    ({"request": FIELDS, "after": 1.5}, "after"),
    ({"request": FIELDS, "after": "1738079940"}, "after"),
    ({"request": FIELDS, "backfill": MAX_BACKFILL + 1}, "backfill"),
    ({"request": FIELDS, "backfill": -1}, "backfill"),
    ({"request": FIELDS, "backfill": False}, "backfill"),
])
def test_a_bad_stream_open_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        StreamOpen.from_wire(body)
    assert field in caught.value.fields


def test_a_snapshot_round_trips_and_says_whether_there_is_a_gap() -> None:
    snapshot = StreamSnapshot(ID, "0123456789abcdef", 3, [BAR], {**BAR, "time": BAR["time"] + 60},
                              status_data("live"))
    wire = snapshot.to_wire()
    assert wire["gap"] is False
    assert StreamSnapshot.from_wire(orjson.loads(orjson.dumps(wire))) == snapshot
    assert StreamSnapshot.from_wire({**wire, "gap": True, "forming": None}).gap is True


@pytest.mark.parametrize("change", [{"series": "x"}, {"seq": -1}, {"bars": {}}, {"bars": [{"time": 1}]},
                                    {"forming": {"close": 1}}, {"status": {"status": "odd"}}])
def test_a_bad_snapshot_is_refused(change: dict[str, Any]) -> None:
    wire = StreamSnapshot(ID, "0123456789abcdef", 0, [], None, status_data("live")).to_wire()
    with pytest.raises(ProtocolError):
        StreamSnapshot.from_wire({**wire, **change})


# ---- stream_interest ---------------------------------------------------------------------------------------------

def test_stream_interest_round_trips() -> None:
    interest = StreamInterest(4242, {ID: 3, "265598|SMART|5 mins|TRADES|all": 0})
    assert StreamInterest.from_wire(interest.to_wire()) == interest


@pytest.mark.parametrize(("body", "field"), [
    ({"http_worker": 0, "series": {}}, "http_worker"),
    ({"http_worker": "4242", "series": {}}, "http_worker"),
    ({"http_worker": 4242, "series": []}, "series"),
    ({"http_worker": 4242, "series": {"AAPL": 1}}, "series"),
    ({"http_worker": 4242, "series": {ID: -1}}, "series"),
    ({"http_worker": 4242, "series": {ID: 1.5}}, "series"),
])
def test_a_bad_stream_interest_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        StreamInterest.from_wire(body)
    assert field in caught.value.fields
