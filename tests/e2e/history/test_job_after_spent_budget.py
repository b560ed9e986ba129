"""A range whose windows must wait for IB's 10-minute window becomes a job (202), whatever was sent before it: the
plan's fastest legal schedule counts the requests already sent, and the job keeps to the budget they spent.

25 single-window requests of 1-sec bars of another contract spend part of the 60 per 10 minutes (scaled by
PACING_SCALE in the simulator and the bridge: 18 s); then 1 secs x 3 D (39 windows) can send 35 at once and must wait
for the window to free for the other 4: far longer than BAR_TIMEOUT."""

from __future__ import annotations

import time

from tests.e2e.history import sim_series
from tests.e2e.history.rig import pacing_violations, refusals, sim_now, spend_small_bar_budget, windows
from tests.e2e.history.sim_series import ny

PACING_SCALE = 0.03
SMALL_BAR_WINDOW_S = 600 * PACING_SCALE
JOB = {"symbol": "AAPL", "period": "1s", "duration": "3 D", "end_datetime": "20250127 16:00:00"}
SESSIONS = ("2025-01-23", "2025-01-24", "2025-01-27")
SPENT = 25


def test_windows_that_must_wait_for_the_10_minute_window_become_a_job(make_sim, make_history_bridge) -> None:
    tws = make_sim(pacing_scale=PACING_SCALE)
    bridge = make_history_bridge(tws, pacing_scale=PACING_SCALE, BAR_TIMEOUT="5")
    spend_small_bar_budget(bridge, SPENT)
    first_sent = windows(tws, "KO")[0].wall

    answer = bridge.post("/bars", JOB)
    assert answer.status == 202, (answer.status, answer.body)
    job = answer.body["job"]
    assert job["total"] == 39
    waiting = first_sent + SMALL_BAR_WINDOW_S - time.time()  # the log's `wall` is the simulator's time.time()
    assert job["eta_seconds"] is not None and job["eta_seconds"] >= waiting - 1.0, (job, waiting)

    got = bridge.fetch(JOB, job_timeout=60)
    assert pacing_violations(tws) == [] and refusals(tws) == []
    assert got.pages == [50_000, 20_200]
    now = sim_now(tws)
    assert got.bars == [bar for day in SESSIONS
                        for bar in sim_series.series("AAPL", "1 secs", ny(f"{day} 09:30"), ny(f"{day} 16:00"), now)]
    assert len(windows(tws, "AAPL")) == 39, "each window once"

