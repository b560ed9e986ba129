"""The event-stream framing: what an EventSource reads back is what was sent."""

from __future__ import annotations

from app.streams import sse
from tests.sse import SseParser, parse

BAR = {"date": "20250128 11:00:00", "time": 1738080000, "datetime": "2025-01-28T11:00:00-05:00",
       "open": 1.5, "high": 2.0, "low": 1.0, "close": 1.75,
       "volume": 100, "wap": 1.6, "count": 7}


def test_a_bar_event_carries_its_time_as_id_and_the_bar_as_json() -> None:
    assert sse.event("bar", BAR, BAR["time"]).startswith(b"id: 1738080000\nevent: bar\ndata: {")
    event = parse(sse.event("bar", BAR, BAR["time"]))[0]
    assert (event.kind, event.id, event.data) == ("bar", "1738080000", BAR)


def test_other_events_have_no_id_so_last_event_id_stays_the_last_bar() -> None:
    reader = SseParser()
    reader.feed(sse.event("bar", BAR, BAR["time"]) + sse.event("update", {**BAR, "close": 1.8}))
    assert reader.last_event_id == "1738080000"
    assert b"id:" not in sse.event("status", {"status": "live", "reason": None})


def test_text_with_newlines_stays_on_one_data_line() -> None:
    chunk = sse.error_event("tws_error", "line one\nline two\r\nthree")
    assert chunk.count(b"\n") == 3  # event:, data:, the blank line
    assert parse(chunk)[0].data == {"code": "tws_error", "error": "line one\nline two\r\nthree"}


def test_retry_and_heartbeat_are_read_as_the_reconnect_delay_and_a_comment() -> None:
    reader = SseParser()
    assert reader.feed(sse.retry() + sse.HEARTBEAT) == []
    assert (reader.retry, reader.comments) == (3000, ["heartbeat"])
