"""Jobs: fills too long for one request's deadline, run in the background, kept in the store so that they survive a
worker restart and resume where they stopped (the store's coverage says which windows are done).

A job's id is the request's fingerprint (worker/history/pages.py): the same bars request again finds its job, so
sending it twice never starts two; once the job is done, the request is answered from the store. Progress counts
windows (`done` of `total`) and bars stored so far; `eta_seconds` is the fastest legal schedule of what is left.
Ended jobs are kept `KEEP_ENDED_S` for their callers to read, then forgotten.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.bars import PERIODS, BarRequest, InvalidBarRequest
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from worker.contracts.resolver import ResolvedContract
from worker.history.fill import Fill, FillRunner
from worker.history.pages import fingerprint
from worker.history.planner import Window
from worker.history.store import BarStore, JobRecord, SeriesKey

log = logging.getLogger("tws.jobs")

KEEP_ENDED_S = 3600.0
WINDOW_WAIT_S = 3600.0  # how long one window of a job may wait for its pacing turn and answer (jobs have no deadline)
ACTIVE = ("pending", "running")
RETRIES = 3  # a window that failed for a passing reason (timeout, pacing, TWS away) is tried again this often
IN_PROGRESS_LISTED = 20  # jobs /health lists one by one (the oldest); its counts by state cover every job
PERIOD_OF_BAR_SIZE = {bar_size: period for period, bar_size in PERIODS.items()}
PASSING = (ErrorCode.TWS_TIMEOUT, ErrorCode.PACING_LIMITED, ErrorCode.TWS_UNAVAILABLE, ErrorCode.TWS_ERROR)

Replan = Callable[["Job", Callable[[ResolvedContract, SeriesKey, int, list[Window]], None],
                   Callable[[BridgeError], None]], None]
Estimate = Callable[[BarRequest, ResolvedContract, list[Window]], float]


@dataclass(eq=False)
class Job:
    record: JobRecord
    request: BarRequest
    fill: Fill | None = None
    retries: int = 0
    bars_before: int = 0  # bars stored by earlier fills of this job (before a restart or a retry)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def state(self) -> str:
        return self.record.state


class JobBook:
    """Owned by the worker's thread. `replan` resolves a job's contract and plans what is still missing (the desk)."""

    def __init__(self, store: BarStore, fills: Callable[[], FillRunner], estimate: Estimate,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._fills = fills
        self._estimate = estimate
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self.replan: Replan | None = None  # set by the desk's owner (worker/service.py)
        for record in store.jobs():
            try:
                request = BarRequest.from_wire(record.request)
            except InvalidBarRequest as exc:
                log.warning("job %s in the store is not a valid request (%s): dropped", record.id, exc)
                store.delete_job(record.id)
                continue
            self._jobs[record.id] = Job(record, request)
        if self._jobs:
            log.info("%d job(s) from the store, %d to resume", len(self._jobs),
                     sum(1 for j in self._jobs.values() if j.state in ACTIVE))

    # ---- what callers see ---------------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        self._expire()
        job = self._jobs.get(job_id)
        if job is None:
            raise BridgeFailure(BridgeError(ErrorCode.JOB_NOT_FOUND,
                                            f"no job {job_id} (unknown, or ended over an hour ago)"))
        return job

    def active(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.state in ACTIVE else None

    def describe(self, job: Job) -> dict[str, Any]:
        detail = job.record.detail
        fill = job.fill
        done = detail.get("done", 0)
        total = detail.get("total", 0)
        eta: float | None = 0.0
        if job.state in ACTIVE:
            eta = round(self._estimate(job.request, fill.contract, fill.waiting), 1) if fill is not None else None
        return {"id": job.id, "state": job.state, "done": done, "total": total,
                "bars_so_far": detail.get("bars_so_far", 0), "eta_seconds": eta, "error": detail.get("error"),
                "created": job.record.created, "updated": job.record.updated}

    def in_progress(self, limit: int = IN_PROGRESS_LISTED) -> list[dict[str, Any]]:
        """The oldest `limit` pending and running jobs, for /health and the status page: what each fetches, how far."""
        active = sorted((j for j in self._jobs.values() if j.state in ACTIVE), key=lambda j: j.record.created)
        return [{**self.describe(job), "symbol": job.request.symbol, "period": PERIOD_OF_BAR_SIZE[job.request.bar_size],
                 "what": job.request.what_to_show, "range": job.request.range_text} for job in active[:limit]]

    def stats(self) -> dict[str, int]:
        """Jobs by state, for /health."""
        counts = {state: 0 for state in ("pending", "running", "done", "failed", "cancelled")}
        for job in self._jobs.values():
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts

    # ---- life -------------------------------------------------------------------------------------------------------

    def start(self, request: BarRequest, contract: ResolvedContract, series: SeriesKey, complete: int,
              windows: list[Window]) -> Job:
        now = self._clock()
        record = JobRecord(fingerprint(request), request.to_wire(), "pending", now, now,
                           {"done": 0, "total": len(windows), "bars_so_far": 0, "error": None})
        job = Job(record, request)
        self._jobs[job.id] = job
        self._run(job, contract, series, complete, windows)
        log.info("job %s: %s %s %s, %d windows", job.id, request.symbol, request.bar_size,
                 request.duration or request.start_datetime, len(windows))
        return job

    def resume_all(self) -> None:
        """After (re)connecting: every job that was pending or running goes on with what is still missing."""
        for job in list(self._jobs.values()):
            if job.state in ACTIVE and job.fill is None:
                self._resume(job)

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.state in ACTIVE:
            if job.fill is not None:
                self._fills().cancel(job.fill, BridgeError(ErrorCode.INVALID_REQUEST, "cancelled"))
            self._update(job, "cancelled")
            log.info("job %s cancelled", job.id)
        return job

    def connection_lost(self) -> None:
        """The fills' windows failed with the connection; the jobs resume after the reconnect."""
        for job in self._jobs.values():
            if job.state in ACTIVE and job.fill is not None:
                self._fills().cancel(job.fill, BridgeError(ErrorCode.TWS_UNAVAILABLE, "connection lost"))

    # ---- inside -----------------------------------------------------------------------------------------------

    def _resume(self, job: Job) -> None:
        if self.replan is None:
            return

        def planned(contract: ResolvedContract, series: SeriesKey, complete: int, windows: list[Window]) -> None:
            if job.state in ACTIVE and job.fill is None:
                self._run(job, contract, series, complete, windows)

        def failed(error: BridgeError) -> None:
            if error.code in PASSING:
                return  # tried again at the next reconnect or resume
            self._update(job, "failed", error={"code": error.code.value, "message": error.message})

        self.replan(job, planned, failed)

    def _run(self, job: Job, contract: ResolvedContract, series: SeriesKey, complete: int,
             windows: list[Window]) -> None:
        total = job.record.detail.get("total", len(windows))
        done = max(0, total - len(windows))
        job.bars_before = int(job.record.detail.get("bars_so_far", 0))
        job.fill = Fill(job.request, contract, series, windows, complete,
                        lambda: time.monotonic() + WINDOW_WAIT_S, self._progressed(job), self._finished(job),
                        parallel=2, total=total, done=done)
        self._update(job, "running", done=done)
        self._fills().start(job.fill)

    def _progressed(self, job: Job) -> Callable[[Fill], None]:
        def progressed(fill: Fill) -> None:
            self._update(job, "running", done=fill.done, bars_so_far=job.bars_before + fill.bars)
        return progressed

    def _finished(self, job: Job) -> Callable[[Fill, BridgeError | None], None]:
        def finished(fill: Fill, error: BridgeError | None) -> None:
            if job.fill is not fill or job.state not in ACTIVE:
                return
            job.fill = None
            if error is None:
                self._update(job, "done", done=job.record.detail.get("total", fill.total))
                log.info("job %s done: %d bars", job.id, job.record.detail.get("bars_so_far", 0))
            elif error.code is ErrorCode.TWS_UNAVAILABLE:
                log.info("job %s waits for TWS", job.id)  # resume_all after the reconnect
            elif error.code in PASSING and job.retries < RETRIES:
                job.retries += 1
                log.info("job %s: %s (%s); resuming (%d/%d)", job.id, error.code.value, error.message, job.retries,
                         RETRIES)
                self._resume(job)
            else:
                self._update(job, "failed", error={"code": error.code.value, "message": error.message})
        return finished

    def _update(self, job: Job, state: str, **detail: Any) -> None:
        record = job.record
        merged = {**record.detail, **detail}
        job.record = JobRecord(record.id, record.request, state, record.created, self._clock(), merged)
        self._store.save_job(job.record)

    def _expire(self) -> None:
        horizon = self._clock() - KEEP_ENDED_S
        for job in [j for j in self._jobs.values() if j.state not in ACTIVE and j.record.updated < horizon]:
            del self._jobs[job.id]
            self._store.delete_job(job.id)
