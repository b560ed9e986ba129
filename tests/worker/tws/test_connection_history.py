"""ConnectionHistory: the last transitions of the TWS connection, bounded, oldest first, repeats folded."""

from __future__ import annotations

from worker.tws.connection_history import ConnectionHistory


def test_transitions_are_reported_oldest_first_with_time_state_reachability_and_reason() -> None:
    now = [100.0]
    history = ConnectionHistory(clock=lambda: now[0])
    history.record("connecting", False, "attempt 1")
    now[0] = 101.5
    history.record("disconnected", False, "Couldn't connect to TWS.", 502)
    assert history.report() == [
        {"time": 100.0, "state": "connecting", "ib_reachable": False, "reason": "attempt 1", "tws_code": None},
        {"time": 101.5, "state": "disconnected", "ib_reachable": False, "reason": "Couldn't connect to TWS.",
         "tws_code": 502},
    ]


def test_the_same_state_again_is_no_transition() -> None:
    history = ConnectionHistory()
    history.record("connected", True, "server version 157")
    history.record("connected", True, "again")
    history.record("connected", False, "IB unreachable", 1100)
    assert [(t["state"], t["ib_reachable"]) for t in history.report()] == [("connected", True), ("connected", False)]


def test_only_the_last_limit_transitions_are_kept() -> None:
    history = ConnectionHistory(limit=3)
    for attempt in range(10):
        history.record("connecting", False, f"attempt {attempt}")
        history.record("disconnected", False, f"refused {attempt}", 502)
    report = history.report()
    assert len(report) == 3
    assert [t["reason"] for t in report] == ["refused 8", "attempt 9", "refused 9"]
