"""The SQLite bar store's file: its schema, how a connection to it is opened, how a block is encoded on disk, and how
a file that is not ours (garbage, another program's database, another schema version) is recognised.

One file holds everything durable the worker keeps: the bars as blocks (worker/history/store_blocks.py), the series
they belong to, jobs, head timestamps, the "no such contract" memory and the pacing ledger. WAL with
synchronous=NORMAL: a commit is in the WAL when it returns (it survives kill -9 of the process; only a crash of the
machine can lose the last commits, and a fsync per commit would cost far more than that risk is worth).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import zlib
from pathlib import Path

from worker.history.store import SeriesKey

log = logging.getLogger("tws.bar_store")

SCHEMA_VERSION = 2  # PRAGMA user_version: a file of an unknown version is moved aside, never migrated in place
# The versions this bridge upgrades in place: what the upgrade drops (logged), and its SQL.
# 1 -> 2: bars gained `datetime` (issue 11). A stored block's bars cannot be given it without their series' time zone,
# so the bars, their series and the jobs that wrote them go (they are fetched again when asked for); the pacing ledger
# (what IB has counted), head timestamps and the "no such contract" memory are kept.
UPGRADES: dict[int, tuple[str, str]] = {
    1: ("its bars and jobs (stored before bars carried `datetime`; asked of TWS again when requested)",
        "DELETE FROM blocks; DELETE FROM series; DELETE FROM jobs"),
}
APPLICATION_ID = 0x74777362  # PRAGMA application_id, "twsb": a SQLite file of another program is not taken for ours
SQLITE_HEADER = b"SQLite format 3\x00"

CODEC_JSON, CODEC_ZLIB = 0, 1
BLOCK_CODEC = CODEC_JSON  # zlib (level 1) saves 4.7x on disk but costs reads ~0.65 us a bar: bench/store.py
ZLIB_LEVEL = 1  # level 1 compresses bar JSON ~4.5x; higher levels gain little and cost the writer several times more

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, last_used REAL NOT NULL);
CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    series INTEGER NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    count INTEGER NOT NULL,
    first_time INTEGER,
    last_time INTEGER,
    size INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    bars BLOB NOT NULL
);
-- (series, span_start) finds a read's blocks, and the other columns make the coverage load at open index-only
CREATE INDEX blocks_by_series ON blocks (series, span_start, span_end, count, size);
CREATE TABLE jobs (id TEXT PRIMARY KEY, request TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
                   updated REAL NOT NULL, detail TEXT NOT NULL);
CREATE TABLE heads (key TEXT PRIMARY KEY, epoch INTEGER NOT NULL);
CREATE TABLE not_found (key TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE pacing (id INTEGER PRIMARY KEY, record TEXT NOT NULL);
"""

# the index blocks_by_series holds every column asked here: the coverage load reads no block's bars
LOAD_COVERAGE_SQL = "SELECT series, span_start, span_end, count, size FROM blocks ORDER BY series, span_start"
# a read's blocks: from the last one starting at or before the span's start (it may hold it: blocks never overlap)
# to the last one starting before its end, found and walked in the index blocks_by_series
READ_BLOCKS_SQL = (
    "SELECT span_start, span_end, count, first_time, last_time, codec, bars FROM blocks "
    "WHERE series = ?1 AND span_start < ?3 AND span_start >= coalesce("
    "(SELECT span_start FROM blocks WHERE series = ?1 AND span_start <= ?2 ORDER BY span_start DESC LIMIT 1), ?2) "
    "ORDER BY span_start")

# the stored block a tail write's piece is appended to (store_writer.py), found in the index blocks_by_series
JOIN_BLOCK_SQL = ("SELECT id, span_end, count, first_time, last_time, codec, bars FROM blocks "
                  "WHERE series = ? AND span_start = ?")

TABLES = {"meta", "series", "blocks", "jobs", "heads", "not_found", "pacing"}


class StoreUnusable(Exception):
    """The file cannot be our store: the reason, for the log line that says where it was moved."""


def connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=NORMAL."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def prepare(path: Path) -> sqlite3.Connection:
    """Open `path` as the owner's connection, creating the schema in a new file; StoreUnusable if it is not ours."""
    try:
        if path.is_dir():
            raise StoreUnusable("a directory is where the store file should be")
        if path.exists():
            with path.open("rb") as f:
                head = f.read(len(SQLITE_HEADER))
            if head and head != SQLITE_HEADER:
                raise StoreUnusable("not a SQLite file")
        else:  # only the worker's user may read it (SQLite gives its -wal and -shm the same mode)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600))
        conn = connect(path, busy_ms=2000)
        try:
            _check_or_create(conn)
        except BaseException:
            conn.close()
            raise
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnusable(f"{type(exc).__name__}: {exc}") from exc
    return conn


def _check_or_create(conn: sqlite3.Connection) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and app_id == 0 and version == 0:
        # auto_vacuum must be chosen before the first table: INCREMENTAL lets eviction give pages back in steps
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        return
    if app_id != APPLICATION_ID:
        raise StoreUnusable(f"a SQLite database of another program (application_id {app_id:#x})")
    if version in UPGRADES and TABLES <= tables:
        dropped, sql = UPGRADES[version]
        log.warning("store of schema version %d upgraded to %d: dropped %s", version, SCHEMA_VERSION, dropped)
        conn.execute("BEGIN IMMEDIATE")
        for statement in sql.split(";"):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        version = SCHEMA_VERSION
    if version != SCHEMA_VERSION:
        raise StoreUnusable(f"schema version {version}, this bridge reads version {SCHEMA_VERSION}")
    if not TABLES <= tables:
        raise StoreUnusable(f"tables missing: {', '.join(sorted(TABLES - tables))}")
    if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise StoreUnusable("cannot use write-ahead logging on it")
    # a write at open: a file we may read but not write (read-only, permission) is found now, not at the first write
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', datetime('now'))")


def encode_payload(payload: bytes) -> tuple[int, bytes]:
    if BLOCK_CODEC == CODEC_ZLIB:
        return CODEC_ZLIB, zlib.compress(payload, ZLIB_LEVEL)
    return CODEC_JSON, payload


def decode_payload(codec: int, blob: bytes) -> bytes:
    if codec == CODEC_ZLIB:
        return zlib.decompress(blob)
    if codec == CODEC_JSON:
        return bytes(blob)
    raise sqlite3.DatabaseError(f"block codec {codec} unknown")


def series_key(text: str) -> SeriesKey:
    """A series' key as the series table keeps it (SeriesKey.text)."""
    con_id, exchange, bar_size, what, session = text.split("|")
    if session not in ("rth", "all"):
        raise ValueError(f"series key {text!r} is not one")
    return SeriesKey(int(con_id), exchange, bar_size, what, session == "rth")
