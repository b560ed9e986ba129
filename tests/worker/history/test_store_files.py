"""Which store the worker gets: the SQLite file, or memory when the setting is empty or the file cannot be our store;
such a file is moved aside (`<path>.corrupt-<UTC time>`) with one ERROR line naming both paths and the reason, and the
worker goes on."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.config import BridgeConfig
from tests.worker.history.store_bars import AAPL_1MIN, T0, make_bars
from worker.history.coverage import Span
from worker.history.memory_store import MemoryStore
from worker.history.sqlite_store import SqliteStore
from worker.history.store import JobRecord
from worker.history.store_files import open_store
from worker.history.store_schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[3]


def config(path: Path | str) -> BridgeConfig:
    return BridgeConfig(store_path=str(path), store_max_gb=1)


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def another_program(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()


def another_version(path: Path) -> None:
    SqliteStore(path, 1 << 20).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


def a_directory(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("x")


def a_damaged_header(path: Path) -> None:
    SqliteStore(path, 1 << 20).close()
    with path.open("r+b") as f:  # the header's page size and the first page after it
        f.seek(16)
        f.write(b"\xff" * 200)


@pytest.mark.parametrize(("make", "reason"), [
    (garbage, "not a SQLite file"),
    (another_program, "another program"),
    (another_version, f"schema version {SCHEMA_VERSION + 1}"),
    (a_directory, "a directory"),
    (a_damaged_header, "DatabaseError"),
])
def test_a_file_that_cannot_be_the_store_is_moved_aside_and_the_worker_goes_on_in_memory(
        make: Callable[[Path], None], reason: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bars.sqlite3"
    make(path)
    with caplog.at_level(logging.INFO, "tws.bar_store"):
        store = open_store(config(path))
    assert isinstance(store, MemoryStore) and store.location is None
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("bars.sqlite3.corrupt-")]
    assert len(aside) == 1 and not path.exists()
    assert aside[0].name[len("bars.sqlite3.corrupt-"):].endswith("Z")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(path) in errors[0] and str(aside[0]) in errors[0] and reason in errors[0], errors[0]
    store.write(AAPL_1MIN, Span(T0, T0 + 3600), make_bars(T0, 60))  # and it works, in memory
    assert store.read(AAPL_1MIN, Span(T0, T0 + 3600)).count == 60
    again = open_store(config(path))  # the next start finds the place free: a new store
    assert isinstance(again, SqliteStore)
    again.close()


NO_PERMISSION = """
import logging, os, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")
from shared.config import BridgeConfig
from worker.history.store_files import open_store
if os.getuid() == 0:  # imported first: the interpreter's own files may not be readable by nobody
    os.setgid(65534)
    os.setuid(65534)  # root may read anything: the worker's user may not
store = open_store(BridgeConfig(store_path=sys.argv[1]))
print("STORE", type(store).__name__)
"""


def test_a_file_the_worker_may_not_read_is_moved_aside(tmp_path: Path) -> None:
    place = Path(tempfile.mkdtemp(prefix="tws-store-perm-"))  # outside pytest's 0700 tree: reachable after setuid
    try:
        place.chmod(0o777)
        path = place / "bars.sqlite3"
        SqliteStore(path, 1 << 20).close()
        path.chmod(0o000)
        done = subprocess.run([sys.executable, "-c", NO_PERMISSION, str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        out = done.stdout + done.stderr
        assert done.returncode == 0, out
        assert "STORE MemoryStore" in out
        errors = [line for line in out.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 1 and str(path) in errors[0] and ".corrupt-" in errors[0], out
        assert "unable to open" in errors[0] or "ermission" in errors[0], errors[0]
        assert not path.exists()
    finally:
        for p in place.iterdir():
            p.unlink()
        place.rmdir()


def test_an_empty_setting_is_a_memory_store(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "tws.bar_store"):
        store = open_store(BridgeConfig(store_path=""))
    assert isinstance(store, MemoryStore)
    assert "memory only" in caplog.text and not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_directory_is_made_private_and_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tws-bridge" / "bars-3003.sqlite3"
    store = open_store(config(path))
    try:
        assert isinstance(store, SqliteStore) and store.location == str(path)
        assert path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        store.close()


def test_a_store_of_version_1_is_upgraded_keeping_the_pacing_ledger_and_dropping_bars_without_datetime(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from worker.tws.pacing_ledger import SentRequest
    path = tmp_path / "bars.sqlite3"
    old = SqliteStore(path, 1 << 20)
    old.write(AAPL_1MIN, Span(T0, T0 + 3600), make_bars(T0, 60))
    old.save_head("265598|TRADES|rth", 345479400)
    old.save_job(JobRecord("a" * 32, {"symbol": "AAPL"}, "running", 1.0, 2.0, {"done": 3, "total": 65}))
    sent = SentRequest(1.7e9, ("x",), ("g",), 60, 1)
    old.pacing_ledger.append(sent)
    assert old.flush(10)
    old.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")  # as the bridge before issue 11 left it
    conn.commit()
    conn.close()
    with caplog.at_level(logging.INFO, "tws.bar_store"):
        store = open_store(config(path))
    try:
        assert isinstance(store, SqliteStore), "upgraded in place, not moved aside"
        assert not list(tmp_path.glob("*.corrupt-*"))
        assert "schema version 1 upgraded to 2" in caplog.text
        assert list(store.coverage(AAPL_1MIN)) == [] and store.jobs() == []
        assert store.heads() == {"265598|TRADES|rth": 345479400}
        assert store.pacing_ledger.load() == [sent]
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
