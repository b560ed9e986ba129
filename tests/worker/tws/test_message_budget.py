"""MessageBudget: TWS's 50 messages a second as a token bucket (rate a second, at most burst stored), on an injected
clock. The property that matters: no window of one second ever holds more than rate + burst messages."""

from __future__ import annotations

import pytest

from tests.worker.fakes import Clock
from worker.tws.message_budget import MessageBudget


def test_a_fresh_budget_allows_its_burst_at_once_and_then_nothing() -> None:
    clock = Clock()
    budget = MessageBudget(40, 8, clock)
    assert [budget.try_take() for _ in range(9)] == [True] * 8 + [False]
    assert budget.taken == 8


def test_tokens_come_back_at_the_rate() -> None:
    clock = Clock()
    budget = MessageBudget(40, 8, clock)
    for _ in range(8):
        budget.try_take()
    clock.now += 0.024
    assert not budget.try_take()
    clock.now += 0.001  # 1/40 s after the burst
    assert budget.try_take()
    assert not budget.try_take()


def test_tokens_never_pile_up_beyond_the_burst() -> None:
    clock = Clock()
    budget = MessageBudget(40, 8, clock)
    clock.now += 3600
    assert budget.tokens() == 8
    assert sum(budget.try_take() for _ in range(20)) == 8


def test_wait_for_says_when_the_nth_token_is_there() -> None:
    clock = Clock()
    budget = MessageBudget(40, 8, clock)
    assert budget.wait_for(8) == 0
    assert budget.wait_for(10) == pytest.approx(2 / 40)
    for _ in range(8):
        budget.try_take()
    assert budget.wait_for(1) == pytest.approx(1 / 40)
    assert budget.wait_for(40) == pytest.approx(1.0)


def test_taking_several_at_once_takes_all_or_none() -> None:
    clock = Clock()
    budget = MessageBudget(10, 3, clock)
    assert budget.try_take(2)
    assert not budget.try_take(2)  # one left: nothing is taken
    assert budget.try_take(1)
    assert budget.taken == 3


@pytest.mark.parametrize(("rate", "burst"), [(40.0, 8), (41.0, 8), (20.5, 2), (1.0, 48)])
def test_no_one_second_window_ever_holds_more_than_rate_plus_burst(rate: float, burst: int) -> None:
    """A sender that takes a token whenever one is there, polled every millisecond for 5 s."""
    clock = Clock(0.0)
    budget = MessageBudget(rate, burst, clock)
    sent: list[float] = []
    for tick in range(5000):
        clock.now = tick / 1000
        while budget.try_take():
            sent.append(clock.now)
    most = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert most <= rate + burst
    assert most >= rate + burst - 1, "and the budget is really used"


def test_a_budget_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError):
        MessageBudget(0, 8)
    with pytest.raises(ValueError):
        MessageBudget(40, 0)
