"""The bar store's interface: completed bars and the coverage that says which ranges are known complete, kept for
good; plus the small durable records the worker keeps beside them (jobs, head timestamps, "no such contract").

One writer: the TWS worker's owner thread calls everything here. Implementations: worker/history/sqlite_store.py (a
SQLite file, the embedded default) and worker/history/memory_store.py (BRIDGE_STORE_PATH empty, or a store file that
could not be opened). A server database for several bridges would be a third implementation of this Protocol.

Cost rules every implementation keeps: `coverage` answers from memory; `write` and the `save_*`/`delete_*` calls
return at once (the disk work happens on a writer thread, batched); `read` may touch the disk but never decodes a
whole stored block when it can pass it through as JSON, and never scans more than the blocks that overlap the span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from worker.history.coverage import Coverage, Span
from worker.tws.pacing_ledger import PacingLedger

Bar = dict[str, Any]  # the bar as answered: date, time, open, high, low, close, volume, wap, count


@dataclass(frozen=True, order=True)
class SeriesKey:
    """What the store is keyed by: the resolved contract and everything that changes the bars TWS sends."""

    con_id: int
    exchange: str
    bar_size: str  # IB barSizeSetting
    what_to_show: str
    use_rth: bool

    @property
    def text(self) -> str:
        return f"{self.con_id}|{self.exchange}|{self.bar_size}|{self.what_to_show}|{'rth' if self.use_rth else 'all'}"


@dataclass(frozen=True)
class StoredBars:
    """Bars read from the store, oldest first, as one JSON array (so blocks pass through undecoded)."""

    json: bytes  # b"[{...},{...}]"
    count: int
    first_time: int | None
    last_time: int | None
    next_time: int | None  # the start time of the first bar in the span after these (when `limit` cut), else None


@dataclass(frozen=True)
class JobRecord:
    """A long-range fill, kept so that it survives a worker restart (worker/history/jobs.py owns its meaning)."""

    id: str
    request: dict[str, Any]  # the bars request as the wire carries it (BarRequest.to_wire())
    state: str  # "pending" | "running" | "done" | "failed" | "cancelled"
    created: float  # epoch seconds
    updated: float
    detail: dict[str, Any]  # progress and outcome (done, total, bars_so_far, error, ...)


class BarStore(Protocol):
    location: str | None  # for /health and logs; None: memory only
    pacing_ledger: PacingLedger  # the pacing ledger kept in the same store (worker/tws/pacing.py loads and appends)

    # ---- bars and coverage ------------------------------------------------------------------------------------
    def coverage(self, series: SeriesKey) -> Coverage:
        """The series' known-complete spans (from memory; the caller must not change it)."""
        ...

    def write(self, series: SeriesKey, covered: Span, bars: list[Bar]) -> None:
        """`bars` (completed, oldest first, every start time inside `covered`) are every bar of `covered`. Parts of
        `covered` already covered are left as they are (their bars are dropped): stored spans never overlap. The
        coverage in memory includes `covered` when this returns; the disk follows on the writer thread."""
        ...

    def read(self, series: SeriesKey, span: Span, limit: int | None = None) -> StoredBars:
        """The stored bars whose start time is in `span`, oldest first, at most `limit` of them."""
        ...

    def touch(self, series: SeriesKey) -> None:
        """The series was used now (eviction removes the series used longest ago first)."""
        ...

    # ---- durable records beside the bars ----------------------------------------------------------------------
    def jobs(self) -> list[JobRecord]: ...
    def save_job(self, job: JobRecord) -> None: ...
    def delete_job(self, job_id: str) -> None: ...

    def heads(self) -> dict[str, int]:
        """Head timestamps (reqHeadTimeStamp) by key text (contract, whatToShow, useRTH): epoch seconds."""
        ...

    def save_head(self, key: str, epoch: int) -> None: ...

    def not_found(self) -> dict[str, float]:
        """Contract lookups TWS answered "no such contract" for, by key text: until when (epoch seconds)."""
        ...

    def save_not_found(self, key: str, until: float) -> None: ...

    def stats(self) -> dict[str, Any]:
        """Size, bars, series, writes queued and done, evictions: for /health and the benchmarks."""
        ...

    def flush(self, timeout: float) -> bool:
        """Wait until every write so far is on disk (shutdown, tests); False when it did not finish in time."""
        ...

    def close(self) -> None: ...

