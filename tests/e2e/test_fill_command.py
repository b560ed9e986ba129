"""`python -m clients.fill` against the real bridge (gunicorn, the TWS worker, the simulator with pacing ON, every
pacing window scaled by 0.01 on both sides): a range of 65 windows of 1-second bars becomes a job the command follows
to its end, counting exactly the bars the bridge then answers; Ctrl-C cancels the running job in the bridge."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.processes import ROOT, BridgeProcess, SimProcess
from tests.waiting import wait_until

SCALE = "0.01"  # 10 min -> 6 s, 15 s -> 0.15 s, 2 s -> 0.02 s: 65 windows of 1 s bars cannot finish in BAR_TIMEOUT
# five regular sessions of 1-second bars (20 Jan 2025 is a holiday): 65 windows of 1800 S
LONG = ["--period", "1s", "--start", "20250121 09:30:00", "--end", "20250127 16:00:00"]


@pytest.fixture
def stack(make_tws: Callable[..., SimProcess],
          make_bridge: Callable[..., BridgeProcess]) -> Iterator[BridgeProcess]:
    tws = make_tws(clock_start="2025-01-28T11:00:00-05:00", speed=1.0, extra=("--pacing-scale", SCALE)).start()
    yield make_bridge(tws.port, BRIDGE_PACING_SCALE=SCALE, BAR_TIMEOUT="5")


def fill_command(bridge: BridgeProcess, symbols: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "clients.fill", "--url", f"http://127.0.0.1:{bridge.port}", "--symbols", symbols,
            *args]


def all_bars(bridge: BridgeProcess, request: dict[str, object]) -> int:
    count, page = 0, {}
    while True:
        answer = bridge.post("/bars", {**request, **page}, timeout=60)
        assert answer.status == 200, answer.body
        count += answer.body["count"]
        if answer.body["next_page_token"] is None:
            return count
        page = {"page_token": answer.body["next_page_token"]}


def test_a_long_range_is_followed_through_its_job_and_counted(stack: BridgeProcess) -> None:
    done = subprocess.run(fill_command(stack, "AAPL", *LONG), cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    (count,) = [int(n) for n in re.findall(r"^AAPL: done, (\d+) bars$", done.stdout, re.M)]
    expected = all_bars(stack, {"symbol": "AAPL", "period": "1s", "start_datetime": "20250121 09:30:00",
                                "end_datetime": "20250127 16:00:00"})
    assert count == expected == 5 * 23_400, (count, expected)  # five full regular sessions
    assert re.search(r"^AAPL .* 65/65 windows", done.stdout, re.M), "the job's progress: 65 windows"


def test_ctrl_c_cancels_the_running_job_in_the_bridge(stack: BridgeProcess) -> None:
    proc = subprocess.Popen(fill_command(stack, "MSFT", *LONG), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        announced = wait_until(lambda: next((m for line in list(lines) if (m := re.match(
            r"^MSFT: job ([0-9a-f]{32}) ", line))), None), timeout=60, what="the command's job named")
        job = {"id": announced.group(1)}
        wait_until(lambda: stack.get(f"/jobs/{job['id']}").body["job"]["done"] > 0, timeout=60,
                   what="the job running")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(10)
        stderr = proc.stderr.read() if proc.stderr else ""
        stdout = "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stdout + stderr
    assert f"MSFT: job {job['id']} cancelled" in stdout
    assert stack.get(f"/jobs/{job['id']}").body["job"]["state"] == "cancelled"
