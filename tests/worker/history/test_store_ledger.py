"""The pacing ledger in the bar store: each append committed before it returns (so a worker killed right after it
leaves the record behind), read back by the next worker; records that are not ours are skipped with one warning."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from worker.history.sqlite_store import SqliteStore
from worker.tws.pacing_ledger import SentRequest, decode, encode

ROOT = Path(__file__).resolve().parents[3]
SENT = SentRequest(1738080000.25, (265598, "SMART", "", "1 min", "1 D", True, "TRADES", False),
                   (265598, "SMART", "TRADES"), 60, 1)
BID_ASK = SentRequest(1738080001.5, (8314, "SMART", "", "5 secs", "1800 S", True, "BID_ASK", False),
                      (8314, "SMART", "BID_ASK"), 5, 2)


def test_records_come_back_as_they_were_written_in_the_next_worker(tmp_path: Path) -> None:
    path = tmp_path / "bars.sqlite3"
    store = SqliteStore(path, 1 << 20)
    assert store.pacing_ledger.load() == [] and store.pacing_ledger.location == str(path)
    store.pacing_ledger.append(SENT)
    store.pacing_ledger.append(BID_ASK)
    store.close()
    again = SqliteStore(path, 1 << 20)
    try:
        assert again.pacing_ledger.load() == [SENT, BID_ASK]
    finally:
        again.close()


def test_an_append_is_committed_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "bars.sqlite3"
    store = SqliteStore(path, 1 << 20)
    try:
        store.pacing_ledger.append(SENT)
        other = sqlite3.connect(path)  # another process's view, at once: no flush, no close
        assert [decode(r[0].encode()) for r in other.execute("SELECT record FROM pacing")] == [SENT]
        other.close()
    finally:
        store.close()


KILLED = """
import os, signal, sys
from pathlib import Path
from worker.history.sqlite_store import SqliteStore
from worker.tws.pacing_ledger import SentRequest
store = SqliteStore(Path(sys.argv[1]), 1 << 20)
store.pacing_ledger.append(SentRequest{sent!r})
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_record_survives_kill_9_right_after_it_was_appended(tmp_path: Path) -> None:
    """No fsync: the commit is in the WAL, which the file system has once the write returned."""
    path = tmp_path / "bars.sqlite3"
    script = KILLED.format(sent=(SENT.wall, SENT.identity, SENT.group, SENT.bar_seconds, SENT.weight))
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, timeout=30)
    assert done.returncode == -9
    store = SqliteStore(path, 1 << 20)
    try:
        assert store.pacing_ledger.load() == [SENT]
    finally:
        store.close()


def test_rewrite_replaces_the_records(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bars.sqlite3", 1 << 20)
    try:
        for sent in (SENT, BID_ASK, SENT):
            store.pacing_ledger.append(sent)
        store.pacing_ledger.rewrite([BID_ASK])
        store.pacing_ledger.append(SENT)
        assert store.pacing_ledger.load() == [BID_ASK, SENT]
    finally:
        store.close()


@pytest.mark.parametrize("record", ["{\"t\": 1", "[1, 2]", "{\"t\": 1, \"i\": [], \"g\": [], \"s\": 5, \"w\": 3}"])
def test_a_record_that_is_not_one_is_skipped_with_one_warning(record: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bars.sqlite3"
    store = SqliteStore(path, 1 << 20)
    store.pacing_ledger.append(SENT)
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO pacing (record) VALUES (?)", (record,))
    conn.commit()
    conn.close()
    again = SqliteStore(path, 1 << 20)
    try:
        with caplog.at_level(logging.WARNING, "tws.pacing_ledger"):
            assert again.pacing_ledger.load() == [SENT]
        assert len(caplog.records) == 1 and "skipped 1" in caplog.text
    finally:
        again.close()


def test_a_ledger_that_cannot_be_written_logs_once_and_never_raises(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bars.sqlite3"
    store = SqliteStore(path, 1 << 20)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")  # the file locked by someone else for longer than an append may wait
    try:
        with caplog.at_level(logging.ERROR, "tws.pacing_ledger"):
            store.pacing_ledger.append(SENT)
            store.pacing_ledger.append(BID_ASK)
        assert len(caplog.records) == 1 and "pacing goes on in memory only" in caplog.text
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


def test_the_record_form_round_trips_and_refuses_what_is_not_a_record() -> None:
    assert decode(encode(SENT)) == SENT and decode(encode(BID_ASK)) == BID_ASK
    assert decode(b"not json") is None and decode(b"{}") is None
