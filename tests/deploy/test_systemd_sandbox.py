"""The real bridge (gunicorn with gevent workers, the worker supervisor, the TWS worker, ZeroMQ over ipc://, the
SQLite store) works inside tws-bridge.service's seccomp sandbox: its SystemCallFilter= (@system-service without
@privileged and @resources), MemoryDenyWriteExecute=, RestrictAddressFamilies=, SystemCallArchitectures=native,
NoNewPrivileges= and UMask=, installed by tests/deploy/unit_sandbox.py as systemd installs them, since systemd is not
PID 1 here. Against `python -m sim`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import ROOT, BridgeProcess, SimProcess
from tests.e2e.stream_clients import StreamReaders
from tests.waiting import wait_until

UNIT = ROOT / "deploy" / "systemd" / "tws-bridge.service"  # runs all of the bridge's processes
SANDBOX = [sys.executable, "-m", "tests.deploy.unit_sandbox", str(UNIT), "--"]
BARS = {"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250127 16:00:00"}


class SandboxedBridge(BridgeProcess):
    """The bridge's own command, started inside the unit's sandbox."""

    def start(self, wait_connected: bool = True) -> SandboxedBridge:
        self.proc = subprocess.Popen([*SANDBOX, sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                     cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        wait_until(self.answering, timeout=20, what="sandboxed bridge answering HTTP")
        if wait_connected:
            self.wait_connected()
        return self


@pytest.fixture(scope="module")
def sandboxed(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxedBridge]:
    b = SandboxedBridge(tmp_path_factory.mktemp("bridge"), tws.port).start()
    yield b
    b.stop()


def descendants(pid: int) -> set[int]:
    children = {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    return children.union(*(descendants(c) for c in children))


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


PROBES = {
    "writable and executable memory": "import mmap; mmap.mmap(-1, 4096, prot=7)",
    "a netlink socket": "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
    "a privileged call (setuid)": "import os; os.setuid(os.getuid())",
    "a resource call (sched_setaffinity)": "import os; os.sched_setaffinity(0, {0})",
}


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_the_sandbox_refuses_what_the_unit_refuses(probe: str) -> None:
    script = f"{probe}\nprint('allowed')"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stdout == "allowed\n"
    run = subprocess.run([*SANDBOX, sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and ("Operation not permitted" in run.stderr
                                    or "Address family not supported" in run.stderr), run.stderr


def test_the_bridge_serves_bars_and_a_stream_inside_the_units_sandbox(sandboxed: SandboxedBridge) -> None:
    first = sandboxed.post("/bars", BARS)
    assert first.status == 200 and first.body["count"] == 78, first
    assert sandboxed.post("/bars", BARS).body["bars"] == first.body["bars"]  # from the worker's cache or store
    readers = StreamReaders()
    try:
        stream = readers.open_bars(sandboxed.port, symbol="AAPL", period="1m")
        wait_until(lambda: stream.of_kind("update") and stream.of_kind("status"), what="the stream live")
        assert stream.status == 200 and stream.of_kind("status")[0].data["status"] == "live"
    finally:
        readers.close()
    log = sandboxed.log_path.read_text()
    assert "Operation not permitted" not in log and "Traceback" not in log, log


def test_every_process_of_the_bridge_runs_in_the_sandbox_and_its_files_are_private(
        sandboxed: SandboxedBridge) -> None:
    assert sandboxed.proc is not None
    pids = {sandboxed.proc.pid} | descendants(sandboxed.proc.pid)
    assert len(pids) >= 5, pids  # gunicorn, 2 HTTP workers, the supervisor, the TWS worker
    for pid in pids:
        s = status(pid)
        assert (s["NoNewPrivs"], s["Seccomp"], s["Seccomp_filters"]) == ("1", "2", "3"), (pid, s["Name"])
    store = Path(sandboxed.env["BRIDGE_STORE_PATH"])
    wait_until(store.exists, what="the bar store written")
    assert store.stat().st_mode & 0o777 == 0o600  # UMask=0077
