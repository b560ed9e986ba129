"""A restart serves yesterday's request from the store: a new bridge (gunicorn, its HTTP workers' caches and the TWS
worker all new) on the same BRIDGE_STORE_PATH answers the same bars with no historical request to TWS."""

from __future__ import annotations

from tests.e2e.history import sim_series
from tests.e2e.history.rig import pacing_violations, sim_now, windows
from tests.e2e.history.sim_series import iso, ny

# the simulator's clock: Tuesday 2025-02-04 12:00; yesterday is Monday 2025-02-03
YESTERDAY = [
    {"symbol": "AAPL", "period": "1m", "duration": "1 D", "end_datetime": "20250203 16:00:00"},  # one window
    {"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250203 16:00:00"},
    {"symbol": "MSFT", "period": "1s", "start_datetime": iso(ny("2025-02-03 15:00")),
     "end_datetime": iso(ny("2025-02-03 16:00"))},  # two windows of 1800 S
]


def test_a_new_bridge_on_the_same_store_answers_yesterday_with_no_upstream_request(make_sim,
                                                                                   make_history_bridge) -> None:
    tws = make_sim()
    first = make_history_bridge(tws, BAR_TIMEOUT="30")
    before = [first.fetch(body).bars for body in YESTERDAY]
    now = sim_now(tws)
    assert before[0] == sim_series.series("AAPL", "1 min", ny("2025-02-03 09:30"), ny("2025-02-03 16:00"), now)
    assert before[2] == sim_series.series("MSFT", "1 secs", ny("2025-02-03 15:00"), ny("2025-02-03 16:00"), now)
    sent = len(windows(tws))
    assert sent == 4
    first.stop()

    second = make_history_bridge(tws, store=first.store_path, BAR_TIMEOUT="30")
    after = [second.fetch(body).bars for body in YESTERDAY]
    assert after == before
    assert len(windows(tws)) == sent, "served from the store: no historical request"
    assert pacing_violations(tws) == []
