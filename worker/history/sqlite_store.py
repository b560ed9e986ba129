"""The bar store in a SQLite file (the embedded default): worker/history/store.py's BarStore.

The owner thread keeps every series' coverage in memory (loaded at open from the blocks' span columns, an index-only
scan) and answers `coverage` from it. `write` updates it at once and hands the blocks to the writer thread
(worker/history/store_writer.py); until the writer says they are committed the blocks stay held in memory, so a read
right after a write sees them. A piece that joins the series' latest block (store_blocks.TailBlock.takes: a tail
write) is merged into it by the writer; meanwhile the owner holds the merged block when it still holds that block,
else the piece alone, marked with the block it joins (a read skips it once the disk's block reaches past it). `read`
runs on the owner's own connection (WAL: readers never wait on the writer) and merges what is held with what is on
disk. A disk that fails at run time (disk full) is logged once and the store
goes on in memory for everything not yet on disk; a read that fails drops the disk for good (coverage shrinks to
what memory holds, so the planner fetches the rest again).
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from worker.history.coverage import Coverage, Span
from worker.history.memory_store import NO_BARS
from worker.history.store import Bar, JobRecord, SeriesKey, StoredBars
from worker.history.store_blocks import (
    Block,
    SeriesState,
    TailBlock,
    assemble,
    check_bars,
    eviction_order,
    joined,
    pieces_to_blocks,
    tail_of,
)
from worker.history.store_ledger import StoreLedger
from worker.history.store_schema import (
    LOAD_COVERAGE_SQL,
    READ_BLOCKS_SQL,
    StoreUnusable,
    decode_payload,
    prepare,
    series_key,
)
from worker.history.store_writer import StoreWriter

log = logging.getLogger("tws.bar_store")

TOUCH_PERSIST_EVERY = 60.0  # seconds: a series' last use reaches the disk at most this often (and at close)


@dataclass
class _Series(SeriesState):
    id: int = 0
    bars: int = 0
    persisted_use: float = 0.0
    block_rows: int = 0  # blocks of the series on disk or on their way there
    tail: TailBlock | None = None  # its latest block (by start), on disk or held


class SqliteStore:
    def __init__(self, path: Path, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        """Open (or create) the store at `path`; worker/history/store_schema.StoreUnusable if it is not one."""
        self.location: str | None = str(path)
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._conn = prepare(path)
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")  # the writer checkpoints: an append never pays for it
        self._series: dict[SeriesKey, _Series] = {}
        self._jobs: dict[str, JobRecord] = {}
        self._heads: dict[str, int] = {}
        self._not_found: dict[str, float] = {}
        self._bytes = 0
        started = time.perf_counter()
        try:
            self._load()
        except (sqlite3.Error, ValueError, orjson.JSONDecodeError) as exc:
            self._conn.close()
            raise StoreUnusable(f"{type(exc).__name__}: {exc}") from exc
        self.open_seconds = time.perf_counter() - started
        self.pacing_ledger = StoreLedger(self._conn, str(path))
        self._next_id = max((s.id for s in self._series.values()), default=0) + 1
        self._seq = 0
        self._committed = 0
        self._held: deque[tuple[int, SeriesKey, Block]] = deque()  # blocks not yet committed, by sequence number
        self._disk_failed: str | None = None  # the writer's failure: new writes stay in memory
        self._disk_readable = True
        self.writes = 0
        self.evicted_series = 0
        self._writer = StoreWriter(path)
        self._writer.start()
        log.info("bar store %s: %d series, %d bars, %.1f MB, opened in %.3f s", path, len(self._series),
                 sum(s.bars for s in self._series.values()), self._bytes / 1e6, self.open_seconds)

    def _load(self) -> None:
        by_id: dict[int, tuple[SeriesKey, _Series]] = {}
        for series_id, text, last_used in self._conn.execute("SELECT id, key, last_used FROM series"):
            key = series_key(text)
            state = _Series(id=series_id, last_used=last_used, persisted_use=last_used)
            by_id[series_id] = (key, state)
            self._series[key] = state
        for series_id, start, end, count, size in self._conn.execute(LOAD_COVERAGE_SQL):
            entry = by_id.get(series_id)
            if entry is None:
                continue
            state = entry[1]
            state.coverage.add(Span(start, end))
            state.size += size
            state.bars += count
            state.block_rows += 1
            state.tail = TailBlock(start, end, count, size)  # ordered by start: the last one stays
            self._bytes += size
        now = self._clock()
        for row in self._conn.execute("SELECT id, request, state, created, updated, detail FROM jobs"):
            self._jobs[row[0]] = JobRecord(row[0], orjson.loads(row[1]), row[2], row[3], row[4], orjson.loads(row[5]))
        self._heads = {k: int(v) for k, v in self._conn.execute("SELECT key, epoch FROM heads")}
        self._not_found = {k: float(u) for k, u in self._conn.execute("SELECT key, until FROM not_found")
                           if u > now}

    # ---- bars and coverage ------------------------------------------------------------------------------------
    def coverage(self, series: SeriesKey) -> Coverage:
        state = self._series.get(series)
        return state.coverage if state is not None else Coverage()

    def write(self, series: SeriesKey, covered: Span, bars: list[Bar]) -> None:
        self._drain()
        check_bars(covered, bars)
        state = self._series.get(series)
        if state is None:
            state = self._series[series] = _Series(id=self._next_id)
            self._next_id += 1
        blocks = pieces_to_blocks(state.coverage.missing(covered), bars)
        state.last_used = self._clock()
        self.writes += 1
        if blocks:
            seq = self._send_seq()
            rewrite = 0  # bytes of a stored block the writer rewrites to merge a piece into it
            to_disk: list[Block] = []
            for block in blocks:
                tail = state.tail
                if tail is not None and tail.takes(block):
                    rewrite = tail.size
                    block = replace(block, joins=tail.start)
                    state.tail = tail.joined(block)
                    grown = state.tail.size - tail.size
                    i = state.held_at(tail.start)
                    if i is not None:  # the whole block is still held: hold it merged
                        state.blocks[i] = joined(state.blocks[i], block)
                        self._held.append((seq, series, state.blocks[i]))
                    else:  # on disk: hold the piece until the writer has merged it
                        state.hold(block)
                        self._held.append((seq, series, block))
                else:
                    if tail is None or block.start > tail.start:
                        state.tail = tail_of(block)
                    grown = block.size
                    state.block_rows += 1
                    state.hold(block)
                    self._held.append((seq, series, block))
                to_disk.append(block)
                state.coverage.add(Span(block.start, block.end))
                state.size += grown
                state.bars += block.count
                self._bytes += grown
            if self._disk_failed is None:
                self._writer.put(("blocks", seq, state.id, series.text, state.last_used, to_disk, rewrite))
                state.persisted_use = state.last_used
        self._evict(keep=series)

    def read(self, series: SeriesKey, span: Span, limit: int | None = None) -> StoredBars:
        self._drain()
        state = self._series.get(series)
        if state is None or not span:
            return NO_BARS
        if self._disk_readable:
            blocks = self._merged(state, span)
            try:
                return assemble(blocks, span, limit)
            except Exception as exc:  # sqlite3.Error, OSError, zlib.error, orjson's decode error: a damaged file
                self._lose_disk(f"reading {series.text}: {type(exc).__name__}: {exc}")
            finally:
                blocks.close()  # a read `limit` cut ends its statement now: no snapshot is held past it
            state = self._series.get(series)
            if state is None:
                return NO_BARS
        return assemble(state.overlapping(span), span, limit)

    def _merged(self, state: _Series, span: Span) -> Generator[Block, None, None]:
        """The blocks overlapping `span`, oldest first: those held in memory, and the rest read from disk as the
        caller goes (a read that `limit` cuts stops fetching)."""
        held = list(state.overlapping(span))
        held_starts = {block.start for block in held if block.joins is None}
        disk_ends: dict[int, int] = {}  # where the disk's blocks end now: a held piece inside one is merged already

        def unmerged(block: Block) -> bool:
            return block.joins is None or disk_ends.get(block.joins, block.start) < block.end

        rows = self._conn.execute(READ_BLOCKS_SQL, (state.id, span.start, span.end))
        try:
            i = 0
            for start, end, count, first, last, codec, blob in rows:
                while i < len(held) and held[i].start < start:
                    if unmerged(held[i]):
                        yield held[i]
                    i += 1
                disk_ends[start] = end
                if start in held_starts or end <= span.start:
                    continue  # held and just committed: the held copy is the same block (or a longer one)
                yield Block(start, end, count, first, last, decode_payload(codec, blob))
            yield from (block for block in held[i:] if unmerged(block))
        finally:
            rows.close()

    def touch(self, series: SeriesKey) -> None:
        state = self._series.get(series)
        if state is None:
            return
        state.last_used = self._clock()
        if state.last_used - state.persisted_use >= TOUCH_PERSIST_EVERY:
            self._persist_use(state)

    def _persist_use(self, state: _Series) -> None:
        state.persisted_use = state.last_used
        self._exec("UPDATE series SET last_used = ? WHERE id = ?", (state.last_used, state.id))

    def _evict(self, keep: SeriesKey) -> None:
        if self._bytes <= self.max_bytes:
            return
        for victim in eviction_order(self._series):  # type: ignore[arg-type]
            if self._bytes <= self.max_bytes:
                break
            if victim == keep:
                continue
            state = self._series.pop(victim)  # type: ignore[call-overload]
            self._bytes -= state.size
            self.evicted_series += 1
            log.info("bar store %s: evicted %s (%d bars, used %.0f s ago) to stay under %.1f GB", self.path,
                     victim.text, state.bars, self._clock() - state.last_used, self.max_bytes / 1e9)  # type: ignore
            if self._disk_failed is None:
                self._writer.put(("evict", self._send_seq(), state.id))

    # ---- durable records beside the bars ----------------------------------------------------------------------
    def jobs(self) -> list[JobRecord]:
        return list(self._jobs.values())

    def save_job(self, job: JobRecord) -> None:
        self._jobs[job.id] = job
        self._exec("INSERT OR REPLACE INTO jobs (id, request, state, created, updated, detail) VALUES (?,?,?,?,?,?)",
                   (job.id, orjson.dumps(job.request).decode(), job.state, job.created, job.updated,
                    orjson.dumps(job.detail).decode()))

    def delete_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._exec("DELETE FROM jobs WHERE id = ?", (job_id,))

    def heads(self) -> dict[str, int]:
        return dict(self._heads)

    def save_head(self, key: str, epoch: int) -> None:
        self._heads[key] = epoch
        self._exec("INSERT OR REPLACE INTO heads (key, epoch) VALUES (?, ?)", (key, epoch))

    def not_found(self) -> dict[str, float]:
        return dict(self._not_found)

    def save_not_found(self, key: str, until: float) -> None:
        self._not_found[key] = until
        self._exec("INSERT OR REPLACE INTO not_found (key, until) VALUES (?, ?)", (key, until))

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        self._drain()
        if self._disk_failed is None:
            self._writer.put(("exec", self._send_seq(), sql, params))

    # ---- the writer's progress, failures, shutdown ------------------------------------------------------------
    def _send_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _drain(self) -> None:
        """Take the writer's reports: blocks committed are dropped from memory (the disk has them now)."""
        while True:
            try:
                kind, seq, reason = self._writer.done.get_nowait()
            except queue.Empty:
                break
            if kind == "failed":
                self._fail_disk(reason)
            else:
                self._committed = max(self._committed, seq)
        while self._held and self._held[0][0] <= self._committed:
            _, key, block = self._held.popleft()
            state = self._series.get(key)
            if state is not None:
                for i in range(len(state.blocks)):
                    if state.blocks[i] is block:
                        del state.blocks[i]
                        del state.starts[i]
                        break

    def _fail_disk(self, reason: str) -> None:
        if self._disk_failed is None:
            self._disk_failed = reason
            log.error("bar store %s cannot be written (%s): new bars are kept in memory only from now on (and are "
                      "gone when the worker stops)", self.path, reason)

    def _lose_disk(self, reason: str) -> None:
        """A read failed: the file is not to be trusted; only what memory holds stays covered."""
        self._disk_readable = False
        self._fail_disk(reason)
        log.error("bar store %s cannot be read (%s): only bars held in memory stay covered; the rest is asked "
                  "again", self.path, reason)
        for key, state in list(self._series.items()):
            state.blocks = [replace(b, joins=None) for b in state.blocks]  # held pieces stand alone now
            state.coverage = Coverage(Span(b.start, b.end) for b in state.blocks)
            state.size = sum(b.size for b in state.blocks)
            state.bars = sum(b.count for b in state.blocks)
            state.block_rows = len(state.blocks)
            state.tail = tail_of(state.blocks[-1]) if state.blocks else None
            if not state.blocks:
                del self._series[key]
        self._bytes = sum(s.size for s in self._series.values())

    def stats(self) -> dict[str, Any]:
        self._drain()
        try:
            file_bytes = sum(os.stat(p).st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        except OSError:
            file_bytes = None
        return {"location": self.location, "file_bytes": file_bytes, "bytes": self._bytes,
                "max_bytes": self.max_bytes, "series": len(self._series),
                "bars": sum(s.bars for s in self._series.values()),
                "blocks": sum(s.block_rows for s in self._series.values()), "writes": self.writes,
                "writes_queued": self._seq - self._committed if self._disk_failed is None else 0,
                "held_in_memory": sum(len(s.blocks) for s in self._series.values()),
                "evicted_series": self.evicted_series, "disk_error": self._disk_failed,
                "pacing_ledger_appends": self.pacing_ledger.appended, "opened_in_seconds": round(self.open_seconds, 3)}

    def flush(self, timeout: float) -> bool:
        done = threading.Event()
        self._writer.put(("flush", done))
        finished = done.wait(timeout)
        self._drain()
        return finished

    def close(self) -> None:
        if self._disk_failed is None:
            for state in self._series.values():
                if state.last_used > state.persisted_use:
                    self._persist_use(state)
        self._writer.put(("close",))
        self._writer.join(10.0)
        if self._writer.is_alive():
            log.warning("bar store %s: the writer did not finish within 10 s; the WAL keeps what it committed",
                        self.path)
        self._drain()
        self._conn.close()

