"""A month of 1-min bars in one request: every bar of the month, stitched from IB-legal windows (1 min: at most
"1 D" per request), equal bar for bar to the simulator's own series, with zero pacing violations; the same month
asked by `start_datetime` is the same answer.

Real gunicorn, the real worker, the simulator with pacing and the duration table ON, its clock frozen after the
month (January 2025: New Year's day, the day of mourning on the 9th and MLK day on the 20th closed)."""

from __future__ import annotations

from tests.e2e.history import sim_series
from tests.e2e.history.rig import assert_legal, assert_no_window_twice, pacing_violations, refusals, sim_now, windows
from tests.e2e.history.sim_series import iso, ny

MONTH_END = "20250131 16:00:00"  # "1 M" before it: [2024-12-31 16:00, 2025-01-31 16:00) New York
START, END = ny("2024-12-31 16:00"), ny("2025-01-31 16:00")


def _month(symbol: str, now: float) -> list[dict]:
    expected = sim_series.series(symbol, "1 min", START, END, now)
    sessions = sim_series.sessions(symbol, START, END)
    assert len(sessions) == 20 and len(expected) == 20 * 390  # what a month of January 2025 holds
    return expected


def test_1_min_bars_for_1_month_answer_every_bar_of_the_month_from_legal_windows(make_sim, make_history_bridge) -> None:
    tws = make_sim()
    bridge = make_history_bridge(tws, BAR_TIMEOUT="30")
    got = bridge.fetch({"symbol": "AAPL", "period": "1m", "duration": "1 M", "end_datetime": MONTH_END})
    assert got.bars == _month("AAPL", sim_now(tws))
    sent = windows(tws, "AAPL")
    assert_legal(sent)
    assert_no_window_twice(sent)
    assert len(sent) == 20, [w.span for w in sent]  # one "1 D" window per session, none for a closed day
    assert refusals(tws) == [] and pacing_violations(tws) == []


def test_the_month_by_start_datetime_is_the_same_answer(make_sim, make_history_bridge) -> None:
    tws = make_sim()
    bridge = make_history_bridge(tws, BAR_TIMEOUT="30")
    body = {"symbol": "MSFT", "period": "1m", "start_datetime": iso(START), "end_datetime": iso(END)}
    got = bridge.fetch(body)
    assert got.bars == _month("MSFT", sim_now(tws))
    sent = windows(tws, "MSFT")
    assert_legal(sent)
    assert_no_window_twice(sent)
    assert refusals(tws) == [] and pacing_violations(tws) == []
    # the same month by duration now comes from the store: not one more upstream request
    again = bridge.fetch({"symbol": "MSFT", "period": "1m", "duration": "1 M", "end_datetime": MONTH_END})
    assert again.bars == got.bars
    assert len(windows(tws, "MSFT")) == len(sent)
