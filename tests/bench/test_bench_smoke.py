"""The bench's statistics and its report, on fixed inputs: what the numbers in docs/benchmarks.md are computed by.

No timing here: the bench itself runs with `make bench` / `make bench-quick`, never as a test.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import report
from bench.stats import compare, latency_summary, percentile, rate


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # order does not matter
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_percentile_of_one_value_and_of_none() -> None:
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_reports_milliseconds() -> None:
    s = latency_summary([0.001, 0.002, 0.003, 0.010])
    assert s["n"] == 4
    assert s["p50_ms"] == pytest.approx(2.5)
    assert s["mean_ms"] == pytest.approx(4.0)
    assert (s["min_ms"], s["max_ms"]) == (pytest.approx(1.0), pytest.approx(10.0))
    assert math.isnan(latency_summary([])["p99_ms"])


def test_compare_gives_ratio_and_difference() -> None:
    assert compare({"p50_ms": 6.0}, {"p50_ms": 4.0}, "p50_ms") == {"ratio": 1.5, "diff": 2.0}
    assert compare({"x": 1.0}, {"x": 0.0}, "x")["ratio"] == math.inf


def test_rate_of_an_empty_interval_is_zero() -> None:
    assert rate(500, 2.0) == 250.0
    assert rate(5, 0.0) == 0.0


def _load(conc: int, rps: float, upstream: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"tool": "wrk", "concurrency": conc, "requests": int(rps * 2), "seconds": 2.0, "rps": rps,
                           "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0}
    if upstream is not None:
        row["upstream_requests"] = upstream
        row["served_from"] = "memory" if upstream == 0 else "TWS (miss: no cache yet)"
    return row


RESULTS: dict[str, Any] = {
    "meta": {"mode": "quick", "machine": {"cpu": "Test CPU", "nproc": 2, "python": "3.11.7"}, "ibapi": "ibapi 9.81",
             "load_generator": "wrk 4.1.0", "bridge": "4 workers", "simulator": "--no-pacing", "hit_seconds": 2,
             "elapsed_s": 30.0},
    "miss_path": {"requests": 10, "bars_per_answer": [78],
                  "bridge": latency_summary([0.006] * 10), "direct": latency_summary([0.004] * 10),
                  "p50": {"ratio": 1.5, "diff": 2.0}, "p99": {"ratio": 1.5, "diff": 2.0}},
    "hit_path": {"cached": [_load(64, 3000, 0)], "forming": [_load(64, 1000, 5)], "trivial": [_load(64, 4000)]},
    "large_answers": {"1 min x 1 W": {"requests": 1, "ratio": 0.8, "bridge": {"bars": 4800, "bars_per_s": 8000},
                                      "direct": {"bars": 4800, "bars_per_s": 10000}}},
    "coalescing": {"concurrent": 100, "upstream_requests": 1, "wall_s": 0.1, "alone_s": 0.01,
                   "alone_upstream_requests": 1, "ok_answers": 100, "distinct_answers": 1},
    "memory": {"before": {"worker_mb": 30.0, "http_workers": {"1": 40.0}, "http_workers_total_mb": 40.0},
               "after": {"worker_mb": 35.5, "http_workers": {"1": 42.0}, "http_workers_total_mb": 42.0}},
}


def test_targets_judge_each_figure_against_the_issue() -> None:
    judged = {t["target"]: t["met"] for t in report.targets(RESULTS)}
    assert judged == {
        "miss p50 within 3 ms of direct": True,
        "hit (cached) at 64: >= 75% of trivial req/s": True,  # 3000 of 4000
        "hit (forming) at 64: >= 75% of trivial req/s [measured on misses]": False,  # 1000 of 4000, and upstream 5
        "large 1 min x 1 W: >= 0.7x direct bars/s": True,
        "100 identical misses: one upstream request": True,
    }


def test_table_shows_every_section() -> None:
    text = report.table({**RESULTS, "targets": report.targets(RESULTS)})
    for heading in ("1. Miss path", "2. Hit path", "3. Large answers", "4. Coalescing", "5. Memory", "Targets"):
        assert heading in text
    assert "| bridge - direct | +2.00 |" in text
    assert "| TWS worker | 30.0 | 35.5 | 5.5 |" in text


STREAMS: dict[str, Any] = {
    "update_interval_s": 0.1,
    "latency": {"clients": 100, "series": 1, "events_measured": 2000, **latency_summary([0.0015] * 98 + [0.02] * 2)},
    "fanout": {"clients": 1000, "series": 10, "seconds": 20.0, "bridge_cores": 0.62, "max_behind": 2,
               "reads_behind_more_than_1": 3, "rss_per_client_kb": 21.5},
}


def test_stream_targets_judge_latency_cpu_and_lag() -> None:
    judged = {t["target"]: t["met"] for t in report.stream_targets(STREAMS)}
    assert judged == {
        "stream latency p50 at 100 clients": True,  # 1.5 ms
        "stream latency p99 at 100 clients": False,  # two events of 100 at 20 ms: p99 is past 10 ms
        "fan-out 1000 clients x 10 series: bridge CPU": True,
        "fan-out: no client behind by more than one update": False,
    }


def test_table_shows_the_streams() -> None:
    results = {**RESULTS, "streams": STREAMS}
    text = report.table({**results, "targets": report.targets(results)})
    assert "6. Streams" in text and "| 20 s | 1000 | 10 | 0.62 | 2 | 3 | 21.5 |" in text
