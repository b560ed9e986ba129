"""`python -m clients.fill` as a user runs it (a subprocess) against a fake bridge serving the documented answers:
bars at once, a job polled to its end, a failed job, Ctrl-C cancelling the jobs, no bridge at all."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clients.fill.cli import bridge_time
from tests.clients.fake_bridge import FakeBridge, Script, job
from tests.ports import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--period", "1m", "--start", "2025-01-02", "--end", "2025-02-01"]


def fill(url: str, symbols: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clients.fill", "--url", url, "--symbols", symbols, *ARGS, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def job_script(job_id: str, *states: str, retry_after: str = "0", pages: list[int] | None = None,
               error: dict[str, str] | None = None) -> Script:
    """A job that goes through `states` (one per poll), 4 windows of 100 bars each."""
    answers = [job(job_id, "pending", 0, 4, 0)]
    for n, state in enumerate(states, 1):
        answers.append(job(job_id, state, min(n, 4), 4, 100 * min(n, 4), None if state != "running" else 4.0 - n,
                           error if state == "failed" else None))
    return Script(jobs=answers, retry_after=retry_after, pages=pages or [400], job_id=job_id)


def test_a_range_answered_at_once_is_done_with_its_bar_count() -> None:
    with FakeBridge({"AAPL": Script(pages=[3]), "MSFT": Script(pages=[5])}) as bridge:
        done = fill(bridge.url, "AAPL,MSFT")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AAPL: done, 3 bars" in done.stdout and "MSFT: done, 5 bars" in done.stdout
    posts = bridge.requests("POST", "/api/v1/bars")
    assert [p.body for p in posts] == [
        {"symbol": s, "period": "1m", "start_datetime": "20250102 00:00:00", "end_datetime": "20250201 00:00:00",
         "what": "TRADES", "session": "rth"} for s in ("AAPL", "MSFT")]
    assert bridge.requests("GET") == [] and bridge.requests("DELETE") == []


def test_a_job_is_polled_until_done_then_the_bars_are_counted_over_every_page() -> None:
    script = job_script("a" * 32, "running", "running", "running", "done", pages=[50_000, 50_000, 1234])
    with FakeBridge({"AAPL": script}) as bridge:
        done = fill(bridge.url, "AAPL", "--what", "MIDPOINT", "--session", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AAPL: done, 101234 bars" in done.stdout
    assert [s.path for s in bridge.requests("GET")] == [f"/api/v1/jobs/{'a' * 32}"] * 4
    posts = bridge.requests("POST")
    assert [p.body.get("page_token") for p in posts] == [None, None, "p1", "p2"]  # the job, then the pages
    assert {(p.body["what"], p.body["session"]) for p in posts} == {("MIDPOINT", "all")}


def test_polls_honour_retry_after() -> None:
    with FakeBridge({"AAPL": job_script("b" * 32, "running", "done", retry_after="1")}) as bridge:
        done = fill(bridge.url, "AAPL")
    assert done.returncode == 0, done.stdout + done.stderr
    times = [bridge.requests("POST")[0].at] + [s.at for s in bridge.requests("GET")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and min(gaps) >= 0.95, gaps


def test_a_failed_job_fails_its_symbol_with_the_code_and_exits_1() -> None:
    failing = job_script("c" * 32, "running", "failed", error={"code": "tws_error", "message": "TWS said no"})
    with FakeBridge({"AAPL": Script(pages=[7]), "MSFT": failing}) as bridge:
        done = fill(bridge.url, "AAPL,MSFT")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "AAPL: done, 7 bars" in done.stdout
    assert "MSFT: failed: tws_error: TWS said no" in done.stdout
    assert "1 of 2 failed: MSFT" in done.stderr
    assert len(bridge.requests("POST")) == 2, "a failed job's bars are not requested again"


def test_a_refused_request_fails_with_the_bridges_code() -> None:
    refusal = (400, {"success": False, "bars": [], "count": 0, "code": "invalid_request",
                     "error": "invalid request: symbol: must not contain commas"})
    with FakeBridge({"A;B": Script(refusal=refusal)}) as bridge:
        done = fill(bridge.url, "A;B")
    assert done.returncode == 1
    assert "A;B: failed: invalid_request: invalid request: symbol: must not contain commas" in done.stdout


def test_ctrl_c_cancels_every_unfinished_job_and_exits_130() -> None:
    forever = job_script("d" * 32, "running", retry_after="1")  # running, and running again at every poll
    with FakeBridge({"AAPL": Script(pages=[2]), "MSFT": forever}) as bridge:
        proc = subprocess.Popen([sys.executable, "-m", "clients.fill", "--url", bridge.url, "--symbols",
                                 "AAPL,MSFT", *ARGS], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            wait_until(lambda: bridge.requests("GET", f"/api/v1/jobs/{'d' * 32}"), timeout=30,
                       what="the fill command polling the running job")
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        deletes = [s.path for s in bridge.requests("DELETE")]
    assert proc.returncode == 130, stdout + stderr
    assert deletes == [f"/api/v1/jobs/{'d' * 32}"], "only the unfinished job is cancelled, once"
    assert f"MSFT: job {'d' * 32} cancelled" in stdout
    assert "Traceback" not in stderr


def test_no_bridge_at_the_url_is_a_clear_message_and_exit_2() -> None:
    done = fill(f"http://127.0.0.1:{free_port()}", "AAPL", timeout=30)
    assert done.returncode == 2
    assert "cannot reach the bridge at http://127.0.0.1:" in done.stdout and "Connection refused" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(("text", "sent"), [("2025-01-02", "20250102 00:00:00"),
                                            ("20250102 09:30:00", "20250102 09:30:00"),
                                            ("2025-01-02T09:30:00-05:00", "2025-01-02T09:30:00-05:00")])
def test_start_and_end_take_a_date_or_the_bridges_forms(text: str, sent: str) -> None:
    assert bridge_time(text) == sent


@pytest.mark.parametrize("text", ["2025-01-32", "2025-01-02T09:30:00", "yesterday", "20250102"])
def test_other_times_are_a_usage_error(text: str) -> None:
    done = subprocess.run([sys.executable, "-m", "clients.fill", "--symbols", "AAPL", "--period", "1m",
                           "--start", text], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "argument --start" in done.stderr


def test_the_fill_command_never_imports_flask() -> None:
    code = "import sys, clients.fill.cli; print('flask' in sys.modules, 'app' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["False", "False"], out.stderr
