"""The bar store's file through the real processes (gunicorn, the worker, the simulator): a garbage file where the
store should be does not stop the bridge; "no such contract" outlives kill -9 of the worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.waiting import wait_until

PAST = "20250127 16:00:00"


def test_a_garbage_store_file_is_moved_aside_and_the_bridge_serves_from_memory(
        make_tws, make_bridge, tmp_path_factory: pytest.TempPathFactory) -> None:
    tws = make_tws(extra=("--no-pacing",)).start()
    place = tmp_path_factory.mktemp("store")
    path = place / "bars.sqlite3"
    path.write_bytes(b"this is not a database\n" * 512)
    bridge = make_bridge(tws.port, BRIDGE_STORE_PATH=str(path))
    health = bridge.get("/health")
    assert health.status == 200 and health.body["worker"]["store"]["location"] is None, "memory only"
    answer = bridge.bars(symbol="AAPL", end_datetime=PAST)
    assert answer.status == 200 and answer.body["bars"]
    aside = [p for p in place.iterdir() if p.name.startswith("bars.sqlite3.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    log = Path(bridge.log_path).read_text()
    lines = [ln for ln in log.splitlines() if "ERROR" in ln and str(path) in ln]
    assert len(lines) == 1 and str(aside[0]) in lines[0] and "not a SQLite file" in lines[0], lines


def test_a_restarted_worker_still_knows_a_contract_tws_does_not(make_tws, make_bridge) -> None:
    tws = make_tws(extra=("--no-pacing",)).start()
    bridge = make_bridge(tws.port)  # its own store file (tests/e2e/processes.py)
    assert bridge.bars(symbol="QZZZZ", end_datetime=PAST).status == 404
    worker = bridge.get("/health").body["worker"]
    assert worker["store"]["location"] is not None
    wait_until(lambda: bridge.get("/health").body["worker"]["store"]["writes_queued"] == 0,
               what="the store's writer committed what it was given")
    os.kill(worker["worker_pid"], signal.SIGKILL)
    wait_until(lambda: (h := bridge.health_or_none()) and h["connected"]
               and h["worker"]["worker_pid"] != worker["worker_pid"], timeout=20, what="a new worker connected")
    again = bridge.bars(symbol="QZZZZ", end_datetime=PAST)
    assert again.status == 404 and again.body["code"] == "symbol_not_found"
    lookups = [r for r in tws.received("RequestContractDetails") if r["fields"]["contract"]["symbol"] == "QZZZZ"]
    assert len(lookups) == 1, "the new worker asked TWS nothing: it read the dead one's answer from the store"
    assert bridge.get("/health").body["worker"]["contracts"]["not_found_hits"] == 1
