"""The history bench's arithmetic and report on fixed inputs: IB's minimum for a fill, the page token read from a raw
answer, and issue 10's targets judged. No timing here (`make bench` / `make bench-history` measure)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report
from bench.history import _start_of_last, minimum_seconds, ny, page_token


def test_65_windows_of_1_sec_bars_take_ibs_10_minute_window_at_least() -> None:
    # 60 go in batches of 5 every 2 s (the same-contract rule); the 61st waits for the first to leave the 10 minutes
    assert minimum_seconds(65, 1, 1.0) == pytest.approx(600.0)
    assert minimum_seconds(60, 1, 1.0) == pytest.approx(22.0)
    assert minimum_seconds(65, 1, 0.1) == pytest.approx(60.0)  # every window scaled, never a count


def test_windows_of_1_min_bars_are_paced_by_the_same_contract_rule_only() -> None:
    assert minimum_seconds(250, 60, 1.0) == pytest.approx(98.0)
    assert minimum_seconds(250, 60, 1.0, margin=0.25) == pytest.approx(49 * 2.25)


def test_the_page_token_is_read_from_the_end_of_a_raw_answer() -> None:
    assert page_token(b'{"bars":[{"date":"x"}],"count":1,"next_page_token":"eyJ2IjoxfQ","success":true}') == \
        "eyJ2IjoxfQ"
    assert page_token(b'{"bars":[],"count":0,"next_page_token":null}') is None
    assert page_token(b'{"bars":[],"count":0}') is None


def test_the_store_hit_range_holds_exactly_the_bars_asked() -> None:
    start = _start_of_last(100_000)
    assert ny("2023-12-01 09:30") < start < ny("2024-02-01 16:00")
    assert _start_of_last(390) == ny("2025-01-31 09:30")  # one full session


HISTORY: dict[str, Any] = {
    "pacing_scale": 0.1, "clock": "2025-02-04T12:00:00-05:00",
    "fill_rate": {"sessions": 5, "windows": 65, "answered": "202 job", "wall_s": 64.0, "minimum_s": 60.0,
                  "minimum_with_margin_s": 60.25, "upstream_requests": 65, "pacing_violations": 0},
    "year": {"duration": "1 Y", "wall_s": 25.0, "upstream_requests": 252, "windows_with_sessions": 251,
             "bars_expected": 97_000, "bars_stored": 97_000, "store_write_bars_per_s": 3880.0, "writes_queued_max": 2,
             "minimum_s": 10.0, "minimum_with_margin_s": 22.0},
    "store_hit": {"bars": 100_000, "pages": 2, "reps": 3, "store_bars_per_s": 600_000.0,
                  "memory_bars_per_s": 800_000.0, "memory_samples": 30, "ratio": 0.75,
                  "http_cache_bars_per_s": 6_000_000.0, "http_cache_samples": 18, "ratio_to_http_cache": 0.1,
                  "upstream_requests_while_measured": 0},
    "restart": {"requests": 30, "first_run_upstream": 30, "after_restart_upstream": 0, "statuses": [200],
                "same_bars": True, "after_restart_s": 0.4},
    "store": {"bars": 120_000, "file_bytes": 3_600_000, "bytes_per_bar": 30.0, "series": 4, "writes": 300},
}


def test_history_targets_judge_each_figure_against_issue_10() -> None:
    judged = {t["target"]: t["met"] for t in report.history_targets(HISTORY)}
    assert judged == {
        "fill 65 windows of 1-sec bars: within 10% of IB's minimum": True,  # 64 s of 60 s
        "fill: zero pacing violations": True,
        "1 min x 1 Y: upstream requests = windows that hold sessions": False,  # one too many
        "store hit, 100000 1-min bars through HTTP: bars/s": True,
        "store hit (warm bridge, caches off): >= 0.8x the worker's memory cache's bars/s": False,  # 0.75x
        "restart: the same 30 requests, upstream historical requests": True,
    }


def test_the_history_table_shows_every_figure_and_what_it_is_measured_against() -> None:
    text = report.history_table(HISTORY)
    assert "7. History" in text and "x0.1" in text
    assert "| 64.0 s | IB's minimum 60.0 s" in text
    assert "252 upstream requests for 251 sessions" in text
    assert "600,000 bars/s | the worker's memory cache 800,000 bars/s (0.75x, 30 runs)" in text
    assert "an HTTP worker's answer cache 6,000,000 bars/s (0.10x, 18 runs)" in text
    assert "| 30.0 bytes/bar |" in text
