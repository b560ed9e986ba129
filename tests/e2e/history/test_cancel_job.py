"""DELETE /api/v1/jobs/<id> cancels a job: its windows not yet sent are never sent.

The job (1 secs x 3 D: 39 windows) starts after 25 small-bar requests spent part of IB's 60 per 10 minutes (scaled by
PACING_SCALE in the simulator and the bridge: 18 s), so it sends 35 windows and waits for the rest. It is cancelled
while it waits; the simulator then receives nothing for it until well after the pacing window has freed, when its
remaining windows would have gone out. Asked again, the same range sends those windows at once: they were due."""

from __future__ import annotations

import time

from tests.e2e.history.rig import pacing_violations, spend_small_bar_budget, windows
from tests.waiting import wait_until

PACING_SCALE = 0.03
SMALL_BAR_WINDOW_S = 600 * PACING_SCALE
JOB = {"symbol": "AAPL", "period": "1s", "duration": "3 D", "end_datetime": "20250124 16:00:00"}
SPENT = 25


def test_a_cancelled_job_sends_no_further_upstream_request(make_sim, make_history_bridge) -> None:
    tws = make_sim(pacing_scale=PACING_SCALE)
    bridge = make_history_bridge(tws, pacing_scale=PACING_SCALE, BAR_TIMEOUT="5")
    spend_small_bar_budget(bridge, SPENT)
    first_small_bar_request = windows(tws, "KO")[0].wall

    started = bridge.post("/bars", JOB)
    assert started.status == 202, started.body
    job_id = started.body["job"]["id"]
    total = started.body["job"]["total"]
    assert total == 39
    # the budget is spent: 60 - 25 windows went out and were answered; the job waits for the window to free
    waiting = wait_until(lambda: (j := bridge.job(job_id).body["job"])["done"] == 60 - SPENT and j, timeout=20,
                         interval=0.05, what="the job's first 35 windows done")
    assert waiting["state"] == "running" and len(windows(tws, "AAPL")) == 60 - SPENT

    cancelled = bridge.cancel(job_id)
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["job"]["state"] == "cancelled" and cancelled.body["job"]["done"] < total
    assert bridge.job(job_id).body["job"]["state"] == "cancelled"
    sent_at_cancel = len(windows(tws, "AAPL"))

    # the remaining windows were due once the 10-minute window (scaled) freed: watch well past that
    watch_until = first_small_bar_request + SMALL_BAR_WINDOW_S + 3.0
    while time.time() < watch_until:
        assert len(windows(tws, "AAPL")) == sent_at_cancel, "a cancelled job sent a window"
        time.sleep(0.1)  # the rhythm of watching for a request that must not come, not a synchronisation
    assert bridge.job(job_id).body["job"]["state"] == "cancelled"

    # the same range again: what the cancelled job had left goes out now (it was due), nothing it had stored
    again = bridge.post("/bars", JOB)
    assert again.status in (200, 202), again.body
    wait_until(lambda: len(windows(tws, "AAPL")) == sent_at_cancel + total - waiting["done"], timeout=20,
               what="the windows the cancelled job had left")
    assert pacing_violations(tws) == []
