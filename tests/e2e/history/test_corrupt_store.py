"""A corrupt store file does not stop the bridge: the file is moved aside (kept beside it for a look) with a clear log
line naming it, and the bridge serves bars, from memory only.

tests/e2e/test_store_files.py covers a file that is no SQLite file at all; here the file starts as a SQLite database
does (its 16-byte header) and its pages are nonsense: the corruption SQLite may only find when it reads them."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.history import sim_series
from tests.e2e.history.rig import sim_now
from tests.e2e.history.sim_series import ny

BROKEN_SQLITE = b"SQLite format 3\x00" + bytes(range(256)) * 64  # the header, then nonsense pages


def test_a_sqlite_file_with_broken_pages_is_moved_aside_and_the_bridge_serves_bars(make_sim, make_history_bridge,
                                                                                     tmp_path: Path) -> None:
    content = BROKEN_SQLITE
    store = tmp_path / "state" / "bars.sqlite3"
    store.parent.mkdir()
    store.write_bytes(content)
    tws = make_sim()
    bridge = make_history_bridge(tws, store=store)
    answer = bridge.bars(symbol="AAPL", period="1m", duration="1 D", end_datetime="20250203 16:00:00")
    assert answer.status == 200, answer.body
    assert answer.body["bars"] == sim_series.series("AAPL", "1 min", ny("2025-02-03 09:30"), ny("2025-02-03 16:00"),
                                                    sim_now(tws))
    aside = [p for p in store.parent.iterdir() if p.name.startswith("bars.sqlite3.corrupt")]
    assert [p.read_bytes() for p in aside] == [content], "the file is kept, out of the way"
    log = bridge.log_path.read_text(errors="replace")
    assert any(str(store) in line and "ERROR" in line and str(aside[0]) in line for line in log.splitlines()), log
    assert bridge.get("/health").body["connected"] is True
