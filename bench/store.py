"""`python -m bench.store [--quick] [--bars N]`: the SQLite bar store alone (issue 10): bytes on disk per bar and
write rate for 1-sec and 1-min bars, the read rate of a 50,000-bar read (the stored JSON passed through, and zlib's
figures beside it), the pacing ledger's append while the writer is busy, and a 10-million-bar store: time to fill,
file size, time to open (the coverage load) and a 1-day read in the middle.

Runs in-process on a temporary directory; prints a table and writes bench/results/store.json."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import percentile
from worker.history import store_schema
from worker.history.coverage import Span
from worker.history.sqlite_store import SqliteStore
from worker.history.store import SeriesKey
from worker.tws.pacing_ledger import SentRequest

T0 = 1_738_074_600  # 2025-01-28 09:30 New York
SESSION = 23_400  # a regular session, seconds
OUT = Path(__file__).resolve().parent / "results" / "store.json"


def key(con_id: int, bar_size: str) -> SeriesKey:
    return SeriesKey(con_id, "SMART", bar_size, "TRADES", True)


def session_bars(day: int, step: int, rng: random.Random) -> list[dict[str, Any]]:
    """One regular session of bars `step` seconds apart, as the worker writes them (a random walk)."""
    start = T0 + day * 86_400
    price = 100.0 + rng.random() * 50
    bars = []
    for t in range(start, start + SESSION, step):
        price += rng.gauss(0, 0.02)
        o = round(price, 2)
        c = round(price + rng.gauss(0, 0.02), 2)
        bars.append({"date": time.strftime("%Y%m%d %H:%M:%S", time.gmtime(t - 18_000)), "time": t,
                     "datetime": time.strftime("%Y-%m-%dT%H:%M:%S-05:00", time.gmtime(t - 18_000)), "open": o,
                     "high": round(max(o, c) + 0.01, 2), "low": round(min(o, c) - 0.01, 2), "close": c,
                     "volume": rng.randint(1, 5_000) * (60 if step == 60 else 1), "wap": round((o + c) / 2, 4),
                     "count": rng.randint(1, 200)})
    return bars


def windows(day: int, bars: list[dict[str, Any]], seconds: int) -> list[tuple[Span, list[dict[str, Any]]]]:
    """The session's bars cut as the planner's windows answer them (1800 S for 1-sec bars, 1 D for 1-min)."""
    start = T0 + day * 86_400
    out = []
    for a in range(start, start + SESSION, seconds):
        span = Span(a, min(a + seconds, start + SESSION))
        out.append((span, [b for b in bars if span.start <= b["time"] < span.end]))
    return out


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def write_rate(tmp: Path, step: int, window: int, days: int) -> dict[str, Any]:
    rng = random.Random(step)
    work = [w for day in range(days) for w in windows(day, session_bars(day, step, rng), window)]
    bars = sum(len(b) for _, b in work)
    path = tmp / f"write-{step}.sqlite3"
    store = SqliteStore(path, 1 << 40)
    started = time.perf_counter()
    owner = 0.0
    for span, chunk in work:
        t = time.perf_counter()
        store.write(key(1, "1 secs" if step == 1 else "1 min"), span, chunk)
        owner += time.perf_counter() - t
    assert store.flush(600)
    took = time.perf_counter() - started
    store.close()  # checkpointed: the WAL copied into the file
    size = file_bytes(path)
    return {"bars": bars, "writes": len(work), "seconds": round(took, 3), "bars_per_s": round(bars / took),
            "owner_ms_per_write": round(owner / len(work) * 1e3, 3), "file_bytes": size,
            "bytes_per_bar": round(size / bars, 1)}


def read_rate(tmp: Path, codec: int, reps: int) -> dict[str, Any]:
    """A 50,000-bar read of 1-sec bars (28 windows' blocks): everything inside passes through as bytes."""
    store_schema.BLOCK_CODEC = codec
    try:
        rng = random.Random(7)
        path = tmp / f"read-{codec}.sqlite3"
        store = SqliteStore(path, 1 << 40)
        series = key(2, "1 secs")
        for day in range(3):
            for span, chunk in windows(day, session_bars(day, 1, rng), 1800):
                store.write(series, span, chunk)
        assert store.flush(600)
        store.close()
        size = file_bytes(path)
        store = SqliteStore(path, 1 << 40)
        span = Span(T0 + 100, T0 + 2 * 86_400 + SESSION)  # from inside the first block (an edge), limit cuts the third
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            got = store.read(series, span, limit=50_000)
            times.append(time.perf_counter() - t)
        store.close()
        assert got.count == 50_000, got.count
        best = statistics.median(times)
        return {"codec": "zlib" if codec == store_schema.CODEC_ZLIB else "json", "bars": got.count,
                "median_ms": round(best * 1e3, 2), "bars_per_s": round(got.count / best),
                "bytes_per_bar": round(size / (3 * SESSION), 1), "json_bytes": len(got.json)}
    finally:
        store_schema.BLOCK_CODEC = store_schema.CODEC_JSON


def tail_writes(tmp: Path, n: int) -> dict[str, Any]:
    """`n` one-bar writes of 1-sec bars, each starting where the last ended (the desk's tail after each poll's TTL):
    the block rows they leave on disk and the time from the first write to flushed."""
    bars = session_bars(0, 1, random.Random(5))[:n]
    path = tmp / "tail.sqlite3"
    store = SqliteStore(path, 1 << 40)
    started = time.perf_counter()
    for bar in bars:
        store.write(key(4, "1 secs"), Span(bar["time"], bar["time"] + 1), [bar])
    assert store.flush(600)
    took = time.perf_counter() - started
    rows = store._conn.execute("SELECT count(*) FROM blocks").fetchone()[0]
    store.close()
    return {"writes": n, "rows": rows, "seconds": round(took, 3), "ms_per_write": round(took / n * 1e3, 3),
            "file_bytes": file_bytes(path)}


def ledger_appends(tmp: Path, n: int) -> dict[str, Any]:
    """The ledger's append (committed before it returns) while the writer commits 1-sec windows at the same time."""
    store = SqliteStore(tmp / "ledger.sqlite3", 1 << 40)
    rng = random.Random(3)
    work = [w for day in range(4) for w in windows(day, session_bars(day, 1, rng), 1800)]
    times = []
    for i in range(n):
        if i % 4 == 0 and work:
            store.write(key(3, "1 secs"), *work.pop())
        t = time.perf_counter()
        store.pacing_ledger.append(SentRequest(1.7e9 + i, ("r", i), ("g",), 1, 1))
        times.append(time.perf_counter() - t)
    store.close()
    return {"appends": n, "p50_ms": round(percentile(times, 50) * 1e3, 3),
            "p99_ms": round(percentile(times, 99) * 1e3, 3), "max_ms": round(max(times) * 1e3, 3)}


def big_store(tmp: Path, total: int) -> dict[str, Any]:
    """`total` 1-min bars in 10 series (one session a write), then a reopen and a 1-day read in the middle."""
    path = tmp / "big.sqlite3"
    store = SqliteStore(path, 1 << 40)
    rng = random.Random(11)
    per_series = total // 10
    days = per_series // 390
    template = [session_bars(0, 60, rng) for _ in range(20)]  # 20 sessions of prices, cycled (dates not shifted)
    started = time.perf_counter()
    for series in range(10):
        for day in range(days):
            shift = day * 86_400
            bars = [{**b, "time": b["time"] + shift} for b in template[day % 20]]
            span = Span(T0 + shift, T0 + shift + 86_400)
            store.write(key(100 + series, "1 min"), span, bars)
    assert store.flush(3600)
    fill = time.perf_counter() - started
    store.close()
    size = file_bytes(path)
    t = time.perf_counter()
    store = SqliteStore(path, 1 << 40)
    opened = time.perf_counter() - t
    mid = T0 + (days // 2) * 86_400
    reads = []
    for _ in range(20):
        t = time.perf_counter()
        got = store.read(key(105, "1 min"), Span(mid, mid + 86_400))
        reads.append(time.perf_counter() - t)
    bars_total = store.stats()["bars"]
    store.close()
    assert got.count == 390
    return {"bars": bars_total, "series": 10, "fill_seconds": round(fill, 1),
            "fill_bars_per_s": round(bars_total / fill),
            "file_bytes": size, "file_gb": round(size / 1e9, 3), "bytes_per_bar": round(size / bars_total, 1),
            "open_seconds": round(opened, 3), "one_day_read_ms": round(statistics.median(reads) * 1e3, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small runs (a smoke test, not a result)")
    p.add_argument("--bars", type=int, default=None, help="bars in the big store (default 10,000,000; quick 200,000)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    total = args.bars or (200_000 if args.quick else 10_000_000)
    results: dict[str, Any] = {"meta": {"mode": "quick" if args.quick else "full",
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    with tempfile.TemporaryDirectory(prefix="tws-bench-store-") as tmp:
        d = Path(tmp)
        results["write_1_sec"] = write_rate(d, 1, 1800, 1 if args.quick else 5)
        results["write_1_min"] = write_rate(d, 60, SESSION, 20 if args.quick else 250)
        reps = 3 if args.quick else 15
        results["read_50000"] = [read_rate(d, store_schema.CODEC_JSON, reps), read_rate(d, store_schema.CODEC_ZLIB,
                                                                                             reps)]
        results["tail_writes"] = tail_writes(d, 1000)
        results["ledger_append"] = ledger_appends(d, 200 if args.quick else 2000)
        results["big_store"] = big_store(d, total)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def table(r: dict[str, Any]) -> str:
    w1, w60, big, led = r["write_1_sec"], r["write_1_min"], r["big_store"], r["ledger_append"]
    rows = [
        "| figure | value |", "|---|---|",
        f"| 1-sec bars: bytes on disk per bar | {w1['bytes_per_bar']} |",
        f"| 1-sec bars: write rate (write() to flushed) | {w1['bars_per_s']:,} bars/s ({w1['bars']:,} bars, "
        f"{w1['owner_ms_per_write']} ms on the owner thread a write) |",
        f"| 1-min bars: bytes on disk per bar | {w60['bytes_per_bar']} |",
        f"| 1-min bars: write rate | {w60['bars_per_s']:,} bars/s ({w60['bars']:,} bars, "
        f"{w60['owner_ms_per_write']} ms on the owner thread a write) |",
    ]
    tail = r["tail_writes"]
    rows.append(f"| {tail['writes']:,} one-bar tail writes: rows, time | {tail['rows']} block rows, "
                f"{tail['seconds']} s ({tail['ms_per_write']} ms a write, to flushed) |")
    for read in r["read_50000"]:
        rows.append(f"| 50,000-bar read, blocks as {read['codec']} | {read['median_ms']} ms = {read['bars_per_s']:,} "
                    f"bars/s ({read['bytes_per_bar']} bytes a bar on disk) |")
    rows += [
        f"| pacing ledger append, writer busy | p50 {led['p50_ms']} ms, p99 {led['p99_ms']} ms, max {led['max_ms']} "
        f"ms ({led['appends']} appends) |",
        f"| {big['bars']:,}-bar store: fill | {big['fill_seconds']} s ({big['fill_bars_per_s']:,} bars/s) |",
        f"| {big['bars']:,}-bar store: file | {big['file_gb']} GB ({big['bytes_per_bar']} bytes a bar) |",
        f"| {big['bars']:,}-bar store: open (coverage load) | {big['open_seconds']} s |",
        f"| {big['bars']:,}-bar store: a 1-day read in the middle | {big['one_day_read_ms']} ms |",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
