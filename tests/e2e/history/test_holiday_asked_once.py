"""A range across a NYSE holiday asks nothing for the holiday twice: asked again it sends nothing at all, and a
wider range that contains it sends windows only for the days it adds.

A window "asks for" the closed days when its end lies in the closed gap around the holiday (after the last session
before it ended, up to the first session after it starting): that is the window a planner that did not know the
holiday would send, and TWS answers it with the previous session's bars. At most one such window may ever be sent
(none when the calendar knows the holiday; one when TWS had to tell, after which it is stored as covered)."""

from __future__ import annotations

from tests.e2e.history.rig import HistoryBridge, assert_legal, assert_no_window_twice, pacing_violations, windows
from tests.e2e.history.sim_series import Window, iso, ny
from tests.e2e.processes import SimProcess


def _ask(bridge: HistoryBridge, symbol: str, period: str, start: str, end: str) -> int:
    got = bridge.fetch({"symbol": symbol, "period": period, "start_datetime": iso(ny(start)),
                        "end_datetime": iso(ny(end))})
    return len(got.bars)


def _in_gap(sent: list[Window], closed_from: str, reopens: str) -> list[Window]:
    return [w for w in sent if ny(closed_from) < w.end <= ny(reopens)]


def _three_times(tws: SimProcess, bridge: HistoryBridge, symbol: str, period: str, narrow: tuple[str, str],
                 wide: tuple[str, str], gap: tuple[str, str]) -> tuple[list[Window], list[Window]]:
    first = _ask(bridge, symbol, period, *narrow)
    sent_first = windows(tws, symbol)
    assert first > 0 and sent_first
    assert _ask(bridge, symbol, period, *narrow) == first
    assert windows(tws, symbol) == sent_first, "the same range again: nothing sent"
    assert _ask(bridge, symbol, period, *wide) > first
    sent = windows(tws, symbol)
    added = sent[len(sent_first):]
    assert_legal(sent)
    assert_no_window_twice(sent)
    assert all(w.end <= ny(narrow[0]) or w.data_start >= ny(narrow[1]) for w in added), \
        [w.span for w in added]  # only the days the wider range adds
    assert len(_in_gap(sent, *gap)) <= 1, [w.span for w in _in_gap(sent, *gap)]
    assert pacing_violations(tws) == []
    return sent_first, added


def test_mlk_day_is_never_asked_twice_in_1_min_bars(make_sim, make_history_bridge) -> None:
    tws = make_sim()
    bridge = make_history_bridge(tws, BAR_TIMEOUT="30")
    # Friday 17th, (Monday 20th closed), Tuesday 21st and Wednesday 22nd; then Thursday 16th to Thursday 23rd
    first, added = _three_times(tws, bridge, "AAPL", "1m", ("2025-01-17 09:30", "2025-01-22 16:00"),
                                ("2025-01-16 09:30", "2025-01-23 16:00"), ("2025-01-17 16:00", "2025-01-21 09:30"))
    assert len(first) == 3 and len(added) == 2  # one "1 D" window per session


def test_christmas_gets_no_window_of_1_secs_bars(make_sim, make_history_bridge) -> None:
    tws = make_sim()
    bridge = make_history_bridge(tws, BAR_TIMEOUT="30")
    # Tuesday 24th closes at 13:00, Wednesday 25th is closed: the last half hour before, the first half hour after
    first, added = _three_times(tws, bridge, "MSFT", "1s", ("2024-12-24 12:30", "2024-12-26 10:00"),
                                ("2024-12-24 12:00", "2024-12-26 10:30"), ("2024-12-24 13:00", "2024-12-26 09:30"))
    assert len(first) == 2 and len(added) == 2  # "1800 S" windows, none inside the closed day
    sent = windows(tws, "MSFT")
    assert not [w for w in sent if ny("2024-12-24 13:00") < w.end <= ny("2024-12-26 09:30")]
