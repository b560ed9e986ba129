"""The SQLite store's writer thread: the disk work of `write`, `touch`, eviction and the `save_*` calls, so the owner
thread never waits on it.

The owner hands it operations through a queue, each with a sequence number; it commits them in batches, in order,
and hands back through another queue the highest sequence number committed (or the failure that stopped it). Its
transactions stay short (at most MAX_BATCH_BYTES of blocks, an eviction deleted MAX_DELETE_BLOCKS at a time), so the
owner's own commits on its connection (the pacing ledger's append) never wait on it for more than a few ms. It also
does the WAL checkpoints: the owner's connection never does, so an append never pays for one.

A block marked `joins` is appended to the stored block starting there (a tail write): that block's JSON is rewritten
once per batch however many pieces the batch appends to it, its arrays joined as bytes (decoded only when zlib).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.history.store_blocks import BLOCK_OVERHEAD, Block, join_payloads
from worker.history.store_schema import JOIN_BLOCK_SQL, connect, decode_payload, encode_payload

log = logging.getLogger("tws.bar_store")

MAX_BATCH_BYTES = 1 << 20  # JSON bytes of blocks per transaction
MAX_BATCH_OPS = 256
MAX_DELETE_BLOCKS = 64  # blocks one eviction transaction deletes
VACUUM_PAGES = 256  # pages one incremental_vacuum step gives back
BUSY_MS = 5000

# operations (tuples, first item the kind):
#   ("blocks", seq, series_id, key_text, last_used, [Block, ...], rewrite_bytes)  rewrite_bytes: the size of the
#                                  stored block a `joins` block is appended to (what merging it rewrites), else 0
#   ("evict", seq, series_id)
#   ("exec", seq, sql, params)     a record beside the bars (jobs, heads, not_found, touch)
#   ("vacuum",)                    one step of giving an eviction's pages back (the writer queues it itself)
#   ("flush", threading.Event)     set once everything before it is committed
#   ("close",)
Op = tuple[Any, ...]


@dataclass
class _Row:
    """A block row as one batch leaves it: new (id None) or an existing one that pieces were appended to."""

    id: int | None
    end: int
    count: int
    first: int | None
    last: int | None
    payloads: list[bytes]


class StoreWriter(threading.Thread):
    def __init__(self, path: Path) -> None:
        super().__init__(name="bar-store-writer", daemon=True)
        self.path = path
        self.ops: queue.SimpleQueue[Op] = queue.SimpleQueue()  # from the owner
        self.done: queue.SimpleQueue[tuple[str, int, str]] = queue.SimpleQueue()  # to the owner
        self._conn: sqlite3.Connection | None = None
        self._failed = False

    def put(self, op: Op) -> None:
        self.ops.put(op)

    def run(self) -> None:
        try:
            self._conn = connect(self.path, BUSY_MS)
            self._conn.execute("PRAGMA journal_size_limit = 67108864")
        except sqlite3.Error as exc:
            self._fail(0, exc)
        pending: Op | None = None
        while True:
            op = pending if pending is not None else self.ops.get()
            pending = None
            kind = op[0]
            if kind == "close":
                break
            if kind == "flush":
                op[1].set()
                continue
            if self._failed:
                continue  # a failed disk: the owner holds everything in memory now
            if kind == "evict":
                self._evict(op[1], op[2])
                continue
            if kind == "vacuum":
                self._vacuum_step()
                continue
            batch = [op]
            rewritten: set[tuple[int, int]] = set()
            size = _op_bytes(op, rewritten)
            while len(batch) < MAX_BATCH_OPS and size < MAX_BATCH_BYTES:
                try:
                    nxt = self.ops.get_nowait()
                except queue.Empty:
                    break
                if nxt[0] not in ("blocks", "exec"):  # flush, evict, vacuum, close: after this batch
                    pending = nxt
                    break
                batch.append(nxt)
                size += _op_bytes(nxt, rewritten)
            self._commit(batch)
        self._close()

    def _commit(self, batch: Sequence[Op]) -> None:
        conn = self._conn
        assert conn is not None
        seq = max(op[1] for op in batch)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows: dict[tuple[int, int], _Row] = {}  # (series id, span start): the blocks this batch writes
                for op in batch:
                    if op[0] == "blocks":
                        self._stage(conn, rows, *op[2:6])
                    else:
                        conn.execute(op[2], op[3])
                self._store(conn, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite has rolled back by itself after some errors (disk full)
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._fail(seq, exc)
            return
        self.done.put(("committed", seq, ""))

    def _stage(self, conn: sqlite3.Connection, rows: dict[tuple[int, int], _Row], series_id: int, key_text: str,
               last_used: float, blocks: Sequence[Block]) -> None:
        conn.execute("INSERT INTO series (id, key, last_used) VALUES (?, ?, ?) "
                     "ON CONFLICT (id) DO UPDATE SET last_used = excluded.last_used", (series_id, key_text, last_used))
        for block in blocks:
            row = None
            if block.joins is not None:
                row = rows.get((series_id, block.joins)) or _load_row(conn, series_id, block.joins)
                if row is None or row.end != block.start:  # never expected: keep the bars as a block of their own
                    log.warning("bar store %s: block %d of series %d to append to is not there; stored apart",
                                self.path, block.joins, series_id)
                    row = None
                else:
                    rows[(series_id, block.joins)] = row
            if row is None:
                rows[(series_id, block.start)] = _Row(None, block.end, block.count, block.first, block.last,
                                                      [block.payload])
                continue
            row.end = block.end
            row.count += block.count
            row.first = row.first if row.first is not None else block.first
            row.last = block.last if block.last is not None else row.last
            row.payloads.append(block.payload)

    @staticmethod
    def _store(conn: sqlite3.Connection, rows: dict[tuple[int, int], _Row]) -> None:
        inserts, updates = [], []
        for (series_id, start), row in rows.items():
            payload = row.payloads[0] if len(row.payloads) == 1 else join_payloads(row.payloads)
            codec, blob = encode_payload(payload)
            size = len(payload) + BLOCK_OVERHEAD
            if row.id is None:
                inserts.append((series_id, start, row.end, row.count, row.first, row.last, size, codec, blob))
            else:
                updates.append((row.end, row.count, row.first, row.last, size, codec, blob, row.id))
        conn.executemany("INSERT INTO blocks (series, span_start, span_end, count, first_time, last_time, size, codec,"
                         " bars) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)
        conn.executemany("UPDATE blocks SET span_end = ?, count = ?, first_time = ?, last_time = ?, size = ?, "
                         "codec = ?, bars = ? WHERE id = ?", updates)

    def _evict(self, seq: int, series_id: int) -> None:
        """Delete the series' blocks a few at a time (each step a short transaction), then the series."""
        conn = self._conn
        assert conn is not None
        try:
            while True:
                cur = conn.execute("DELETE FROM blocks WHERE id IN (SELECT id FROM blocks WHERE series = ? LIMIT ?)",
                                   (series_id, MAX_DELETE_BLOCKS))
                if cur.rowcount < MAX_DELETE_BLOCKS:
                    break
            conn.execute("DELETE FROM series WHERE id = ?", (series_id,))
        except sqlite3.Error as exc:
            self._fail(seq, exc)
            return
        self.done.put(("committed", seq, ""))
        self.ops.put(("vacuum",))

    def _vacuum_step(self) -> None:
        """Give free pages back to the file system, VACUUM_PAGES at a time between batches."""
        conn = self._conn
        assert conn is not None
        try:
            conn.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
            more = conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
            if not more:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the file shrinks once the WAL is copied back
        except sqlite3.Error as exc:
            log.warning("bar store %s: giving free space back failed (%s); it is reused for new bars", self.path, exc)
            return
        if more:
            self.ops.put(("vacuum",))  # the next step after whatever the owner sent meanwhile

    def _fail(self, seq: int, exc: BaseException) -> None:
        self._failed = True
        self.done.put(("failed", seq, f"{type(exc).__name__}: {exc}"))

    def _close(self) -> None:
        if self._conn is not None:
            try:
                if not self._failed:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("bar store %s: final checkpoint failed (%s); the WAL is read at the next open",
                            self.path, exc)
            self._conn.close()
            self._conn = None


def _load_row(conn: sqlite3.Connection, series_id: int, start: int) -> _Row | None:
    found = conn.execute(JOIN_BLOCK_SQL, (series_id, start)).fetchone()
    if found is None:
        return None
    row_id, end, count, first, last, codec, blob = found
    return _Row(row_id, end, count, first, last, [decode_payload(codec, blob)])


def _op_bytes(op: Op, rewritten: set[tuple[int, int]]) -> int:
    """What an operation adds to a batch's transaction: its blocks, and a stored block it rewrites (once a batch)."""
    if op[0] != "blocks":
        return 64
    size = sum(len(block.payload) for block in op[5])
    for block in op[5]:
        if block.joins is not None and (op[2], block.joins) not in rewritten:
            rewritten.add((op[2], block.joins))
            size += op[6]
    return size
