"""The history path as the worker's service sees it: the desk, its jobs and head timestamps built from the worker's
parts, and the operations and events that belong to them ("job", "job_cancel", "head"; headTimestamp events).

worker/service.py owns the loop and routes; this module keeps the history path's construction and its small
handlers in one place, so that the service stays about the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shared.bars import BarRequest, InvalidBarRequest
from shared.config import BridgeConfig
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.history import HeadRequest, valid_job_id
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import BarFetcher, Reply
from worker.history.calendar import SessionCalendar
from worker.history.desk import HistoryDesk
from worker.history.fill import FILL_PARALLEL, window_request
from worker.history.heads import HeadTimestamps
from worker.history.jobs import JobBook
from worker.history.planner import Window
from worker.history.schedule import estimate_seconds
from worker.history.store import BarStore
from worker.history.upstream import pacing_key
from worker.timers import Timers
from worker.tws.dates import TwsClock
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingRules

log = logging.getLogger("tws.history")

ANSWER_SECONDS = 0.3  # what one window's answer is assumed to take, for estimates (the simulator: ~0.05-0.2 s)
HISTORY_OPS = ("job", "job_cancel", "head")
WithContract = Callable[[Any, float, Reply, Callable[[ResolvedContract], None]], None]


class HistoryOperations:
    def __init__(self, config: BridgeConfig, fetcher: BarFetcher, cache: BarCache, store: BarStore,
                 clock: TwsClock, outbox: Outbox, pacing: PacingRules, timers: Timers,
                 next_id: Callable[[], int], with_contract: WithContract, open_now: Callable[[], int]) -> None:
        self._pacing = pacing
        self._with_contract = with_contract
        self._open_now = open_now
        self._calendars: dict[tuple[int, bool], SessionCalendar] = {}
        self.heads = HeadTimestamps(outbox, next_id, store, call_later=timers.call_later,
                                    timeout=config.bar_timeout)
        self.jobs = JobBook(store, lambda: self.desk.fills, self.estimate)
        self.desk = HistoryDesk(fetcher, cache, store, clock, self.jobs, self.calendar_for, self.estimate,
                                self._head_of, with_contract, config.cache_now_ttl, config.bar_timeout)

    def calendar_for(self, contract: ResolvedContract, use_rth: bool) -> SessionCalendar:
        key = (contract.con_id, use_rth)
        calendar = self._calendars.get(key)
        if calendar is None:
            if len(self._calendars) > 4096:
                self._calendars.clear()
            calendar = self._calendars[key] = SessionCalendar.for_contract(contract, use_rth)
        return calendar

    def estimate(self, request: BarRequest, contract: ResolvedContract, windows: list[Window]) -> float:
        """Seconds until the last window is answered, at the fastest pace IB's rules allow from what was sent."""
        keys = [pacing_key(window_request(request, w), contract) for w in windows]
        open_now = min(self._open_now(), self._pacing.limits.max_open - 1)
        # a fill keeps at most FILL_PARALLEL windows open: the schedule may not assume more
        limits = replace(self._pacing.limits, max_open=min(self._pacing.limits.max_open, open_now + FILL_PARALLEL))
        try:
            return estimate_seconds(keys, limits, now=self._pacing.clock(), answer_seconds=ANSWER_SECONDS,
                                    open_now=open_now, history=self._pacing)
        except ValueError:
            return float("inf")

    def _head_of(self, request: BarRequest, contract: ResolvedContract, deadline: float,
                 then: Callable[[int | None, BridgeError | None], None]) -> None:
        """The head timestamp for planning: unknown (None) when TWS has none to give; only TWS being away fails."""
        def answered(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            if error is not None and error.code is ErrorCode.TWS_UNAVAILABLE:
                then(None, error)
            elif error is not None or result is None:
                log.info("no head timestamp for %s %s (%s): planning without it", request.symbol,
                         request.what_to_show, error.code.value if error else "none")
                then(None, None)
            else:
                then(int(result["time"]), None)

        self.heads.lookup(contract, request.what_to_show, request.use_rth, deadline, answered)

    # ---- operations ---------------------------------------------------------------------------------------------

    def handle(self, op: str, body: dict[str, Any], deadline: float, reply: Reply) -> None:
        if op in ("job", "job_cancel"):
            job_id = body.get("id")
            if not valid_job_id(job_id):
                reply(None, BridgeError(ErrorCode.JOB_NOT_FOUND, "a job id is 32 lowercase hex digits"))
                return
            try:
                job = self.jobs.cancel(job_id) if op == "job_cancel" else self.jobs.get(job_id)
            except BridgeFailure as exc:
                reply(None, exc.error)
                return
            reply({"job": self.jobs.describe(job)}, None)
        elif op == "head":
            try:
                head = HeadRequest.from_wire(body)
            except InvalidBarRequest as exc:
                reply(None, BridgeError(ErrorCode.INVALID_REQUEST, str(exc), fields=exc.fields))
                return
            self._with_contract(head, deadline, reply, lambda contract: self.heads.lookup(
                contract, head.what_to_show, head.use_rth, deadline,
                lambda result, error: reply(None if result is None else {"head": result}, error)))

    # ---- events ---------------------------------------------------------------------------------------------

    def on_ready(self) -> None:
        self.jobs.resume_all()

    def on_lost(self) -> None:
        self.heads.connection_lost()
        self.jobs.connection_lost()
