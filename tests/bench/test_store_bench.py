"""The store bench's figures, on a small store: what it measures is what it says (counts, not timings)."""

from __future__ import annotations

from pathlib import Path

from bench import store


def test_the_big_store_holds_every_bar_written_and_reads_one_session_back(tmp_path: Path) -> None:
    figures = store.big_store(tmp_path, 39_000)
    assert figures["bars"] == 39_000 and figures["series"] == 10
    assert figures["file_bytes"] > 39_000 * 100 and figures["bytes_per_bar"] == round(figures["file_bytes"] / 39_000, 1)


def test_the_write_figures_count_the_bars_of_every_window(tmp_path: Path) -> None:
    figures = store.write_rate(tmp_path, 1, 1800, 1)
    assert figures["bars"] == 23_400 and figures["writes"] == 13


def test_the_table_has_a_row_per_figure() -> None:
    write = {"bars": 10, "bars_per_s": 1000, "owner_ms_per_write": 0.5, "bytes_per_bar": 140.0}
    read = {"codec": "json", "median_ms": 20.0, "bars_per_s": 2_500_000, "bytes_per_bar": 140.0}
    big = {"bars": 10_000_000, "fill_seconds": 30.0, "fill_bars_per_s": 333_333, "file_gb": 1.4,
           "bytes_per_bar": 140.0, "open_seconds": 0.1, "one_day_read_ms": 0.05}
    rows = store.table({"write_1_sec": write, "write_1_min": write, "read_50000": [read], "big_store": big,
                        "ledger_append": {"p50_ms": 0.03, "p99_ms": 2.0, "max_ms": 5.0, "appends": 100},
                        "tail_writes": {"writes": 1000, "rows": 1, "seconds": 0.1, "ms_per_write": 0.1}}).splitlines()
    assert len(rows) == 2 + 4 + 1 + 1 + 1 + 4
    assert "| 1,000 one-bar tail writes: rows, time | 1 block rows, 0.1 s (0.1 ms a write, to flushed) |" in rows
    assert "| 10,000,000-bar store: open (coverage load) | 0.1 s |" in rows
