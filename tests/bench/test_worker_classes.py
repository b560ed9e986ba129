"""The worker-class comparison's table says what was measured, and which health requests did not answer in time."""

from __future__ import annotations

from bench import worker_classes


def _health(p50: float, worst: float, timed_out: int) -> dict[str, float | int]:
    return {"clients": 1000, "p50_ms": p50, "max_ms": worst, "timed_out": timed_out, "samples": 5}


def test_the_table_has_a_row_per_class_with_its_timeouts_counted() -> None:
    results = {
        "gthread, 8 threads": {"rps_at_64": 3000, "p99_ms_at_64": 30.0, "rss_kb_per_idle_connection": 3.5,
                               "health_with_slow_loris": _health(10000.0, 10000.0, 5),
                               "health_with_waiting": _health(10000.0, 10000.0, 5)},
        "gevent": {"rps_at_64": 3200, "p99_ms_at_64": 25.0, "rss_kb_per_idle_connection": None,
                   "health_with_slow_loris": _health(1.2, 2.5, 0), "health_with_waiting": _health(1.1, 1.9, 0)},
    }
    rows = worker_classes.table(results).splitlines()
    assert len(rows) == 4
    assert rows[2] == ("| gthread, 8 threads | 3000 | 30.0 ms | 10000.0 / 10000.0 ms (5/5 > 10 s) | "
                       "10000.0 / 10000.0 ms (5/5 > 10 s) | 3.5 KB |")
    assert rows[3] == "| gevent | 3200 | 25.0 ms | 1.2 / 2.5 ms | 1.1 / 1.9 ms | - |"
