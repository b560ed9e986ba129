"""The pacing ledger file: one line per historical request sent, appended with one write, readable by the next worker
after kill -9; a cut or foreign line is skipped with one warning, an unreadable file is moved aside."""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import worker.tws.pacing_ledger
from worker.tws.pacing_ledger import FileLedger, MemoryLedger, SentRequest, decode, encode, open_ledger

ROOT = Path(__file__).resolve().parents[3]
SENT = SentRequest(1738080000.25, (265598, "SMART", "", "1 min", "1 D", True, "TRADES", False),
                   (265598, "SMART", "TRADES"), 60, 1)
BID_ASK = SentRequest(1738080001.5, (8314, "SMART", "", "5 secs", "1800 S", True, "BID_ASK", False),
                      (8314, "SMART", "BID_ASK"), 5, 2)


def test_records_come_back_as_they_were_written(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "pacing.jsonl")
    ledger.append(SENT)
    ledger.append(BID_ASK)
    assert FileLedger(tmp_path / "pacing.jsonl").load() == [SENT, BID_ASK]


def test_a_missing_file_is_an_empty_history(tmp_path: Path) -> None:
    assert FileLedger(tmp_path / "absent.jsonl").load() == []


def test_each_record_is_one_write_on_an_append_only_descriptor(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[tuple[int, bytes]] = []
    real_write = os.write

    def spy(fd: int, data: bytes) -> int:
        writes.append((fd, bytes(data)))
        return real_write(fd, data)

    monkeypatch.setattr(worker.tws.pacing_ledger.os, "write", spy)
    ledger = FileLedger(tmp_path / "pacing.jsonl")
    ledger.append(SENT)
    ledger.append(BID_ASK)
    assert [data for _, data in writes] == [encode(SENT), encode(BID_ASK)]
    fd = writes[0][0]
    assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND


def test_a_record_survives_kill_9_right_after_it_was_written(tmp_path: Path) -> None:
    """No fsync: what write() handed the kernel belongs to the file, not to the process that dies."""
    path = tmp_path / "pacing.jsonl"
    script = (f"import os, signal; from pathlib import Path\n"
              f"from worker.tws.pacing_ledger import FileLedger, SentRequest\n"
              f"FileLedger(Path({str(path)!r})).append(SentRequest{(SENT.wall, SENT.identity, SENT.group, 60, 1)!r})\n"
              f"os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=30)
    assert done.returncode == -9
    assert FileLedger(path).load() == [SENT]


def test_the_file_is_private_to_the_worker_user(tmp_path: Path) -> None:
    path = tmp_path / "run" / "tws-bridge" / "pacing.jsonl"
    FileLedger(path).append(SENT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_line_cut_by_a_kill_is_skipped_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "pacing.jsonl"
    path.write_bytes(encode(SENT) + encode(BID_ASK)[:25])
    with caplog.at_level(logging.WARNING, "tws.pacing_ledger"):
        assert FileLedger(path).load() == [SENT]
    assert len(caplog.records) == 1 and "skipped 1 unreadable line" in caplog.records[0].getMessage()


@pytest.mark.parametrize("line", [
    b"not json", b"[1, 2]", b'{"t": "soon", "i": [], "g": [], "s": 60, "w": 1}',
    b'{"t": 1.0, "i": [{"nested": 1}], "g": [], "s": 60, "w": 1}', b'{"t": 1.0, "i": [], "g": [], "s": 60, "w": 3}',
    b'{"t": NaN, "i": [], "g": [], "s": 60, "w": 1}', b'{"t": 1.0, "i": [], "g": [], "s": true, "w": 1}',
    b"\xff\xfe binary", b'{"t": 1.0}',
])
def test_a_line_that_is_not_a_record_is_skipped(line: bytes, tmp_path: Path) -> None:
    assert decode(line) is None
    path = tmp_path / "pacing.jsonl"
    path.write_bytes(encode(SENT) + line + b"\n" + encode(BID_ASK))
    assert FileLedger(path).load() == [SENT, BID_ASK]


def test_an_unreadable_file_is_moved_aside_and_the_worker_goes_on(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "pacing.jsonl"
    path.mkdir()  # not a file: reading it fails (as root, permissions would not)
    ledger = FileLedger(path)
    with caplog.at_level(logging.ERROR, "tws.pacing_ledger"):
        assert ledger.load() == []
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("pacing.jsonl.unreadable-")]
    assert len(aside) == 1 and aside[0].is_dir()
    message = caplog.records[0].getMessage()
    assert "cannot be read" in message and "moved aside" in message and str(aside[0]) in message
    ledger.append(SENT)
    assert FileLedger(path).load() == [SENT]


def test_a_file_far_larger_than_a_ledger_is_moved_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.tws.pacing_ledger, "MAX_FILE_BYTES", 100)
    path = tmp_path / "pacing.jsonl"
    path.write_bytes(encode(SENT) * 10)
    assert FileLedger(path).load() == []
    assert not path.exists() and len(list(tmp_path.iterdir())) == 1


def test_rewrite_replaces_the_file_and_appends_go_to_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "pacing.jsonl"
    ledger = FileLedger(path)
    ledger.append(SENT)
    ledger.append(BID_ASK)
    ledger.rewrite([BID_ASK])
    assert FileLedger(path).load() == [BID_ASK]
    ledger.append(SENT)
    assert FileLedger(path).load() == [BID_ASK, SENT]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pacing.jsonl"], "no temporary file left behind"


def test_a_ledger_that_cannot_be_written_logs_once_and_never_raises(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ledger = FileLedger(blocker / "pacing.jsonl")  # its directory is a file
    with caplog.at_level(logging.ERROR, "tws.pacing_ledger"):
        ledger.append(SENT)
        ledger.append(SENT)
        ledger.rewrite([SENT])
    assert len(caplog.records) == 1 and "memory only" in caplog.records[0].getMessage()


def test_an_empty_setting_keeps_pacing_in_memory(tmp_path: Path) -> None:
    ledger = open_ledger(None)
    assert isinstance(ledger, MemoryLedger) and ledger.location is None
    ledger.append(SENT)
    assert ledger.load() == []
    assert open_ledger(tmp_path / "p.jsonl").location == str(tmp_path / "p.jsonl")


def test_the_ledger_is_never_written_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    (tmp_path / "pacing.jsonl").symlink_to(target)
    FileLedger(tmp_path / "pacing.jsonl").append(SENT)
    assert target.read_text() == "keep\n"
