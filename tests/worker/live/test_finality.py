"""When a bar has ended (its size, or its session's close), and ClockWatch: TWS is asked its time only when a watched
forming bar should have ended, at most once a second, and the answer alone decides."""

from __future__ import annotations

from typing import Any

from tests.worker.fakes import Clock, ny
from tests.worker.live.harness import RTH_HOURS, bar
from worker.contracts.trading_sessions import parse_hours
from worker.live.finality import ClockWatch, bar_end, forming_in
from worker.timers import Timers
from worker.tws.dates import TwsClock

NY = "America/New_York"
RTH = parse_hours(RTH_HOURS, NY)


def test_a_bar_ends_after_its_size_or_at_its_session_close_when_that_comes_first() -> None:
    assert bar_end(bar("11:02"), 60, RTH) == ny("2025-01-27 11:03")
    assert bar_end(bar("15:00"), 10800, RTH) == ny("2025-01-27 16:00")  # 3-hour bar, 16:00 close
    assert bar_end(bar("15:00"), 10800, parse_hours("", NY)) == ny("2025-01-27 18:00")  # hours unknown
    daily = {**bar("09:30"), "date": "20250127", "time": ny("2025-01-27 00:00")}
    assert bar_end(daily, 86400, RTH) == ny("2025-01-28 00:00")


def test_a_history_last_bar_is_forming_until_its_end() -> None:
    bars = [bar("11:01"), bar("11:02")]
    assert forming_in(bars, 60, RTH, ny("2025-01-27 11:02:59"))
    assert not forming_in(bars, 60, RTH, ny("2025-01-27 11:03:00"))
    assert not forming_in([], 60, RTH, None)


class Watch:
    def __init__(self) -> None:
        self.clock = Clock()
        self.timers = Timers(self.clock)
        self.tws = TwsClock(self.clock)
        self.probes = 0
        self.answer: float | None = None  # what TWS answers a probe with, at once (None: it does not)
        self.passed: list[tuple[Any, float]] = []
        self.watch = ClockWatch(self.timers, self.tws, self.probe, lambda key, at: self.passed.append((key, at)))

    def probe(self) -> None:
        self.probes += 1
        if self.answer is not None:
            self.tws.observe(self.answer)
            self.watch.reading(self.answer)

    def advance(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            self.clock.now += 0.1
            self.timers.run_due()


def test_tws_is_asked_only_once_the_estimate_says_the_bar_ended() -> None:
    w = Watch()
    w.tws.observe(ny("2025-01-27 15:59:30"))
    w.watch.watch("a", ny("2025-01-27 16:00"))
    w.advance(30)
    assert w.probes == 0
    w.advance(1)
    assert w.probes == 1
    w.watch.reading(ny("2025-01-27 16:00:01"))
    assert w.passed == [("a", ny("2025-01-27 16:00:01"))]
    w.advance(30)
    assert w.probes == 1, "nothing left to watch"


def test_one_probe_serves_every_series_whose_bar_ended() -> None:
    w = Watch()
    w.tws.observe(ny("2025-01-27 15:59:59"))
    w.watch.watch("a", ny("2025-01-27 16:00"))
    w.watch.watch("b", ny("2025-01-27 16:00"))
    w.watch.watch("c", ny("2025-01-27 16:05"))
    w.advance(2)
    assert w.probes == 1
    w.watch.reading(ny("2025-01-27 16:00:01"))
    assert sorted(k for k, _ in w.passed) == ["a", "b"]


def test_a_frozen_tws_clock_is_asked_less_and_less_often_and_never_decided_by_the_estimate() -> None:
    w = Watch()
    frozen = ny("2025-01-27 15:59:59")  # a simulator with a frozen clock answers the same time every time
    w.answer = frozen
    w.tws.observe(frozen)
    w.watch.watch("a", ny("2025-01-27 16:00"))
    w.advance(30)
    first = w.probes
    w.advance(30)
    assert w.passed == []
    assert 3 <= first <= 8 and w.probes - first <= 6, "backed off to one probe every 5 s"


def test_an_unwatched_bar_asks_nothing() -> None:
    w = Watch()
    w.tws.observe(ny("2025-01-27 15:59:59"))
    w.watch.watch("a", ny("2025-01-27 16:00"))
    w.watch.unwatch("a")
    w.advance(10)
    assert w.probes == 0
