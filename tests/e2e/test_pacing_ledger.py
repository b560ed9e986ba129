"""A TWS worker killed with SIGKILL under 50 clients, restarted by its supervisor, keeps IB's pacing windows: the
pacing ledger the dead worker wrote as it sent tells the new one what TWS saw, so the same 50 requests asked again at
once wait for IB's 15-s identical rule instead of drawing 162 pacing violations.

Real gunicorn (2 HTTP workers), the real worker and its supervisor, the simulator with pacing enforcement ON."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.processes import Answer
from tests.e2e.test_worker_rules import STOCKS, historical_requests, pacing_violations
from tests.waiting import wait_until

PAST = "20250127 16:00:00"
DURATIONS = ("1 D", "2 D", "3 D", "4 D", "5 D")  # five per contract: each contract's 2-s group window is full too
KEYS = [(symbol, duration) for symbol in STOCKS[:10] for duration in DURATIONS]


def test_kill_9_of_the_worker_under_50_clients_causes_no_pacing_violation(make_tws, make_bridge):
    tws = make_tws(extra=("--reply-delay", "3")).start()  # the first 50 are still open at TWS when the worker dies
    bridge = make_bridge(tws.port, BAR_TIMEOUT="25")
    pid = bridge.get("/health").body["worker"]["worker_pid"]
    killed = threading.Event()
    killed_at: list[float] = []
    served_at: list[float] = []

    def client(key: tuple[str, str]) -> tuple[Answer, Answer]:
        symbol, duration = key
        first = bridge.bars(symbol=symbol, duration=duration, end_datetime=PAST)
        killed.wait(30)
        deadline = time.monotonic() + 40
        while True:  # the same request again at once, and again while the bridge is restarting (503)
            again = bridge.bars(symbol=symbol, duration=duration, end_datetime=PAST)
            if again.status != 503 or time.monotonic() > deadline:
                served_at.append(time.monotonic())
                return first, again
            threading.Event().wait(0.1)  # a client's retry rhythm, not a synchronisation

    with ThreadPoolExecutor(50) as pool:
        futures = [pool.submit(client, key) for key in KEYS]
        wait_until(lambda: len(historical_requests(tws)) == 50, timeout=20, what="all 50 sent to TWS")
        tws.control("reply_delay", seconds=0)
        killed_at.append(time.monotonic())
        os.kill(pid, signal.SIGKILL)
        killed.set()
        # meanwhile, a request the dead worker had not sent is served as soon as the new worker is connected
        fresh_at = wait_until(lambda: bridge.bars(symbol="KO", duration="1 D", end_datetime=PAST).status == 200
                              and time.monotonic(), timeout=20, interval=0.1, what="a new request served")
        results = [f.result(timeout=60) for f in futures]
    kill = killed_at[0]
    assert all(first.status == 503 for first, _ in results), [first.status for first, _ in results]
    assert pacing_violations(tws) == [], "the new worker kept the dead one's pacing windows"
    again = [second.status for _, second in results]
    assert again == [200] * 50, again
    health = bridge.get("/health").body["worker"]
    assert health["worker_pid"] != pid and health["pacing"]["ledger_records_loaded"] >= 50
    assert len(historical_requests(tws)) == 50 + 50 + 1  # and the new request
    assert fresh_at - kill < 5.0 and fresh_at < min(served_at)
    print(f"\nafter kill -9: a request the dead worker had not sent served {fresh_at - kill:.1f} s after the kill; "
          f"the 50 it had sent {min(served_at) - kill:.1f}-{max(served_at) - kill:.1f} s after (IB's 15-s rule)")
