"""Owner-thread timers on an injected clock: order, cancellation and the poll timeout."""

from __future__ import annotations

import pytest

from worker.timers import Timers


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timers(clock: Clock) -> Timers:
    return Timers(clock)


def test_nothing_runs_before_it_is_due(timers: Timers, clock: Clock) -> None:
    ran: list[str] = []
    timers.call_later(5, lambda: ran.append("a"))
    clock.now += 4.999
    timers.run_due()
    assert ran == []
    clock.now += 0.001
    timers.run_due()
    assert ran == ["a"]


def test_a_timer_runs_once(timers: Timers, clock: Clock) -> None:
    ran: list[str] = []
    timers.call_later(1, lambda: ran.append("a"))
    clock.now += 10
    timers.run_due()
    timers.run_due()
    assert ran == ["a"]


def test_due_timers_run_in_time_order_and_ties_in_creation_order(timers: Timers, clock: Clock) -> None:
    ran: list[str] = []
    timers.call_later(3, lambda: ran.append("c"))
    timers.call_later(1, lambda: ran.append("a"))
    timers.call_later(2, lambda: ran.append("b1"))
    timers.call_later(2, lambda: ran.append("b2"))
    timers.call_later(9, lambda: ran.append("late"))
    clock.now += 3
    timers.run_due()
    assert ran == ["a", "b1", "b2", "c"]


def test_a_negative_delay_is_due_at_once(timers: Timers) -> None:
    ran: list[str] = []
    timer = timers.call_later(-5, lambda: ran.append("a"))
    assert timer.when == timers.clock()
    timers.run_due()
    assert ran == ["a"]


def test_a_cancelled_timer_never_runs(timers: Timers, clock: Clock) -> None:
    ran: list[str] = []
    timer = timers.call_later(1, lambda: ran.append("a"))
    timers.call_later(2, lambda: ran.append("b"))
    timer.cancel()
    assert timer.cancelled
    clock.now += 5
    timers.run_due()
    assert ran == ["b"]


def test_a_timer_may_schedule_another(timers: Timers, clock: Clock) -> None:
    ran: list[str] = []
    timers.call_later(1, lambda: timers.call_later(1, lambda: ran.append("second")))
    clock.now += 1
    timers.run_due()
    assert ran == []
    clock.now += 1
    timers.run_due()
    assert ran == ["second"]


def test_timeout_ms_is_the_cap_without_timers(timers: Timers) -> None:
    assert timers.timeout_ms() == 1000
    assert timers.timeout_ms(cap_ms=250) == 250


def test_timeout_ms_is_the_time_to_the_next_timer(timers: Timers, clock: Clock) -> None:
    timers.call_later(0.5, lambda: None)
    timers.call_later(0.2, lambda: None)
    assert 200 <= timers.timeout_ms() <= 201
    clock.now += 0.1
    assert 100 <= timers.timeout_ms() <= 101


def test_timeout_ms_never_waits_past_the_next_timer_nor_the_cap(timers: Timers, clock: Clock) -> None:
    timers.call_later(5, lambda: None)
    assert timers.timeout_ms() == 1000
    assert timers.timeout_ms(cap_ms=6000) in (5000, 5001)


def test_timeout_ms_is_zero_for_an_overdue_timer(timers: Timers, clock: Clock) -> None:
    timers.call_later(1, lambda: None)
    clock.now += 2
    assert timers.timeout_ms() == 0


def test_timeout_ms_ignores_cancelled_timers(timers: Timers) -> None:
    timers.call_later(0.1, lambda: None).cancel()
    timers.call_later(0.3, lambda: None)
    assert 300 <= timers.timeout_ms() <= 301
