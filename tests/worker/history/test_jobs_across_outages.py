"""A job whose windows fail while IB is unreachable behind TWS (1100) goes on when connectivity comes back, with
(1102) or without (1101) TWS keeping its requests: no reconnect happens then, so nothing else would resume it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sim.harness import SimulatedTws
from tests.waiting import wait_until
from tests.worker.streaming import LiveWorker

DAY = {"symbol": "AAPL", "bar_size": "1 secs", "what_to_show": "TRADES", "use_rth": True, "sec_type": "STK",
       "exchange": "SMART", "currency": "USD", "duration": "", "start_datetime": "20250127 09:30:00",
       "end_datetime": "20250127 16:00:00"}


@pytest.mark.parametrize("data_kept", [True, False], ids=["1102", "1101"])
def test_a_job_interrupted_by_an_outage_resumes_when_ib_is_reachable_again(
        sim_factory: Callable[..., SimulatedTws], tmp_path: Path, data_kept: bool) -> None:
    sim = sim_factory(pacing=False)
    worker = LiveWorker(tmp_path, sim, bar_timeout=2.0)  # 13 windows of 1800 S cannot be waited for: a job
    try:
        sim.control("reply_delay", seconds=1.0)  # its first windows are still open when IB goes away
        pending = worker.result("bars", DAY)
        assert pending["status"] == "pending", pending
        job_id = pending["job"]["id"]
        sim.control("lose_connectivity")  # 1100: the windows in flight fail as unavailable
        wait_until(lambda: worker.health()["open_upstream_requests"] == 0, timeout=10, what="the windows failed")
        sim.control("reply_delay", seconds=0.0)
        sim.control("restore_connectivity", data_kept=data_kept)
        job = wait_until(lambda: (j := worker.result("job", {"id": job_id})["job"])["state"] == "done" and j,
                         timeout=60, what="the job done after connectivity came back")
        assert job["done"] == job["total"] == 13
        assert worker.result("bars", DAY)["count"] == 23_400
    finally:
        worker.stop()
