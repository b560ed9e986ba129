"""A 1 secs x 3 D request (39 windows of "1800 S") answers 202 with its job; the job progresses, survives kill -9 of
the TWS worker (its supervisor starts a new one, which finds the job in the store and resumes it), completes with
zero pacing violations, and the repeat answers every bar of the three sessions, in pages.

Both the simulator and the bridge scale IB's pacing windows by PACING_SCALE (2 s -> 1 s, 15 s -> 7.5 s), so the test
runs in well under a minute; the fastest legal schedule of the 39 windows (5 per second) is still longer than
BAR_TIMEOUT: hence the job. The worker is killed while the simulator holds the answers of the windows in flight
(reply_delay), so they are lost with it: the new worker must send them again, and keep to IB's 15-s rule for the
identical requests the dead one sent (the pacing ledger in the store)."""

from __future__ import annotations

import os
import signal

from tests.e2e.history import sim_series
from tests.e2e.history.rig import (
    assert_legal,
    pacing_violations,
    refusals,
    sim_now,
    windows,
)
from tests.e2e.history.sim_series import ny
from tests.waiting import wait_until

PACING_SCALE = 0.5
JOB = {"symbol": "AAPL", "period": "1s", "duration": "3 D", "end_datetime": "20250127 16:00:00"}
SESSIONS = ("2025-01-23", "2025-01-24", "2025-01-27")  # the last 3 sessions before the end
HELD_S = 3.0  # how long the simulator holds each answer while the worker is killed


def test_a_job_of_3_days_of_1_sec_bars_survives_kill_9_of_the_worker(make_sim, make_history_bridge) -> None:
    tws = make_sim(pacing_scale=PACING_SCALE)
    bridge = make_history_bridge(tws, pacing_scale=PACING_SCALE, BAR_TIMEOUT="5")
    first = bridge.post("/bars", JOB)
    assert first.status == 202, first.body
    job = first.body["job"]
    assert first.body["success"] is True and first.body["status"] == "pending"
    assert job["state"] in ("pending", "running") and job["total"] == 39, job
    seen = [job]

    def progressed() -> dict | None:
        now = bridge.job(job["id"]).body["job"]
        seen.append(now)
        return now if now["done"] >= 1 else None

    wait_until(progressed, timeout=20, interval=0.05, what="the job sent and stored a window")
    tws.control("reply_delay", seconds=HELD_S)  # what is sent from now on is answered only after the kill
    sent_before_holding = len(windows(tws, "AAPL"))
    again = bridge.post("/bars", JOB)  # the same request while it runs: the same job
    assert again.status == 202 and again.body["job"]["id"] == job["id"], again.body
    wait_until(lambda: len(windows(tws, "AAPL")) > sent_before_holding, what="a window in flight, its answer held")
    running = bridge.job(job["id"]).body["job"]
    assert running["state"] == "running" and running["done"] < running["total"], running

    pid = bridge.get("/health").body["worker"]["worker_pid"]
    os.kill(pid, signal.SIGKILL)
    tws.control("reply_delay", seconds=0)
    finished = bridge.wait_job(job["id"], timeout=60, seen=seen)
    assert finished["state"] == "done" and finished["done"] == finished["total"] == 39, finished
    assert bridge.get("/health").body["worker"]["worker_pid"] != pid
    done = [j["done"] for j in seen]
    assert done == sorted(done) and len(set(done)) >= 2, done  # progress, never backwards
    assert pacing_violations(tws) == [] and refusals(tws) == []
    sent = windows(tws, "AAPL")
    assert_legal(sent)
    assert len(sent) >= 39

    got = bridge.fetch(JOB)
    assert got.first is not None and got.first.status == 200
    assert got.pages == [50_000, 20_200]
    now = sim_now(tws)
    expected = [bar for day in SESSIONS
                for bar in sim_series.series("AAPL", "1 secs", ny(f"{day} 09:30"), ny(f"{day} 16:00"), now)]
    assert got.bars == expected
