"""The processes the bench measures: the simulator, the bridge under gunicorn, and a trivial Flask app under the same
gunicorn configuration; plus their RSS. Everything listens on 127.0.0.1 and every wait has a deadline."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.ports import accepting, free_port  # one copy of the loopback helpers, shared with the tests
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]

SIM_CLOCK_START = "2025-01-28T11:00:00-05:00"  # a Tuesday, 11:00 New York: the market is open


def http_json(port: int, method: str, path: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    """One request on a fresh connection; (status, parsed JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


class Managed:
    """A child process with its output in a log file, stopped with SIGTERM (then SIGKILL) by its own pid."""

    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log, stderr=log)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class Simulator(Managed):
    """`python -m sim` with pacing enforcement off (or, given `pacing_scale`, on with every pacing window scaled by
    it), no injected delay, and a control socket."""

    def __init__(self, log_dir: Path, clock_start: str = SIM_CLOCK_START, speed: float = 1.0,
                 extra: tuple[str, ...] = (), name: str = "sim", pacing_scale: float | None = None) -> None:
        self.port, self.control_port = free_port(), free_port()
        pacing = ["--no-pacing"] if pacing_scale is None else ["--pacing-scale", str(pacing_scale)]
        super().__init__(name, [sys.executable, "-m", "sim", "--port", str(self.port), "--control-port",
                                str(self.control_port), *pacing, "--clock-start", clock_start,
                                "--clock-speed", str(speed), "--log-level", "WARNING", *extra], log_dir)

    def start(self) -> Simulator:
        self.spawn()
        wait_until(lambda: accepting(self.port) and accepting(self.control_port), timeout=20,
                   what="simulator listening")
        return self

    def control(self, op: str, **args: Any) -> Any:
        from sim.ctl import request  # the simulator's own client for its control socket

        return request(self.control_port, op, **args)

    def upstream_history_requests(self) -> int:
        return len(self.control("received", name="RequestHistoricalData"))


class Gunicorn(Managed):
    """`gunicorn -c gunicorn.conf.py APP` configured through the environment as an operator would.

    --no-control-socket: two gunicorns (the bridge and the trivial app) would otherwise share ~/.gunicorn/gunicorn.ctl.
    """

    def __init__(self, name: str, log_dir: Path, app: str, tws_port: int, workers: int, **settings: str) -> None:
        self.port = free_port()
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "TWS_PORT": str(tws_port),
                    "GUNICORN_WORKERS": str(workers), "BRIDGE_ENV_FILE": str(log_dir / "none.env"),
                    "BRIDGE_WORKER_ENDPOINT": f"ipc://{log_dir}/ipc-{name}/worker.sock",
                    "BRIDGE_STORE_PATH": str(log_dir / f"store-{name}" / "bars.sqlite3"), **settings}
        super().__init__(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                     "--no-control-socket", app], log_dir, self.env)

    def start(self, path: str = "/api/v1/health", connected: bool = True) -> Gunicorn:
        self.spawn()
        wait_until(lambda: self._answering(path), timeout=30, what=f"{self.name} answering HTTP")
        if connected:
            wait_until(lambda: (h := self.health()) is not None and h.get("connected"), timeout=30,
                       what=f"{self.name} connected")
        wait_until(lambda: len(self.http_worker_pids()) >= int(self.env["GUNICORN_WORKERS"]), timeout=30,
                   what=f"{self.name} HTTP workers up")
        return self

    def _answering(self, path: str) -> bool:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited; see {self.log_path}")
        try:
            http_json(self.port, "GET", path, timeout=5)
        except (OSError, ValueError):
            return False
        return True

    def health(self) -> dict[str, Any] | None:
        try:
            status, body = http_json(self.port, "GET", "/api/v1/health", timeout=5)
        except (OSError, ValueError):
            return None
        return body if status == 200 else None

    def worker_pid(self) -> int | None:
        h = self.health()
        return (h.get("worker") or {}).get("worker_pid") if h else None

    def http_worker_pids(self) -> list[int]:
        """gunicorn's forked HTTP workers: the master's children, less the TWS worker's supervisor."""
        return [p for p in children(self.pid) if "worker.supervisor" not in cmdline(p)]


def children(pid: int) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 when it is gone)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it (gunicorn: its master, HTTP workers, the supervisor and the TWS worker)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children(current)
    return found


def rss_mb(pid: int | None) -> float | None:
    """VmRSS of a process in MB (None when it is gone)."""
    if pid is None:
        return None
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
