"""An include_forming answer taken from a published series, for a window of trading days, says which series and which
event it is as of (`live`): the HTTP side may repeat it until that series' next event, so every change of such a
series must be an event, its eviction included. Windows that move with the clock say nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

import worker.history.upstream
import worker.live.subscriptions
from shared.streams import LiveAnswer, StreamEvent
from tests.worker.fakes import use_clock
from tests.worker.live.test_subscriptions import FORMING, MAX_SUBSCRIPTIONS, Harness, half_hour
from worker.live.publisher import Publisher

DAY = replace(FORMING, duration="1 D")


class Publishing(Harness):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[StreamEvent] = []
        self.book.publisher = Publisher(lambda frames: self.events.append(StreamEvent.from_frames(frames)),
                                        incarnation="c0ffee00" * 2)


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Publishing:
    harness = Publishing()
    use_clock(monkeypatch, harness.clock, worker.history.upstream, worker.live.subscriptions)
    return harness


def test_a_trading_day_window_says_its_series_and_the_seq_it_is_as_of(h: Publishing) -> None:
    h.live(DAY)
    first = LiveAnswer.from_result(h.ask(DAY))
    assert first is not None and first.series == "265598|SMART|1 min|TRADES|rth"
    assert (first.incarnation, first.seq) == ("c0ffee00" * 2, len(h.events))
    last = half_hour()[-1]
    h.update((last[0], last[1], last[2] + 1, last[3], last[4] + 1, last[5] + 10, last[6], last[7] + 1))
    after = LiveAnswer.from_result(h.ask(DAY))
    assert after is not None and after.seq == first.seq + 1 == h.events[-1].seq, "the update was an event"


def test_a_window_that_moves_with_the_clock_says_nothing(h: Publishing) -> None:
    h.live(DAY)
    assert "live" not in h.ask(FORMING)  # "1800 S": bars leave it as TWS's clock moves, without any event


def test_a_polls_own_window_says_nothing(h: Publishing) -> None:
    h.live(DAY)
    longer = replace(FORMING, duration="2 D")  # more than the series holds: a subscription of its own, unpublished
    replies = h.fetch(longer)
    h.history(half_hour())
    assert "live" not in replies.result and "live" not in h.ask(longer)


def test_an_evicted_series_publishes_its_end(h: Publishing) -> None:
    h.live(DAY)
    for bar_size in ("2 mins", "3 mins")[:MAX_SUBSCRIPTIONS - 1]:
        h.live(replace(DAY, bar_size=bar_size, duration="1 D"))
    h.advance(1)
    h.fetch(replace(DAY, bar_size="5 mins", duration="1 D"))  # evicts the least recently used: "1 min"
    ended = [e for e in h.events if e.series.startswith("265598|SMART|1 min|") and e.event == "error"]
    assert [e.data["code"] for e in ended] == ["subscriptions_exhausted"]
