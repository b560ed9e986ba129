"""The bridge through TWS and worker failures: nothing hangs, every caller gets an answer, service comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from tests.e2e.processes import ROOT, Answer, free_port
from tests.waiting import wait_until

PAST = {"end_datetime": "20250127 16:00:00"}


def in_thread(func) -> tuple[threading.Thread, list[Answer | float]]:
    out: list[Answer | float] = []

    def run() -> None:
        out.append(func())
        out.append(time.monotonic())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_tws_down_at_start_then_up_the_bridge_connects_by_itself(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing",))  # not started yet: nothing listens on its port
    bridge = make_bridge(tws.port, wait_connected=False)
    health = bridge.get("/health")
    assert health.status == 200 and health.body["status"] == "degraded" and health.body["connected"] is False
    started = time.monotonic()
    down = bridge.bars(symbol="AAPL", **PAST)
    assert down.status == 503 and down.body["code"] == "tws_unavailable"
    assert time.monotonic() - started < 2.5, "503 at once, not after BAR_TIMEOUT (5 s)"
    assert "Retry-After" in down.headers
    tws.start()
    bridge.wait_connected()
    assert bridge.bars(symbol="AAPL", **PAST).status == 200


def test_tws_dropping_the_connection_mid_request_answers_503_without_a_hang(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing",)).start()
    bridge = make_bridge(tws.port)
    assert bridge.bars(symbol="AAPL", **PAST).status == 200  # contract resolved and cached
    tws.control("never_answer", name="RequestHistoricalData", count=1)
    thread, out = in_thread(lambda: bridge.bars(symbol="AAPL", duration="2 D", **PAST))
    wait_until(lambda: len(tws.received("RequestHistoricalData")) == 2, what="request reached TWS")
    dropped = time.monotonic()
    tws.control("drop_all")
    thread.join(10)
    answer, answered = out
    assert answer.status == 503 and answer.body["code"] == "tws_unavailable"
    assert answered - dropped < 2.0, "failed at once, not at its deadline"
    bridge.wait_connected()
    assert bridge.bars(symbol="AAPL", duration="3 D", **PAST).status == 200


def test_tws_too_slow_is_504_after_bar_timeout(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing", "--never-answer", "RequestHistoricalData")).start()
    bridge = make_bridge(tws.port, BAR_TIMEOUT="2")
    started = time.monotonic()
    answer = bridge.bars(symbol="AAPL", **PAST)
    assert answer.status == 504 and answer.body["code"] == "tws_timeout"
    assert time.monotonic() - started >= 2.0
    wait_until(lambda: tws.received("CancelHistoricalData"), what="the timed-out request cancelled upstream")


def test_worker_killed_answers_503_within_2_s_then_serves_again(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing", "--never-answer", "RequestHistoricalData:1")).start()
    bridge = make_bridge(tws.port)
    pid = bridge.get("/health").body["worker"]["worker_pid"]
    thread, out = in_thread(lambda: bridge.bars(symbol="AAPL", **PAST))
    wait_until(lambda: tws.received("RequestHistoricalData"), what="request in flight")
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    thread.join(10)
    answer, answered = out
    assert answer.status == 503 and answer.body["code"] == "worker_unavailable"
    assert answered - killed < 2.0
    health = wait_until(lambda: (h := bridge.health_or_none()) and h["connected"] and h, timeout=20,
                        what="worker restarted and connected")
    assert health["worker"]["worker_pid"] != pid
    # not the identical request: the dead worker sent that one just now, and the pacing ledger holds it for 15 s
    assert bridge.bars(symbol="AAPL", duration="2 D", **PAST).status == 200


def test_health_is_503_when_the_worker_does_not_answer(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing",)).start()
    bridge = make_bridge(tws.port, BRIDGE_START_WORKER="false", wait_connected=False)
    started = time.monotonic()
    answer = bridge.get("/health")
    assert answer.status == 503 and answer.body["code"] == "worker_unavailable"
    assert answer.body["tws_port"] == tws.port
    assert time.monotonic() - started < 3.0


def test_the_api_token_guards_every_endpoint_but_health(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing",)).start()
    token = "s3cret-token-0123456789"
    bridge = make_bridge(tws.port, BRIDGE_API_TOKEN=token)
    assert bridge.get("/health").status == 200
    refused = bridge.bars(symbol="AAPL", **PAST)
    assert refused.status == 401 and refused.body["code"] == "unauthorized"
    assert bridge.post("/disconnect", headers={"Authorization": "Bearer wrong-token-000000000"}).status == 401
    ok = bridge.post("/bars", {"symbol": "AAPL", "period": "5m", "duration": "1 D", **PAST},
                     headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200


def test_a_bad_setting_stops_start_up_naming_it(tmp_path):
    env = {**os.environ, "TWS_PORT": "seventy", "PORT": str(free_port()), "BRIDGE_ENV_FILE": str(tmp_path / "x")}
    out = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "TWS_PORT" in out.stderr
    out = subprocess.run([sys.executable, "-m", "worker"], cwd=ROOT, env={**env, "TWS_PORT": "7497",
                                                                         "BAR_TIMEOUT": "-1"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "BAR_TIMEOUT" in out.stderr
