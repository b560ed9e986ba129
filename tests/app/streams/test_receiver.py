"""A receiver gives its client every completed bar after its cursor exactly once, in order: events held while the
snapshot is answered are applied only past the snapshot's seq; a gap or another incarnation re-opens from the last
bar sent; the first snapshot's newest bar is the cursor even when no bar was asked for."""

from __future__ import annotations

from typing import Any

import pytest

from app.streams.client_buffer import ClientBuffer
from app.streams.receiver import Receiver, encode
from app.streams.request import StreamRequest
from shared.bars import BarRequest
from shared.protocol import ProtocolError
from shared.streams import MAX_BACKFILL, StreamEvent
from tests.app.streams.conftest import SERIES, T0, A, B, bar
from tests.sse import Event, parse

LIVE = {"status": "live", "reason": None}


def snapshot(bars: list[dict[str, Any]], seq: int, forming: dict[str, Any] | None = None,
             incarnation: str = A, status: dict[str, Any] = LIVE, **extra: Any) -> dict[str, Any]:
    return {"series": SERIES, "incarnation": incarnation, "seq": seq, "bars": bars, "forming": forming,
            "status": status, **extra}


def feed(kind: str, seq: int, data: dict[str, Any], incarnation: str = A) -> tuple[StreamEvent, bytes]:
    event = StreamEvent(SERIES, incarnation, seq, kind, data)
    return event, encode(event)


def make(backfill: int = 0, after: int | None = None, limit: int = 100) -> Receiver:
    request = StreamRequest(BarRequest("AAPL", "1 min", "1 D", include_forming=True), backfill, after)
    return Receiver(request, ClientBuffer(limit))


def sent(receiver: Receiver) -> list[Event]:
    return parse(receiver.buffer.take())


def bar_times(events: list[Event]) -> list[int]:
    return [e.data["time"] for e in events if e.kind == "bar"]


class TestOpening:
    def test_without_backfill_no_bar_is_sent_but_the_newest_is_the_cursor(self) -> None:
        receiver = make()
        assert receiver.open_body() == {"request": receiver.request.series_fields, "after": None, "backfill": 1}
        receiver.apply_snapshot(snapshot([bar(0)], seq=5, forming=bar(1)))
        assert [(e.kind, e.data) for e in sent(receiver)] == [("update", bar(1)), ("status", LIVE)]
        assert receiver.cursor == T0

    def test_backfill_sends_the_last_n_bars_oldest_first_with_their_time_as_id(self) -> None:
        receiver = make(backfill=2)
        assert receiver.open_body()["backfill"] == 2
        receiver.apply_snapshot(snapshot([bar(0), bar(1)], seq=5))
        events = sent(receiver)
        assert [(e.kind, e.id) for e in events[:2]] == [("bar", str(T0)), ("bar", str(T0 + 60))]
        assert receiver.cursor == T0 + 60

    def test_last_event_id_asks_for_the_bars_after_it(self) -> None:
        receiver = make(backfill=50, after=T0)
        assert receiver.open_body() == {"request": receiver.request.series_fields, "after": T0, "backfill": 0}
        receiver.apply_snapshot(snapshot([bar(1), bar(2)], seq=9))
        assert bar_times(sent(receiver)) == [T0 + 60, T0 + 120]

    def test_a_gap_answer_ends_the_stream_with_resume_unavailable(self) -> None:
        receiver = make(after=T0 - 86400 * 30)
        receiver.apply_snapshot(snapshot([], seq=0, gap=True))
        (event,) = sent(receiver)
        assert (event.kind, event.data["code"]) == ("error", "resume_unavailable")
        assert receiver.closed

    @pytest.mark.parametrize("result", [
        {"series": SERIES, "incarnation": A, "seq": 1, "bars": "no"},
        {"series": SERIES, "incarnation": A, "seq": 1, "bars": [{"time": "x"}]},
        {"series": SERIES, "incarnation": A, "seq": 1, "bars": [{**bar(0), "close": None, "date": 5}]},
        {"series": SERIES, "incarnation": "A", "seq": 1, "bars": []},
        {"series": "AAPL", "incarnation": A, "seq": 1, "bars": []},
        {"series": SERIES, "incarnation": 7, "seq": 1, "bars": []},
        {"series": SERIES, "incarnation": A, "seq": True, "bars": []},
        {"series": SERIES, "incarnation": A, "seq": 1, "bars": [], "forming": [1]},
    ])
    def test_a_snapshot_not_in_the_protocols_shape_is_refused(self, result: dict[str, Any]) -> None:
        receiver = make()
        with pytest.raises(ProtocolError):
            receiver.apply_snapshot({"forming": None, "status": LIVE, **result})
        assert receiver.opens == 0 and receiver.buffer.take() == b""


class TestHeldEvents:
    def test_events_held_while_opening_are_applied_only_past_the_snapshots_seq(self) -> None:
        receiver = make(backfill=1)
        receiver.deliver(*feed("bar", 5, bar(1)))  # already in the snapshot below
        receiver.deliver(*feed("update", 6, bar(2, close=1.0)))
        receiver.deliver(*feed("bar", 7, bar(2)))
        assert receiver.buffer.take() == b""
        receiver.apply_snapshot(snapshot([bar(0), bar(1)], seq=5))
        events = sent(receiver)
        assert bar_times(events) == [T0 + 60, T0 + 120]
        assert [e.kind for e in events] == ["bar", "status", "update", "bar"]


class TestLive:
    def opened(self, **kw: Any) -> Receiver:
        receiver = make(**kw)
        receiver.apply_snapshot(snapshot([bar(0)], seq=3))
        receiver.buffer.take()
        return receiver

    def test_consecutive_events_pass_in_order(self) -> None:
        receiver = self.opened()
        receiver.deliver(*feed("update", 4, bar(1, close=1.0)))
        receiver.deliver(*feed("bar", 5, bar(1)))
        receiver.deliver(*feed("status", 6, {"status": "interrupted", "reason": "1100"}))
        receiver.deliver(*feed("revision", 7, bar(0, close=5.0)))
        assert [e.kind for e in sent(receiver)] == ["update", "bar", "status", "revision"]
        assert receiver.cursor == T0 + 60 and not receiver.reopen_needed

    def test_updates_the_client_has_not_read_yet_coalesce_to_the_latest_and_bars_are_all_kept(self) -> None:
        receiver = self.opened()
        for seq, close in ((4, 1.0), (5, 2.0)):
            receiver.deliver(*feed("update", seq, bar(1, close)))
        receiver.deliver(*feed("bar", 6, bar(1)))
        receiver.deliver(*feed("update", 7, bar(2, 3.0)))
        receiver.deliver(*feed("update", 8, bar(2, 4.0)))
        events = sent(receiver)
        # the bar carries its final values: the forming bar's older states add nothing a slow client needs
        assert [(e.kind, e.data["close"]) for e in events] == [("bar", 100.0), ("update", 4.0)]

    @pytest.mark.parametrize(("seq", "incarnation"), [(5, A), (3, A), (1, A), (4, B)],
                             ids=["gap", "repeated", "numbering restarted", "new incarnation"])
    def test_anything_but_the_next_seq_of_the_incarnation_reopens_after_the_last_bar(
            self, seq: int, incarnation: str) -> None:
        receiver = self.opened(backfill=1)
        receiver.deliver(*feed("bar", 4, bar(1)))
        receiver.buffer.take()
        receiver.deliver(*feed("bar", seq + 1 if seq >= 4 else seq, bar(3), incarnation))
        assert receiver.reopen_needed and receiver.buffer.ready.is_set()
        assert receiver.open_body()["after"] == T0 + 60
        receiver.apply_snapshot(snapshot([bar(2), bar(3)], seq=40, incarnation=incarnation))
        assert bar_times(sent(receiver)) == [T0 + 120, T0 + 180], "the held bar 3 is in the snapshot: sent once"

    def test_a_reopen_before_any_bar_was_known_asks_for_the_whole_window(self) -> None:
        receiver = make()
        receiver.apply_snapshot(snapshot([], seq=0))
        receiver.deliver(*feed("bar", 2, bar(0)))
        assert receiver.reopen_needed
        assert receiver.open_body() == {"request": receiver.request.series_fields, "after": None,
                                        "backfill": MAX_BACKFILL}

    def test_an_error_event_is_the_last_the_client_gets(self) -> None:
        receiver = self.opened()
        receiver.deliver(*feed("error", 4, {"code": "tws_undecodable", "message": "TWS sent x"}))
        receiver.deliver(*feed("bar", 5, bar(1)))
        assert [(e.kind, e.data) for e in sent(receiver)] == [
            ("error", {"code": "tws_undecodable", "error": "TWS sent x"})]
        assert receiver.closed

    def test_a_status_the_client_was_told_is_not_repeated_by_a_reopen(self) -> None:
        receiver = self.opened()
        receiver.request_reopen()
        receiver.apply_snapshot(snapshot([bar(0)], seq=9))
        assert sent(receiver) == []

    def test_too_many_unread_bars_overflow_and_close_the_client(self) -> None:
        closed: list[bool] = []
        receiver = make(limit=3)
        receiver._on_overflow = lambda: closed.append(True)
        receiver.apply_snapshot(snapshot([bar(0)], seq=0))
        receiver.buffer.take()
        for n in range(1, 5):
            receiver.deliver(*feed("bar", n, bar(n)))
        assert receiver.closed and closed == [True] and receiver.buffer.take() == b""
