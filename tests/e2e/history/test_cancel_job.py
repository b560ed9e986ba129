"""DELETE /api/v1/jobs/<id> cancels a job: its windows not yet sent are never sent.

The job (1 secs x 3 D: 39 windows, a few at a time) is cancelled while the simulator holds the answers of the windows
it has in flight (reply_delay), so nothing else of it can be on its way at that moment. Once those answers arrive the
job would send its next windows within a second (IB's rules, scaled by PACING_SCALE in the simulator and the bridge);
cancelled, it sends nothing while we watch well past that. Asked again, the same range sends the windows the job had
left at once: they were due."""

from __future__ import annotations

import time

from tests.e2e.history.rig import pacing_violations, windows
from tests.waiting import wait_until

PACING_SCALE = 0.5  # 5 windows a second of one contract: the 39 take longer than BAR_TIMEOUT, hence a job
HELD_S = 2.0
JOB = {"symbol": "AAPL", "period": "1s", "duration": "3 D", "end_datetime": "20250124 16:00:00"}


def test_a_cancelled_job_sends_no_further_upstream_request(make_sim, make_history_bridge) -> None:
    tws = make_sim(pacing_scale=PACING_SCALE)
    bridge = make_history_bridge(tws, pacing_scale=PACING_SCALE, BAR_TIMEOUT="5")
    started = bridge.post("/bars", JOB)
    assert started.status == 202, started.body
    job_id, total = started.body["job"]["id"], started.body["job"]["total"]
    assert total == 39
    wait_until(lambda: bridge.job(job_id).body["job"]["done"] >= 1, interval=0.05, what="the job stored a window")

    tws.control("reply_delay", seconds=HELD_S)
    sent_before_holding = len(windows(tws, "AAPL"))
    wait_until(lambda: len(windows(tws, "AAPL")) > sent_before_holding, what="a window in flight, its answer held")
    cancelled = bridge.cancel(job_id)
    cancelled_at = time.monotonic()
    assert cancelled.status == 200, cancelled.body
    left = cancelled.body["job"]["total"] - cancelled.body["job"]["done"]
    assert cancelled.body["job"]["state"] == "cancelled" and left > 0, cancelled.body
    # What the worker had sent TWS when it took the cancel: its health is answered after the cancel, on its one
    # thread. The simulator may not have read the last of those requests yet (its control op raced them).
    sent_by_worker = bridge.get("/health").body["worker"]["upstream_requests_sent"]
    wait_until(lambda: len(tws.received("RequestHistoricalData")) >= sent_by_worker,
               what="the simulator read every request the worker sent before the cancel")
    sent_at_cancel = len(windows(tws, "AAPL"))
    tws.control("reply_delay", seconds=0)

    # the held answers arrive HELD_S after their windows; the job's next windows would follow within a second
    while time.monotonic() < cancelled_at + HELD_S + 3.0:
        assert len(windows(tws, "AAPL")) == sent_at_cancel, "a cancelled job sent a window"
        time.sleep(0.1)  # the rhythm of watching for a request that must not come, not a synchronisation
    assert bridge.job(job_id).body["job"]["state"] == "cancelled"

    # the same range again: what the cancelled job had not stored goes out now
    again = bridge.post("/bars", JOB)
    assert again.status in (200, 202), again.body
    wait_until(lambda: len(windows(tws, "AAPL")) > sent_at_cancel, timeout=10, what="the windows the job had left")
    assert pacing_violations(tws) == []
