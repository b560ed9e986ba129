"""The publisher: each event once on the PUB socket, numbered 1, 2, 3, ... per series for the worker's life, a
completed bar never published twice, and a failed send a gap receivers notice (never a blocked worker)."""

from __future__ import annotations

import pytest
import zmq

from shared.streams import StreamEvent
from tests.worker.live.harness import Recorder, bar
from worker.live.publisher import Publisher

ONE, TWO = "265598|SMART|1 min|TRADES|rth", "265598|SMART|5 mins|TRADES|rth"


def test_each_series_counts_its_own_events_from_1() -> None:
    recorder = Recorder()
    publisher = Publisher(recorder)
    publisher.publish(ONE, "update", bar("11:02"))
    publisher.publish(TWO, "update", bar("11:00"))
    publisher.bar(ONE, bar("11:02"))
    assert [(e.series, e.seq) for e in recorder.events] == [(ONE, 1), (TWO, 1), (ONE, 2)]
    assert publisher.seq(ONE) == 2 and publisher.seq(TWO) == 1 and publisher.seq("x") == 0
    assert {e.incarnation for e in recorder.events} == {publisher.incarnation} and publisher.published == 3


def test_two_worker_processes_have_different_incarnations() -> None:
    assert Publisher(Recorder()).incarnation != Publisher(Recorder()).incarnation


def test_a_bar_at_or_before_the_last_bar_published_is_never_published() -> None:
    recorder = Recorder()
    publisher = Publisher(recorder)
    assert publisher.bar(ONE, bar("11:02"))
    assert not publisher.bar(ONE, bar("11:02", close=5.0))
    assert not publisher.bar(ONE, bar("11:01"))
    assert publisher.bar(TWO, bar("11:01")) and publisher.bar(ONE, bar("11:03"))
    assert [(e.series, e.data["date"][9:14]) for e in recorder.events] == [(ONE, "11:02"), (TWO, "11:01"),
                                                                         (ONE, "11:03")]


def test_a_send_that_fails_spends_its_number_so_receivers_see_the_gap() -> None:
    sent: list[StreamEvent] = []

    def send(frames: list[bytes]) -> None:
        if not sent:
            sent.append(StreamEvent.from_frames(frames))
            return
        raise zmq.Again()

    publisher = Publisher(send)
    publisher.publish(ONE, "update", bar("11:02"))
    publisher.publish(ONE, "update", bar("11:02", close=3.0))
    assert publisher.seq(ONE) == 2 and publisher.send_failures == 1 and [e.seq for e in sent] == [1]


@pytest.mark.parametrize("kind", ["bar", "update", "revision"])
def test_bars_go_out_in_the_bars_shape(kind: str) -> None:
    recorder = Recorder()
    Publisher(recorder).publish(ONE, kind, bar("11:02"))
    assert set(recorder.events[0].data) == {"date", "time", "datetime", "open", "high", "low", "close", "volume", "wap",
                                              "count"}
