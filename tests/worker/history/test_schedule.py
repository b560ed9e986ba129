"""The fastest schedule the pacing rules allow, from worker/tws/pacing.py's own rules on a fake clock."""

from __future__ import annotations

import pytest

from worker.history.schedule import earliest_sends, estimate_seconds
from worker.tws.pacing import PacingKey, PacingLimits

LIMITS = PacingLimits()


def small_bar_windows(count: int, contract: int = 1) -> list[PacingKey]:
    return [PacingKey(identity=(contract, "SMART", f"end-{i}", "1 secs", "1800 S"), group=(contract, "SMART", "TRADES"),
                      bar_seconds=1) for i in range(count)]


def test_five_requests_go_at_once_and_the_sixth_waits_for_the_2_s_window() -> None:
    sends = earliest_sends(small_bar_windows(6), LIMITS)
    assert sends[:5] == [0.0] * 5
    assert sends[5] == pytest.approx(2.0 + LIMITS.margin)


def test_the_61st_small_bar_request_waits_for_the_10_minute_window() -> None:
    keys = [PacingKey(identity=(i,), group=(i,), bar_seconds=1) for i in range(61)]  # 61 contracts: no group wait
    sends = earliest_sends(keys, LIMITS)
    assert max(sends[:60]) == 0.0
    assert sends[60] == pytest.approx(600.0 + LIMITS.margin)


def test_65_windows_of_1_sec_bars_take_one_10_minute_window_and_a_bit() -> None:
    sends = earliest_sends(small_bar_windows(65), LIMITS)
    assert sends == sorted(sends)
    assert sends[59] < 600 < sends[60]
    assert estimate_seconds(small_bar_windows(65), LIMITS, answer_seconds=1.0) == pytest.approx(sends[-1] + 1.0)


def test_large_bars_are_limited_only_by_the_2_s_group_rule() -> None:
    keys = [PacingKey(identity=(i,), group=("AAPL",), bar_seconds=60) for i in range(250)]
    sends = earliest_sends(keys, LIMITS)
    assert sends[-1] == pytest.approx(49 * (2.0 + LIMITS.margin))  # 50 bursts of 5


def test_the_open_request_limit_waits_for_answers() -> None:
    keys = [PacingKey(identity=(i,), group=(i,), bar_seconds=60) for i in range(51)]
    sends = earliest_sends(keys, LIMITS, answer_seconds=30.0)
    assert sends[:50] == [0.0] * 50
    assert sends[50] == pytest.approx(30.0)
    assert earliest_sends(keys[:1], LIMITS, answer_seconds=30.0, open_now=49) == [0.0]


def test_an_identical_request_waits_15_s() -> None:
    key = PacingKey(identity=("same",), group=("g",), bar_seconds=60)
    assert earliest_sends([key, key], LIMITS)[1] == pytest.approx(15.0 + LIMITS.margin)


def test_scaled_rules_give_the_same_schedule_shape() -> None:
    keys = small_bar_windows(130)
    full = earliest_sends(keys, LIMITS)
    tenth = earliest_sends(keys, LIMITS.scaled(0.1))
    assert len(full) == len(tenth) == 130
    for a, b in zip(full, tenth, strict=True):
        # the margin is not scaled (it is jitter room): each send is off by at most the margins it waited behind
        waits = round(a / (2.0 + LIMITS.margin)) + 2
        assert abs(b - 0.1 * a) <= LIMITS.margin * waits, (a, b)
    # the same requests wait at the same 10-minute edges: the 61st and the 121st
    assert [i for i in range(1, 130) if full[i] - full[i - 1] > 100] == [60, 120]
    assert [i for i in range(1, 130) if tenth[i] - tenth[i - 1] > 10] == [60, 120]


def test_the_scale_must_be_above_0_and_at_most_1() -> None:
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match="pacing scale"):
            LIMITS.scaled(bad)
    scaled = LIMITS.scaled(0.5)
    assert (scaled.identical_window, scaled.group_window, scaled.small_bar_window) == (7.5, 1.0, 300.0)
    assert (scaled.group_max, scaled.small_bar_max, scaled.max_open, scaled.margin) == (5, 60, 50, LIMITS.margin)


def test_a_schedule_starts_from_what_was_sent_already() -> None:
    from worker.tws.pacing import PacingRules

    sent = PacingRules(LIMITS, lambda: 0, clock=lambda: 100.0, wall=lambda: 100.0)
    for key in [PacingKey(identity=(i,), group=(i,), bar_seconds=1) for i in range(60)]:
        sent.record(key, 100.0)  # the 10-minute budget is spent at 100 s
    fresh = earliest_sends(small_bar_windows(1), LIMITS, now=130.0)
    seeded = earliest_sends(small_bar_windows(1), LIMITS, now=130.0, history=sent)
    assert fresh == [130.0]
    assert seeded[0] == pytest.approx(100.0 + 600.0 + LIMITS.margin)
