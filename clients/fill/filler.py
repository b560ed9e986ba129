"""Filling one range for several symbols: one bar request each; a 202's job is polled (honouring Retry-After) until
it is done or failed; then the bars request once more, its pages followed, to count the bars.

One thread, one loop: each symbol's `Fill` says what to do next and when; the loop does the earliest. `Progress`
is told every change (clients/fill/display.py draws it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from clients.fill.bridge import Answer, BridgeClient

RETRYABLE = frozenset({"overloaded", "worker_unavailable", "pacing_limited", "tws_unavailable", "connection_failed"})
MAX_ATTEMPTS = 10  # bar requests per symbol that may be refused for a passing reason (each after its Retry-After)
FINISHED_JOB_STATES = frozenset({"done", "failed", "cancelled"})


class Progress(Protocol):
    def job(self, symbol: str, job: dict[str, Any]) -> None: ...
    def done(self, symbol: str, bars: int) -> None: ...
    def failed(self, symbol: str, code: str, message: str) -> None: ...


@dataclass
class Fill:
    symbol: str
    request: dict[str, Any]  # the POST /bars body
    next_at: float = 0.0  # monotonic: when to act next
    job_id: str | None = None  # while a job fetches the range
    attempts: int = 0
    bars: int | None = None  # when done
    error: tuple[str, str] | None = None  # (code, message) when failed

    @property
    def finished(self) -> bool:
        return self.bars is not None or self.error is not None


class Filler:
    def __init__(self, bridge: BridgeClient, fills: list[Fill], progress: Progress,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.bridge = bridge
        self.fills = fills
        self.progress = progress
        self._clock = clock
        self._sleep = sleep

    @property
    def succeeded(self) -> bool:
        return all(f.bars is not None for f in self.fills)

    def run(self) -> None:
        """Until every symbol is done or failed. KeyboardInterrupt passes through (the caller cancels)."""
        while True:
            waiting = [f for f in self.fills if not f.finished]
            if not waiting:
                return
            fill = min(waiting, key=lambda f: f.next_at)
            delay = fill.next_at - self._clock()
            if delay > 0:
                self._sleep(delay)
            if fill.job_id is None:
                self._request_bars(fill)
            else:
                self._poll(fill)

    def unfinished_jobs(self) -> list[str]:
        return [f.job_id for f in self.fills if f.job_id is not None and not f.finished]

    def _request_bars(self, fill: Fill) -> None:
        """The bars request (the first, or the final one after the job): 200 counts the bars, following pages."""
        count = 0
        body = dict(fill.request)
        while True:
            answer = self.bridge.bars(body)
            if answer.status == 202:
                self._job_answer(fill, answer)
                return
            if answer.status != 200:
                self._refused(fill, answer)
                return
            bars = answer.body.get("bars")
            count += len(bars) if isinstance(bars, list) else 0
            token = answer.body.get("next_page_token")
            if not isinstance(token, str) or not token:
                fill.bars = count
                self.progress.done(fill.symbol, count)
                return
            body = {**fill.request, "page_token": token}

    def _poll(self, fill: Fill) -> None:
        assert fill.job_id is not None
        answer = self.bridge.job(fill.job_id)
        if answer.status != 200:
            if answer.code == "job_not_found":  # forgotten by the bridge: the same request starts it again
                fill.job_id = None
            self._refused(fill, answer)
            return
        self._job_answer(fill, answer)

    def _job_answer(self, fill: Fill, answer: Answer) -> None:
        job = answer.body.get("job")
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            self._fail(fill, "invalid_answer", "the bridge's job answer has no job")
            return
        fill.job_id = job["id"]
        self.progress.job(fill.symbol, job)
        state = job.get("state")
        if state == "done":
            fill.job_id = None  # the range is stored: the bars request now answers it
            fill.next_at = self._clock()
        elif state in FINISHED_JOB_STATES:
            error = job.get("error") if isinstance(job.get("error"), dict) else {}
            self._fail(fill, str(error.get("code", f"job_{state}")), str(error.get("message", f"the job was {state}")))
        else:
            fill.next_at = self._clock() + answer.wait()

    def _refused(self, fill: Fill, answer: Answer) -> None:
        fill.attempts += 1
        if answer.code in RETRYABLE | {"job_not_found"} and fill.attempts < MAX_ATTEMPTS:
            fill.next_at = self._clock() + answer.wait()
            return
        self._fail(fill, answer.code, answer.message)

    def _fail(self, fill: Fill, code: str, message: str) -> None:
        fill.error = (code, message)
        self.progress.failed(fill.symbol, code, message)
