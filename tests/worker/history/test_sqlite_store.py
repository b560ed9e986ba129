"""The bar store as a specification, for both implementations (SQLite and memory) where the behaviour is the
interface's; then what only the SQLite file does: read-after-write before the writer committed, a restart, eviction
on disk, the query plans that keep a 10-million-bar store usable, and a disk that fills up at run time."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.worker.history.store_bars import AAPL_1MIN, MSFT_1MIN, T0, make_bars
from worker.history.coverage import Span
from worker.history.memory_store import MemoryStore
from worker.history.sqlite_store import SqliteStore
from worker.history.store import BarStore, JobRecord
from worker.history.store_blocks import BLOCK_OVERHEAD, MAX_JOINED_BARS
from worker.history.store_schema import JOIN_BLOCK_SQL, LOAD_COVERAGE_SQL, READ_BLOCKS_SQL

ROOT = Path(__file__).resolve().parents[3]
DAY = 390 * 60  # one regular session of 1-min bars


class Clock:
    def __init__(self) -> None:
        self.now = 1.7e9

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[..., SqliteStore]]:
    stores: list[SqliteStore] = []

    def open_(path: Path | None = None, max_bytes: int = 1 << 30, clock: Callable[[], float] | None = None
              ) -> SqliteStore:
        store = SqliteStore(path or tmp_path / "bars.sqlite3", max_bytes, **({"clock": clock} if clock else {}))
        stores.append(store)
        return store

    yield open_
    for store in stores:
        store.close()


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, opened: Callable[..., SqliteStore]) -> BarStore:
    return opened() if request.param == "sqlite" else MemoryStore(1 << 30)


def times(answer: Any) -> list[int]:
    return [bar["time"] for bar in orjson.loads(answer.json)]


# ---- the interface's behaviour, both stores ------------------------------------------------------------------

def test_a_write_covers_its_span_at_once_and_the_bars_read_back(store: BarStore) -> None:
    bars = make_bars(T0, 390)
    store.write(AAPL_1MIN, Span(T0, T0 + DAY), bars)
    assert list(store.coverage(AAPL_1MIN)) == [Span(T0, T0 + DAY)]
    answer = store.read(AAPL_1MIN, Span(T0, T0 + DAY))
    assert orjson.loads(answer.json) == bars
    assert (answer.count, answer.first_time, answer.last_time, answer.next_time) == (390, T0, T0 + DAY - 60, None)
    assert list(store.coverage(MSFT_1MIN)) == []


def test_an_empty_answer_is_coverage_too(store: BarStore) -> None:
    store.write(AAPL_1MIN, Span(T0, T0 + 86400), [])  # a holiday
    assert store.coverage(AAPL_1MIN).covers(Span(T0, T0 + 86400))
    assert store.read(AAPL_1MIN, Span(T0, T0 + 86400)).json == b"[]"


def test_parts_already_covered_keep_their_bars_and_stored_spans_never_overlap(store: BarStore) -> None:
    first = make_bars(T0, 200, seed=1)
    store.write(AAPL_1MIN, Span(T0, T0 + 200 * 60), first)
    second = make_bars(T0 + 100 * 60, 290, seed=2)  # overlaps the first 100 bars with other values
    store.write(AAPL_1MIN, Span(T0 + 100 * 60, T0 + DAY), second)
    assert list(store.coverage(AAPL_1MIN)) == [Span(T0, T0 + DAY)]
    answer = orjson.loads(store.read(AAPL_1MIN, Span(T0, T0 + DAY)).json)
    assert [b["time"] for b in answer] == [T0 + 60 * i for i in range(390)], "each bar once"
    assert answer[:200] == first and answer[200:] == second[100:]


def test_reads_cut_across_block_edges(store: BarStore) -> None:
    for day in range(3):  # three blocks, one a session, a gap of a night between
        start = T0 + day * 86400
        store.write(AAPL_1MIN, Span(start, start + 86400), make_bars(start, 390))
    span = Span(T0 + 300 * 60, T0 + 2 * 86400 + 30 * 60)  # the end of day 1, day 2, the start of day 3
    got = times(store.read(AAPL_1MIN, span))
    want = [T0 + d * 86400 + 60 * i for d in range(3) for i in range(390)]
    assert got == [t for t in want if span.start <= t < span.end]
    assert len(got) == 90 + 390 + 30


def test_limit_cuts_and_next_time_names_the_first_bar_left(store: BarStore) -> None:
    for day in range(3):
        start = T0 + day * 86400
        store.write(AAPL_1MIN, Span(start, start + 86400), make_bars(start, 390))
    everything = Span(T0, T0 + 3 * 86400)
    all_times = times(store.read(AAPL_1MIN, everything))
    pages, cursor = [], T0
    while True:
        page = store.read(AAPL_1MIN, Span(cursor, everything.end), limit=250)
        pages.append(times(page))
        assert page.count == len(pages[-1]) <= 250
        if page.next_time is None:
            break
        assert page.next_time == all_times[sum(len(p) for p in pages)]
        cursor = page.next_time
    assert [t for p in pages for t in p] == all_times and len(pages) == 5
    exact = store.read(AAPL_1MIN, everything, limit=390)  # the cut falls on a block's end
    assert exact.count == 390 and exact.next_time == T0 + 86400


def test_eviction_removes_the_series_used_longest_ago(tmp_path: Path, opened: Callable[..., SqliteStore]) -> None:
    one_day = len(orjson.dumps(make_bars(T0, 390))) + BLOCK_OVERHEAD
    for kind in ("sqlite", "memory"):
        clock = Clock()
        store: BarStore = (opened(tmp_path / "evict.sqlite3", max_bytes=int(2.5 * one_day), clock=clock)
                           if kind == "sqlite" else MemoryStore(int(2.5 * one_day), clock=clock))
        store.write(AAPL_1MIN, Span(T0, T0 + DAY), make_bars(T0, 390))
        clock.now += 1
        store.write(MSFT_1MIN, Span(T0, T0 + DAY), make_bars(T0, 390, seed=2))
        clock.now += 1
        store.touch(AAPL_1MIN)  # AAPL used again: MSFT is now the oldest
        clock.now += 1
        third = AAPL_1MIN.__class__(8314, "SMART", "1 min", "TRADES", True)
        store.write(third, Span(T0, T0 + DAY), make_bars(T0, 390, seed=3))
        assert list(store.coverage(MSFT_1MIN)) == [], kind
        assert store.read(MSFT_1MIN, Span(T0, T0 + DAY)).count == 0
        assert store.coverage(AAPL_1MIN).covers(Span(T0, T0 + DAY)) and store.coverage(third)
        assert store.stats()["evicted_series"] == 1 and store.stats()["bytes"] <= int(2.5 * one_day)


def test_records_beside_the_bars(store: BarStore) -> None:
    job = JobRecord("a" * 32, {"symbol": "AAPL"}, "running", 1.0, 2.0, {"done": 3, "total": 65})
    store.save_job(job)
    store.save_head("265598|TRADES|rth", 345479400)
    store.save_not_found("NOPE|STK|SMART|USD", 2e9)
    assert store.jobs() == [job] and store.heads() == {"265598|TRADES|rth": 345479400}
    assert store.not_found() == {"NOPE|STK|SMART|USD": 2e9}
    store.delete_job(job.id)
    assert store.jobs() == []


# ---- the SQLite file -------------------------------------------------------------------------------------------

def test_a_read_right_after_a_write_sees_the_bars_the_writer_has_not_committed(
        tmp_path: Path, opened: Callable[..., SqliteStore]) -> None:
    path = tmp_path / "held.sqlite3"
    store = opened(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the file: the store's writer cannot commit meanwhile
    try:
        bars = make_bars(T0, 390)
        store.write(AAPL_1MIN, Span(T0, T0 + DAY), bars)
        assert orjson.loads(store.read(AAPL_1MIN, Span(T0, T0 + DAY)).json) == bars
        assert store.read(AAPL_1MIN, Span(T0 + 60, T0 + 180)).count == 2
        assert store.stats()["held_in_memory"] == 1 and store.stats()["writes_queued"] == 1
        assert other.execute("SELECT count(*) FROM blocks").fetchone()[0] == 0, "not on disk yet"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.flush(10)
    assert store.stats()["held_in_memory"] == 0, "committed: memory no longer holds them"
    assert orjson.loads(store.read(AAPL_1MIN, Span(T0, T0 + DAY)).json) == bars


def test_a_reopened_store_has_the_same_coverage_bars_and_records(tmp_path: Path,
                                                                   opened: Callable[..., SqliteStore]) -> None:
    path = tmp_path / "restart.sqlite3"
    store = SqliteStore(path, 1 << 30)
    for day in (0, 1, 3):
        start = T0 + day * 86400
        store.write(AAPL_1MIN, Span(start, start + 86400), make_bars(start, 390))
    store.write(AAPL_1MIN, Span(T0 + 2 * 86400, T0 + 3 * 86400), [])
    store.write(MSFT_1MIN, Span(T0, T0 + 3600), make_bars(T0, 60, seed=9))
    store.save_head("265598|TRADES|rth", 345479400)
    store.save_not_found("NOPE|STK|SMART|USD", 4e9)
    store.save_not_found("GONE|STK|SMART|USD", 1.0)  # long expired: not loaded again
    before = {k: (list(store.coverage(k)), store.read(k, Span(0, 2**40)).json) for k in (AAPL_1MIN, MSFT_1MIN)}
    store.close()
    again = opened(path)
    assert {k: (list(again.coverage(k)), again.read(k, Span(0, 2**40)).json) for k in (AAPL_1MIN, MSFT_1MIN)} == before
    assert list(again.coverage(AAPL_1MIN)) == [Span(T0, T0 + 4 * 86400)]
    assert again.heads() == {"265598|TRADES|rth": 345479400} and again.not_found() == {"NOPE|STK|SMART|USD": 4e9}
    assert again.stats()["bars"] == 3 * 390 + 60


def test_the_store_file_is_private_to_the_worker_user(tmp_path: Path, opened: Callable[..., SqliteStore]) -> None:
    path = tmp_path / "private.sqlite3"
    opened(path).write(AAPL_1MIN, Span(T0, T0 + DAY), make_bars(T0, 390))
    assert path.stat().st_mode & 0o777 == 0o600


def test_eviction_gives_the_space_back_to_the_file_system(tmp_path: Path, opened: Callable[..., SqliteStore]) -> None:
    path = tmp_path / "shrink.sqlite3"
    store = opened(path, max_bytes=4 << 20)
    for n in range(6):  # ~1.6 MB a series: the fourth evicts the first
        key = AAPL_1MIN.__class__(1000 + n, "SMART", "1 secs", "TRADES", True)
        store.write(key, Span(T0, T0 + 12_000), make_bars(T0, 12_000, step=1, seed=n))
        assert store.flush(30)
    stats = store.stats()
    assert stats["evicted_series"] >= 3 and stats["bytes"] <= 4 << 20
    assert store.flush(30)
    assert path.stat().st_size < 6 << 20, "freed pages went back (incremental vacuum), not only to a freelist"


def test_reads_and_the_coverage_load_use_the_index_never_a_full_scan(opened: Callable[..., SqliteStore]) -> None:
    store = opened()
    store.write(AAPL_1MIN, Span(T0, T0 + DAY), make_bars(T0, 390))
    assert store.flush(10)
    conn = store._conn
    read_plan = " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {READ_BLOCKS_SQL}", (1, T0, T0 + 60)))
    assert "SCAN blocks" not in read_plan and read_plan.count("SEARCH blocks USING") == 2, read_plan
    assert "USING INDEX blocks_by_series" in read_plan or "USING COVERING INDEX blocks_by_series" in read_plan
    load_plan = " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {LOAD_COVERAGE_SQL}"))
    assert load_plan == "SCAN blocks USING COVERING INDEX blocks_by_series", "index only: no block's bars are read"


DISK_FULL = """
import logging, resource, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")
from tests.worker.history.store_bars import AAPL_1MIN, T0, make_bars
from worker.history.coverage import Span
from worker.history.sqlite_store import SqliteStore
from worker.tws.pacing_ledger import SentRequest
path = Path(sys.argv[1])
store = SqliteStore(path, 1 << 30)
# the file system is full from here on: a write past this size fails (EFBIG; Python ignores SIGXFSZ)
limit = path.stat().st_size + 256 * 1024
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
bars = make_bars(T0, 20_000, step=1)
for n in range(10):
    store.write(AAPL_1MIN, Span(T0 + n * 2000, T0 + (n + 1) * 2000), bars[n * 2000:(n + 1) * 2000])
store.flush(30)
store.pacing_ledger.append(SentRequest(1.7e9, ("x",), ("g",), 60, 1))
got = store.read(AAPL_1MIN, Span(T0, T0 + 20_000))
assert got.count == 20_000 and got.json.count(b'"time"') == 20_000, got.count
assert store.coverage(AAPL_1MIN).covers(Span(T0, T0 + 20_000))
store.write(AAPL_1MIN, Span(T0 + 20_000, T0 + 20_060), make_bars(T0 + 20_000, 60, step=1))
assert store.read(AAPL_1MIN, Span(T0, T0 + 20_060)).count == 20_060
print("STATS", store.stats()["disk_error"] is not None)
store.close()
print("SURVIVED")
"""


def test_a_disk_that_fills_up_at_run_time_leaves_the_store_working_in_memory(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", DISK_FULL, str(tmp_path / "full.sqlite3")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "SURVIVED" in out and "STATS True" in out
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert any("cannot be written (OperationalError: disk I/O error)" in line and "in memory only" in line
               for line in errors), out
    assert len([e for e in errors if "bar store" in e]) == 1, "one line for the failure, not one per write"


# ---- tail writes join the latest block -------------------------------------------------------------------------

AAPL_1SEC = AAPL_1MIN.__class__(265598, "SMART", "1 secs", "TRADES", True)


def write_one_by_one(store: BarStore, bars: list[dict[str, Any]]) -> None:
    """As the desk writes the tail of a request ending now: each poll the bar completed since the last one."""
    for bar in bars:
        store.write(AAPL_1SEC, Span(bar["time"], bar["time"] + 1), [bar])


def block_rows(store: SqliteStore) -> list[tuple[int, int, int]]:
    assert store.flush(30)
    return list(store._conn.execute("SELECT span_start, span_end, count FROM blocks JOIN series ON series.id = "
                                    "blocks.series WHERE key = ? ORDER BY span_start", (AAPL_1SEC.text,)))


def test_a_thousand_adjacent_one_bar_writes_make_one_block_and_read_back_in_order(store: BarStore) -> None:
    bars = make_bars(T0, 1000, step=1)
    write_one_by_one(store, bars)
    assert store.stats()["blocks"] <= 2, "ceil(1000 / 5000) + 1"
    assert orjson.loads(store.read(AAPL_1SEC, Span(T0, T0 + 1000)).json) == bars
    assert list(store.coverage(AAPL_1SEC)) == [Span(T0, T0 + 1000)]
    assert store.read(AAPL_1SEC, Span(T0 + 500, T0 + 503)).count == 3
    assert store.stats()["bars"] == 1000


def test_joined_blocks_are_one_row_on_disk_and_stay_so_across_a_reopen(tmp_path: Path,
                                                                        opened: Callable[..., SqliteStore]) -> None:
    path = tmp_path / "tail.sqlite3"
    store = SqliteStore(path, 1 << 30)
    bars = make_bars(T0, 800, step=1)
    write_one_by_one(store, bars[:500])
    assert block_rows(store) == [(T0, T0 + 500, 500)]
    size = store.stats()["bytes"]
    assert size == len(orjson.dumps(bars[:500])) + BLOCK_OVERHEAD, "size accounting follows the joined block"
    store.close()
    again = opened(path)
    assert again.stats()["bytes"] == size and again.stats()["blocks"] == 1
    assert orjson.loads(again.read(AAPL_1SEC, Span(T0, T0 + 500)).json) == bars[:500]
    write_one_by_one(again, bars[500:])  # after a restart the tail goes on growing the block loaded at open
    assert block_rows(again) == [(T0, T0 + 800, 800)]
    assert orjson.loads(again.read(AAPL_1SEC, Span(T0, T0 + 800)).json) == bars


def test_a_gap_or_a_write_before_the_latest_block_starts_a_new_block(store: BarStore) -> None:
    bars = make_bars(T0, 40, step=1)
    store.write(AAPL_1SEC, Span(T0, T0 + 10), bars[:10])
    store.write(AAPL_1SEC, Span(T0 + 20, T0 + 30), bars[20:30])  # a gap of 10 s: not adjacent
    assert store.stats()["blocks"] == 2
    store.write(AAPL_1SEC, Span(T0 + 10, T0 + 20), bars[10:20])  # fills the gap: the latest block starts later
    assert store.stats()["blocks"] == 3
    store.write(AAPL_1SEC, Span(T0 + 30, T0 + 40), bars[30:40])  # where the latest ends: joins it
    assert store.stats()["blocks"] == 3
    assert list(store.coverage(AAPL_1SEC)) == [Span(T0, T0 + 40)]
    assert orjson.loads(store.read(AAPL_1SEC, Span(T0, T0 + 40)).json) == bars


def test_a_joined_block_never_passes_the_join_cap(store: BarStore) -> None:
    cap = MAX_JOINED_BARS
    bars = make_bars(T0, cap + 2, step=1)
    store.write(AAPL_1SEC, Span(T0, T0 + cap - 1), bars[:cap - 1])
    write_one_by_one(store, bars[cap - 1:])  # the first fills the block to the cap, the others start anew
    assert store.stats()["blocks"] == 2
    assert orjson.loads(store.read(AAPL_1SEC, Span(T0, T0 + cap + 2)).json) == bars
    if isinstance(store, SqliteStore):
        assert block_rows(store) == [(T0, T0 + cap, cap), (T0 + cap, T0 + cap + 2, 2)]


def test_a_read_while_merges_are_pending_sees_every_bar_once(tmp_path: Path, opened: Callable[..., SqliteStore],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pending.sqlite3"
    store = opened(path)
    bars = make_bars(T0, 700, step=1)
    write_one_by_one(store, bars[:100])
    assert store.flush(10)  # the block is on disk: the next pieces are held alone until the writer merged them
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the writer cannot commit meanwhile
    try:
        write_one_by_one(store, bars[100:400])
        fresh = AAPL_1SEC.__class__(8314, "SMART", "1 secs", "TRADES", True)
        for bar in bars[:300]:  # a new series: its block is held whole and grows in memory
            store.write(fresh, Span(bar["time"], bar["time"] + 1), [bar])
        assert orjson.loads(store.read(AAPL_1SEC, Span(T0, T0 + 400)).json) == bars[:400]
        assert times(store.read(AAPL_1SEC, Span(T0 + 50, T0 + 150))) == list(range(T0 + 50, T0 + 150))
        assert store.read(AAPL_1SEC, Span(T0, T0 + 400), limit=250).next_time == T0 + 250
        assert orjson.loads(store.read(fresh, Span(T0, T0 + 300)).json) == bars[:300]
        assert other.execute("SELECT count(*) FROM blocks").fetchone()[0] == 1, "nothing more on disk yet"
    finally:
        other.execute("ROLLBACK")
        other.close()
    write_one_by_one(store, bars[400:])
    # the writer has committed everything, but the owner has not taken its reports: the disk's block reaches past
    # the pieces still held, and each bar is read once
    done = threading.Event()
    store._writer.put(("flush", done))
    assert done.wait(10)
    monkeypatch.setattr(store, "_drain", lambda: None)
    assert orjson.loads(store.read(AAPL_1SEC, Span(T0, T0 + 700)).json) == bars
    assert times(store.read(AAPL_1SEC, Span(T0 + 450, T0 + 460))) == list(range(T0 + 450, T0 + 460))
    monkeypatch.undo()
    assert store.stats()["held_in_memory"] == 0
    assert orjson.loads(store.read(AAPL_1SEC, Span(T0, T0 + 700)).json) == bars
    assert block_rows(store) == [(T0, T0 + 700, 700)]


def test_a_merged_block_is_found_by_the_index(opened: Callable[..., SqliteStore]) -> None:
    store = opened()
    write_one_by_one(store, make_bars(T0, 3, step=1))
    assert store.flush(10)
    plan = " / ".join(row[3] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {JOIN_BLOCK_SQL}", (1, T0)))
    assert plan.startswith("SEARCH blocks USING INDEX blocks_by_series (series=? AND span_start=?)"), plan
