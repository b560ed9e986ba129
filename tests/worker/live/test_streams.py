"""stream_open and stream_interest on the subscription book: one upstream subscription per series for all its streams
and polls, snapshots consistent with the published seq, interest that keeps a series alive and lets it expire, and
`subscriptions_exhausted` when every slot serves stream clients. The fake ibapi client stands in for TWS."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import worker.history.upstream
import worker.live.connection_events
import worker.live.gap_fill
import worker.live.streams
import worker.live.subscriptions
from shared.bars import BarRequest
from shared.errors import ErrorCode
from shared.streams import StreamSnapshot
from tests.worker.fakes import LOST, NO_DATA, Replies, use_clock
from tests.worker.live.harness import FIELDS, IDLE_TTL, SERIES, LiveHarness, session, values

POLL = BarRequest(symbol="AAPL", bar_size="1 min", duration="1800 S", include_forming=True)
END = "20250127 11:02:30 America/New_York"


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> LiveHarness:
    harness = LiveHarness()
    use_clock(monkeypatch, harness.clock, worker.history.upstream, worker.live.subscriptions, worker.live.streams,
              worker.live.connection_events, worker.live.gap_fill)
    return harness


def snapshot(replies: Replies) -> StreamSnapshot:
    return StreamSnapshot.from_wire(replies.result)


def live_stream(h: LiveHarness, **opening: Any) -> StreamSnapshot:
    replies = h.open(**opening)
    h.history(session("09:30", "11:02"), END)
    return snapshot(replies)


# ---- stream_open -------------------------------------------------------------------------------------------------

def test_stream_open_subscribes_to_the_series_and_answers_once_its_history_arrived(h: LiveHarness) -> None:
    replies = h.open(backfill=2)
    assert replies.calls == []
    _, _, end, duration, bar_size, _, use_rth, _, keep_up, _ = h.tws.historical[0]
    assert (end, duration, bar_size, use_rth, keep_up) == ("", "1 D", "1 min", 1, True)
    h.history(session("09:30", "11:02"), END)
    opened = snapshot(replies)
    assert opened.series == SERIES and opened.incarnation == "00c0ffee00c0ffee" and opened.seq == 0
    assert [b["date"][9:14] for b in opened.bars] == ["11:00", "11:01"]
    assert opened.forming is not None and opened.forming["date"] == "20250127 11:02:00"
    assert opened.status == {"status": "live", "reason": None} and opened.gap is False


def test_every_stream_and_poll_of_a_series_shares_one_upstream_subscription(h: LiveHarness) -> None:
    first = h.open()
    second = h.open(backfill=10)
    waiting_poll = h.poll(POLL)
    h.history(session("09:30", "11:02"), END)
    assert snapshot(first).seq == snapshot(second).seq == 0
    assert len(waiting_poll.result["bars"]) == 30
    assert len(h.poll(replace(POLL, duration="1 D")).result["bars"]) == 93
    snapshot(h.open(after=0))
    assert len(h.tws.historical) == 1 and h.up.open_count == 1 and len(h.book) == 1


def test_a_stream_of_a_series_a_poll_started_joins_its_subscription(h: LiveHarness) -> None:
    h.poll(POLL)
    h.history(session("09:30", "11:02"), END)
    h.update(values("11:03"))
    opened = snapshot(h.open())
    assert opened.seq == 2, "the poll's subscription published from the start"
    assert len(h.tws.historical) == 1


def test_a_snapshot_seq_lets_a_receiver_drop_exactly_what_it_already_holds(h: LiveHarness) -> None:
    live_stream(h)
    h.update(values("11:02", close=101.0))
    h.update(values("11:03"))
    opened = snapshot(h.open(backfill=5000))
    h.update(values("11:04"))
    later = [e for e in h.published.events if e.seq > opened.seq]
    assert [e.event for e in later] == ["bar", "update"]
    assert [b["date"][9:14] for b in opened.bars][-1] == "11:02" and later[0].data["date"][9:14] == "11:03"


def test_stream_open_on_an_interrupted_series_answers_at_once_with_its_status(h: LiveHarness) -> None:
    live_stream(h)
    h.book.connection_lost(LOST)
    opened = snapshot(h.open())
    assert opened.status == {"status": "interrupted", "reason": LOST.message}
    assert opened.seq == 1 and h.published.kinds() == ["status"]


def test_a_stream_of_a_series_tws_has_no_data_for_gets_no_data_and_it_is_remembered(h: LiveHarness) -> None:
    replies = h.open()
    h.up.on_error(h.last_id, 162, NO_DATA)
    assert replies.error.code is ErrorCode.NO_DATA and replies.error.tws_code == 162
    again = h.open()
    assert again.error.code is ErrorCode.NO_DATA and NO_DATA in again.error.message
    assert len(h.tws.historical) == 1


def test_a_stream_of_a_series_that_fails_gets_the_error_and_its_streams_hear_it(h: LiveHarness) -> None:
    live_stream(h)
    h.up.on_error(h.last_id, 354, "Requested market data is not subscribed")
    assert h.published.of("error") == [{"code": "market_data_not_subscribed",
                                        "message": "Requested market data is not subscribed", "tws_code": 354}]
    assert len(h.book) == 0 and h.interest(1) == [SERIES]


def test_a_bad_stream_open_is_invalid_request_naming_the_field(h: LiveHarness) -> None:
    replies = Replies()
    h.desk.handle("stream_open", {"request": {**FIELDS, "bar_size": "1 secs"}}, 1e12, replies,
                  lambda *args: pytest.fail("never resolved"))
    assert replies.error.code is ErrorCode.INVALID_REQUEST and "bar_size" in replies.error.fields


# ---- interest and idle expiry ------------------------------------------------------------------------------------

def test_interest_renewed_keeps_a_series_past_the_idle_ttl(h: LiveHarness) -> None:
    live_stream(h)
    for _ in range(int(IDLE_TTL / 5) * 3):
        h.advance(5)
        assert h.interest(2) == []
    assert len(h.book) == 1 and h.tws.cancelled == []
    stats = h.desk.stats()["series"][SERIES]
    assert stats["clients"] == 2 and stats["http_workers"] == 1


def test_a_series_whose_last_client_left_is_cancelled_after_the_idle_ttl(h: LiveHarness) -> None:
    live_stream(h)
    h.advance(5)
    h.interest(1)
    h.interest(0)  # the last client left
    h.advance(IDLE_TTL - 10)
    assert h.tws.cancelled == []
    h.advance(20)
    assert h.tws.cancelled == [1] and len(h.book) == 0
    assert h.interest(1) == [SERIES], "the HTTP worker learns that the series is gone"


def test_an_http_worker_that_stops_renewing_stops_counting(h: LiveHarness) -> None:
    live_stream(h)
    h.interest(3, http_worker=1)
    h.interest(2, http_worker=2)
    assert h.desk.stats()["series"][SERIES]["clients"] == 5
    for _ in range(int(IDLE_TTL / 5) + 1):
        h.advance(5)
        h.interest(2, http_worker=2)
    assert h.desk.stats()["series"][SERIES]["clients"] == 2


def test_interest_in_a_series_the_worker_does_not_have_is_reported_unknown(h: LiveHarness) -> None:
    assert h.interest(1, series="1|SMART|1 min|TRADES|rth") == ["1|SMART|1 min|TRADES|rth"]


# ---- the subscription slots --------------------------------------------------------------------------------------

def streamed(h: LiveHarness, bar_size: str) -> str:
    replies = h.open({**FIELDS, "bar_size": bar_size})
    h.history(session("09:30", "11:02"), END)
    return snapshot(replies).series


def test_when_every_slot_serves_stream_clients_a_new_stream_gets_subscriptions_exhausted(h: LiveHarness) -> None:
    ids = [streamed(h, size) for size in ("1 min", "2 mins", "3 mins")]
    refused = h.open({**FIELDS, "bar_size": "5 mins"})
    assert refused.error.code is ErrorCode.SUBSCRIPTIONS_EXHAUSTED and refused.error.retry_after
    poll = h.poll(replace(POLL, bar_size="5 mins"))
    assert poll.error.code is ErrorCode.SUBSCRIPTIONS_EXHAUSTED
    assert len(h.tws.historical) == 3 and h.tws.cancelled == [] and h.book.stats()["exhausted"] == 2
    for _ in range(3):  # interest keeps two of them; the third's clients are gone
        h.advance(5)
        for sid in ids[1:]:
            h.interest(1, series=sid)
    h.open({**FIELDS, "bar_size": "5 mins"})
    assert h.tws.cancelled == [1], "the series without clients made room"


def test_a_subscription_without_stream_clients_is_evicted_before_any_stream_is_refused(h: LiveHarness) -> None:
    streamed(h, "1 min")
    h.poll(replace(POLL, bar_size="2 mins"))
    h.history(session("09:30", "11:02"), END)
    streamed(h, "3 mins")
    h.advance(1)
    h.open({**FIELDS, "bar_size": "5 mins"})
    assert h.tws.cancelled == [2] and len(h.book) == 3


# ---- the connection ----------------------------------------------------------------------------------------------

def test_a_reconnect_publishes_interrupted_then_the_bars_completed_meanwhile_then_restored(h: LiveHarness) -> None:
    live_stream(h)
    h.update(values("11:03"))
    h.advance(20)
    h.client = None
    h.up.forget_all()
    h.book.connection_lost(LOST)
    h.client = h.tws
    h.book.resubscribe_all("reconnect")
    h.advance(1)
    assert len(h.tws.historical) == 2
    h.history(session("09:30", "11:06"), "20250127 11:06:30 America/New_York")
    assert h.published.kinds() == ["bar", "update", "status", "bar", "bar", "bar", "update", "status"]
    assert [b["date"][9:14] for b in h.published.of("bar")] == ["11:02", "11:03", "11:04", "11:05"]


def test_1101_says_why_the_series_is_interrupted(h: LiveHarness) -> None:
    live_stream(h)
    h.book.resubscribe_all("TWS lost the live subscriptions (1101)")
    assert h.published.of("status") == [{"status": "interrupted", "reason": "TWS lost the live subscriptions (1101)"}]


def test_1100_interrupts_the_streams_and_1102_restores_them_without_a_request(h: LiveHarness) -> None:
    live_stream(h)
    h.book.outage("TWS reports IB unreachable (1100)")
    assert len(h.poll(POLL).result["bars"]) == 30, "polls are still answered from memory"
    h.book.data_kept()
    assert [s["status"] for s in h.published.of("status")] == ["interrupted", "restored"]
    assert len(h.tws.historical) == 1
    h.update(values("11:03"))
    assert h.published.kinds()[-2:] == ["bar", "update"] and len(h.tws.historical) == 1


def test_after_1102_an_update_that_skips_a_bar_requests_the_series_again(h: LiveHarness) -> None:
    live_stream(h)
    h.advance(20)
    h.book.outage("TWS reports IB unreachable (1100)")
    h.book.data_kept()
    h.update(values("11:05"))  # 11:03 and 11:04 completed while TWS sent nothing
    assert h.tws.cancelled == [1], "TWS still had the old one"
    h.advance(1)
    assert len(h.tws.historical) == 2 and h.published.of("bar") == []
    h.history(session("09:30", "11:05"), "20250127 11:05:30 America/New_York")
    assert [b["date"][9:14] for b in h.published.of("bar")] == ["11:02", "11:03", "11:04"]
    assert [s["status"] for s in h.published.of("status")] == ["interrupted", "restored", "interrupted", "restored"]


def test_health_shows_series_clients_and_events_published(h: LiveHarness) -> None:
    live_stream(h)
    h.interest(4)
    h.update(values("11:02", close=101.0))
    stats = h.desk.stats()
    assert stats["events_published"] == 1 and stats["opened"] == 1 and stats["gap_fills"] == 0
    assert stats["incarnation"] == "00c0ffee00c0ffee"
    assert stats["series"][SERIES] == {"clients": 4, "http_workers": 1, "status": "live", "seq": 1, "bars": 93}


# ---- a resubscription across a session boundary ------------------------------------------------------------------

def reconnect_next_morning(h: LiveHarness) -> int:
    """Streaming at 15:59 (the bar forming), the connection lost; back at 09:35 the next day, whose "1 D" history
    holds only the new session. Returns the reqId of the resubscription."""
    replies = h.open()
    h.history(session("15:30", "15:59"), "20250127 15:59:30 America/New_York")
    snapshot(replies)
    h.advance(20)
    h.client = None
    h.up.forget_all()
    h.book.connection_lost(LOST)
    h.client = h.tws
    h.book.resubscribe_all("reconnect")
    h.advance(1)
    resubscription = h.last_id
    h.history(session("09:30", "09:35", day="2025-01-28"), "20250128 09:35:30 America/New_York", resubscription)
    return resubscription


def test_a_history_that_starts_after_the_last_bar_published_is_completed_by_one_past_request(h: LiveHarness) -> None:
    resubscription = reconnect_next_morning(h)
    _, _, end, duration, bar_size, _, _, _, keep_up, _ = h.tws.historical[-1]
    assert (end, duration, bar_size, keep_up) == ("20250128-14:30:00", "1 D", "1 min", False)
    h.update(values("09:35", close=107.0, day="2025-01-28"), resubscription)  # held until the bars before it came
    assert h.published.kinds() == ["status"]
    h.history(session("15:30", "15:59"), "20250128 09:35:30 America/New_York")  # the previous session
    bars = [b["date"] for b in h.published.of("bar")]
    assert bars == ["20250127 15:59:00"] + [f"20250128 09:3{n}:00" for n in range(5)]
    assert h.published.kinds()[-3:] == ["update", "status", "update"] and h.published.of("error") == []
    assert h.published.of("update")[-1]["close"] == 107.0
    assert h.book.gaps.fills == 1


def test_when_the_past_request_does_not_reach_back_either_the_streams_hear_resume_unavailable(
        h: LiveHarness) -> None:
    reconnect_next_morning(h)
    h.up.on_error(h.last_id, 162, NO_DATA)
    assert [e["code"] for e in h.published.of("error")] == ["resume_unavailable"]
    assert h.published.of("status")[-1]["status"] == "restored", "the series goes on for new streams"
