"""The bar store in memory: BRIDGE_STORE_PATH empty, or a store file that could not be opened. Same interface as
the SQLite store (worker/history/store.py), gone when the worker ends; bounded by BRIDGE_STORE_MAX_GB (approximately:
JSON bytes plus a fixed overhead per block), the series used longest ago evicted first."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from worker.history.coverage import Coverage, Span
from worker.history.store import Bar, JobRecord, SeriesKey, StoredBars
from worker.history.store_blocks import (
    SeriesState,
    assemble,
    check_bars,
    eviction_order,
    joined,
    pieces_to_blocks,
    tail_of,
)
from worker.tws.pacing_ledger import MemoryLedger, PacingLedger

log = logging.getLogger("tws.bar_store")

NO_BARS = StoredBars(b"[]", 0, None, None, None)


class MemoryStore:
    location: str | None = None

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._series: dict[SeriesKey, SeriesState] = {}
        self._bytes = 0
        self._jobs: dict[str, JobRecord] = {}
        self._heads: dict[str, int] = {}
        self._not_found: dict[str, float] = {}
        self.pacing_ledger: PacingLedger = MemoryLedger()
        self._bars = 0
        self.writes = 0
        self.evicted_series = 0

    # ---- bars and coverage ------------------------------------------------------------------------------------
    def coverage(self, series: SeriesKey) -> Coverage:
        state = self._series.get(series)
        return state.coverage if state is not None else Coverage()

    def write(self, series: SeriesKey, covered: Span, bars: list[Bar]) -> None:
        check_bars(covered, bars)
        state = self._series.setdefault(series, SeriesState())
        for block in pieces_to_blocks(state.coverage.missing(covered), bars):
            latest = state.blocks[-1] if state.blocks else None
            if latest is not None and tail_of(latest).takes(block):  # a tail write: the latest block grows
                state.blocks[-1] = joined(latest, block)
                grown = state.blocks[-1].size - latest.size
            else:
                state.hold(block)
                grown = block.size
            state.coverage.add(Span(block.start, block.end))
            state.size += grown
            self._bytes += grown
            self._bars += block.count
        state.last_used = self._clock()
        self.writes += 1
        self._evict(keep=series)

    def read(self, series: SeriesKey, span: Span, limit: int | None = None) -> StoredBars:
        state = self._series.get(series)
        if state is None or not span:
            return NO_BARS
        return assemble(state.overlapping(span), span, limit)

    def touch(self, series: SeriesKey) -> None:
        state = self._series.get(series)
        if state is not None:
            state.last_used = self._clock()

    def _evict(self, keep: SeriesKey) -> None:
        if self._bytes <= self.max_bytes:
            return
        for victim in eviction_order(self._series):  # type: ignore[arg-type]
            if self._bytes <= self.max_bytes:
                break
            if victim != keep:
                gone = self._series.pop(victim)  # type: ignore[call-overload]
                self._bytes -= gone.size
                self._bars -= sum(block.count for block in gone.blocks)
                self.evicted_series += 1

    # ---- durable records beside the bars (durable for this process's life) ------------------------------------
    def jobs(self) -> list[JobRecord]:
        return list(self._jobs.values())

    def save_job(self, job: JobRecord) -> None:
        self._jobs[job.id] = job

    def delete_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def heads(self) -> dict[str, int]:
        return dict(self._heads)

    def save_head(self, key: str, epoch: int) -> None:
        self._heads[key] = epoch

    def not_found(self) -> dict[str, float]:
        return dict(self._not_found)

    def save_not_found(self, key: str, until: float) -> None:
        self._not_found[key] = until

    def stats(self) -> dict[str, Any]:
        return {"location": None, "series": len(self._series), "bytes": self._bytes, "max_bytes": self.max_bytes,
                "bars": self._bars, "blocks": sum(len(s.blocks) for s in self._series.values()),
                "writes": self.writes,
                "evicted_series": self.evicted_series}

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        return None
