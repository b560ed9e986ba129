"""What issue 10's end-to-end tests share: a bridge with the history API's calls, and helpers that read the
simulator's request log as the windows it received (tests/e2e/history/sim_series.py) and follow
a bar request the way a client does: a 202 to its job until the job is finished, then the pages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from shared.ib_limits import duration_allowed
from tests.e2e.history import sim_series
from tests.e2e.processes import Answer, BridgeProcess, SimProcess, http
from tests.waiting import wait_until

# The instant the simulator's clock stands at in these tests (frozen): Tuesday 2025-02-04 12:00 New York, after the
# month of January 2025 (MLK day 2025-01-20 and the day of mourning 2025-01-09 closed).
CLOCK = "2025-02-04T12:00:00-05:00"
FINISHED = ("done", "failed", "cancelled")


def header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Fetched:
    """A bar request followed to its end: every page's bars, the job(s) it went through, the answers seen."""

    bars: list[dict[str, Any]] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)  # bars per page
    jobs: list[dict[str, Any]] = field(default_factory=list)  # the job as each 202 / GET showed it
    first: Answer | None = None


class HistoryBridge(BridgeProcess):
    """A bridge on its own store file, with the history API's calls."""

    store_path: Path

    def job(self, job_id: str) -> Answer:
        return self.get(f"/jobs/{job_id}")

    def cancel(self, job_id: str) -> Answer:
        return http("DELETE", f"{self.url}/jobs/{job_id}")

    def head(self, symbol: str, **query: str) -> Answer:
        text = "&".join(f"{k}={v}" for k, v in {"what": "TRADES", "session": "rth", **query}.items())
        return self.get(f"/contracts/{symbol}/head?{text}")

    def wait_job(self, job_id: str, timeout: float, seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Poll GET /jobs/<id> until the job is finished (a 503 while the worker restarts is waited out)."""
        def finished() -> dict[str, Any] | None:
            answer = self.job(job_id)
            if answer.status == 503:
                return None
            assert answer.status == 200, (answer.status, answer.body)
            job = answer.body["job"]
            if seen is not None:
                seen.append(job)
            return job if job["state"] in FINISHED else None
        return wait_until(finished, timeout=timeout, interval=0.1, what=f"job {job_id} finished")

    def fetch(self, body: dict[str, Any], job_timeout: float = 60.0) -> Fetched:
        """POST /bars as a client would: a 202 is followed to its job's end and asked again; then every page."""
        out = Fetched()
        answer = self.post("/bars", body)
        out.first = answer
        if answer.status == 202:
            job = answer.body["job"]
            out.jobs.append(job)
            assert header(answer, "Location") == f"/api/v1/jobs/{job['id']}", answer.headers
            assert float(header(answer, "Retry-After") or 0) > 0, answer.headers
            finished = self.wait_job(job["id"], job_timeout, out.jobs)
            assert finished["state"] == "done", finished
            answer = self.post("/bars", body)
        while True:
            assert answer.status == 200, (answer.status, answer.body)
            out.bars += answer.body["bars"]
            out.pages.append(len(answer.body["bars"]))
            token = answer.body.get("next_page_token")
            if not token:
                return out
            answer = self.post("/bars", {**body, "page_token": token})


def windows(tws: SimProcess, symbol: str | None = None, instruments: Path | None = None) -> list[sim_series.Window]:
    """The plain (not keepUpToDate) historical requests the simulator received, as windows, in arrival order."""
    out = [sim_series.window(r, instruments) for r in tws.received("RequestHistoricalData")]
    return [w for w in out if not w.keep_up_to_date and (symbol is None or w.symbol == symbol)]


def assert_legal(found: list[sim_series.Window]) -> None:
    """Every window's duration is within IB's table for its bar size (shared/ib_limits.py)."""
    illegal = [w for w in found if not duration_allowed(w.bar_size, w.duration)]
    assert not illegal, illegal


def assert_no_window_twice(found: list[sim_series.Window]) -> None:
    """No two windows of one series ask for an overlapping range of bar start times (each window's span read with
    the simulator's rules: for "N D" from the first of its sessions)."""
    by_series: dict[tuple[str, str, bool], list[tuple[float, float]]] = {}
    for w in found:
        by_series.setdefault((w.symbol, w.bar_size, w.use_rth), []).append(w.span)
    for key, spans in by_series.items():
        spans.sort()
        overlaps = [(a, b) for a, b in pairwise(spans) if b[0] < a[1]]
        assert not overlaps, (key, overlaps)


def pacing_violations(tws: SimProcess) -> list[dict[str, Any]]:
    return sim_series.pacing_violations(tws.control("errors"))


def refusals(tws: SimProcess) -> list[dict[str, Any]]:
    return sim_series.refusals(tws.control("errors"))


def sim_now(tws: SimProcess) -> float:
    return float(tws.control("clock_now"))


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


def half_hour_ends(count: int) -> list[str]:
    """The ends of the first `count` half hours of the sessions of 21 and 22 January 2025 (13 a session)."""
    ends = [f"{day} {(570 + 30 * k) // 60:02d}:{(570 + 30 * k) % 60:02d}:00"
            for day in ("20250121", "20250122") for k in range(1, 14)]
    return ends[:count]


def spend_small_bar_budget(bridge: HistoryBridge, count: int) -> None:
    """`count` single-window 1-sec requests for KO (each one "1800 S" upstream, synchronous): they spend that much
    of IB's 60 small-bar requests per 10 minutes, so a job sent next must wait for the window to free."""
    for end in half_hour_ends(count):
        answer = bridge.bars(symbol="KO", period="1s", duration="1800 S", end_datetime=end)
        assert answer.status == 200, answer.body
