"""The worker's health report against the simulator: what the status page at / reads from /api/v1/health."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.harness import SimulatedTws
from tests.waiting import wait_until
from tests.worker.streaming import LiveWorker

DAY_OF_SECONDS = {"symbol": "AAPL", "bar_size": "1 secs", "what_to_show": "TRADES", "use_rth": True,
                  "sec_type": "STK", "exchange": "SMART", "currency": "USD", "duration": "",
                  "start_datetime": "20250127 09:30:00", "end_datetime": "20250127 13:00:00"}


def test_health_lists_the_connections_transitions_with_their_reasons(
        sim_factory: Callable[..., SimulatedTws], tmp_path: Path) -> None:
    sim = sim_factory(pacing=False)
    worker = LiveWorker(tmp_path, sim)
    try:
        sim.control("lose_connectivity")
        wait_until(lambda: not worker.health()["ib_reachable"], timeout=5, what="1100 seen")
        sim.control("restore_connectivity", data_kept=True)
        sim.control("drop_all")
        health = wait_until(lambda: (h := worker.health())["reconnects"] == 1 and h["connected"] and h, timeout=10,
                            what="reconnected after the drop")
        moves = [(t["state"], t["ib_reachable"], t["tws_code"]) for t in health["connection_history"]]
        assert moves == [("connecting", False, None), ("connected", True, None), ("connected", False, 1100),
                         ("connected", True, 1102), ("disconnected", False, None), ("connecting", False, None),
                         ("connected", True, None)]
        times = [t["time"] for t in health["connection_history"]]
        assert times == sorted(times)
        assert health["connection_history"][4]["reason"] == "connection to TWS lost"
    finally:
        worker.stop()


def test_health_lists_the_jobs_in_progress_with_their_series_and_progress(
        sim_factory: Callable[..., SimulatedTws], tmp_path: Path) -> None:
    sim = sim_factory(pacing=False)
    worker = LiveWorker(tmp_path, sim, bar_timeout=2.0)  # 7 windows of 1800 S: IB lets 6 go in 2 s, so a job
    try:
        pending = worker.result("bars", DAY_OF_SECONDS)
        assert pending["status"] == "pending", pending
        listed = worker.health()["history"]["jobs_in_progress"]
        assert [j["id"] for j in listed] == [pending["job"]["id"]]
        job = listed[0]
        assert (job["symbol"], job["period"], job["what"], job["total"]) == ("AAPL", "1s", "TRADES", 7)
        assert job["state"] in ("pending", "running") and 0 <= job["done"] < 7
        assert job["range"] == "20250127 09:30:00..20250127 13:00:00"
        assert job["eta_seconds"] is None or job["eta_seconds"] >= 0
        wait_until(lambda: worker.health()["history"]["jobs_in_progress"] == [], timeout=30, what="the job done")
        assert worker.health()["history"]["jobs"]["done"] == 1
    finally:
        worker.stop()
