"""The yardstick of the history tests: the simulator's own series, computed in this process, is bar for bar what
the simulator process sends and what the bridge answers for one IB-legal window today."""

from __future__ import annotations

from sim.history import build_history
from sim.messages import HistoryQuery
from tests.e2e.history import sim_series
from tests.e2e.history.rig import windows
from tests.e2e.history.sim_series import ny

MONDAY_END = "20250127 16:00:00"


def test_the_series_of_completed_bars_does_not_depend_on_when_it_is_computed() -> None:
    start, end = ny("2025-01-27 09:30"), ny("2025-01-27 16:00")
    early = sim_series.series("AAPL", "1 min", start, end, now=end)
    late = sim_series.series("AAPL", "1 min", start, end, now=ny("2026-06-01 12:00"))
    assert len(early) == 390 and early == late


def test_the_series_equals_what_build_history_answers_for_a_legal_window() -> None:
    now = ny("2025-01-28 11:00")
    answer = build_history(sim_series.instrument("MSFT"), HistoryQuery(MONDAY_END, "1 secs", "1800 S", True,
                                                                        "TRADES", 2, False), now)
    mine = sim_series.series("MSFT", "1 secs", ny("2025-01-27 15:30"), ny("2025-01-27 16:00"), now)
    assert [int(b.date) for b in answer.bars] == [b["time"] for b in mine]
    assert [(b.open, b.high, b.low, b.close, b.volume, b.wap, b.count) for b in answer.bars] == \
        [(b["open"], b["high"], b["low"], b["close"], b["volume"], b["wap"], b["count"]) for b in mine]


def test_the_bridge_answers_one_window_exactly_as_the_series(make_sim, make_history_bridge) -> None:
    tws = make_sim(clock="2025-01-28T11:00:00-05:00")
    bridge = make_history_bridge(tws)
    now = tws.control("clock_now")
    cases = (("1m", "1 min", "1 D", ny("2025-01-27 09:30")), ("1s", "1 secs", "1800 S", ny("2025-01-27 15:30")),
             ("5m", "5 mins", "1 W", ny("2025-01-20 16:00")))
    for period, bar_size, duration, start in cases:
        answer = bridge.bars(symbol="AAPL", period=period, duration=duration, end_datetime=MONDAY_END)
        assert answer.status == 200, answer.body
        assert answer.body["bars"] == sim_series.series("AAPL", bar_size, start, ny("2025-01-27 16:00"), now)


def test_a_window_from_the_request_log_is_read_with_the_simulators_rules(make_sim, make_history_bridge) -> None:
    tws = make_sim(clock="2025-01-28T11:00:00-05:00")
    bridge = make_history_bridge(tws)
    assert bridge.bars(symbol="KO", period="5m", duration="2 D", end_datetime=MONDAY_END).status == 200
    assert bridge.bars(symbol="KO", period="1s", duration="1800 S", end_datetime="20250127 12:00:00").status == 200
    found = windows(tws, "KO")
    assert [w.span for w in found] == [(ny("2025-01-24 09:30"), ny("2025-01-27 16:00")),
                                       (ny("2025-01-27 11:30"), ny("2025-01-27 12:00"))]
