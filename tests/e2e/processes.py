"""The real processes an end-to-end test runs: the simulator (`python -m sim`) and the bridge (gunicorn, which starts
the TWS worker). Everything listens on 127.0.0.1; every wait has a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.ctl import request as sim_control
from tests.ports import accepting, free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None,
         timeout: float = 60.0) -> Answer:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, hdrs, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, payload = err.code, dict(err.headers), err.read()
    try:
        parsed = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        parsed = payload.decode(errors="replace")
    return Answer(status, hdrs, parsed)


class SimProcess:
    """`python -m sim` on a fixed port, so it can be stopped and started again where the bridge expects TWS."""

    def __init__(self, tmp: Path, clock_start: str = "2025-01-28T11:00:00-05:00", speed: float = 10.0,
                 extra: tuple[str, ...] = ()) -> None:
        self.port, self.control_port = free_port(), free_port()
        self.args = ["--port", str(self.port), "--control-port", str(self.control_port), "--clock-start",
                     clock_start, "--clock-speed", str(speed), "--update-interval", "0.2", "--log-level", "WARNING",
                     *extra]
        self.log = open(tmp / f"sim-{self.port}.log", "ab")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SimProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "sim", *self.args], cwd=ROOT, stdout=self.log,
                                     stderr=self.log)
        wait_until(lambda: accepting(self.port) and accepting(self.control_port), what="simulator listening")
        return self

    def control(self, op: str, **args: Any) -> Any:
        return sim_control(self.control_port, op, **args)

    def received(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.control("received", name=name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class BridgeProcess:
    """`gunicorn -c gunicorn.conf.py wsgi:app`, configured by environment as an operator would."""

    def __init__(self, tmp: Path, tws_port: int, workers: int = 2, **settings: str) -> None:
        self.port = free_port()
        ipc_dir = tmp / "ipc"
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "TWS_PORT": str(tws_port),
                    "GUNICORN_WORKERS": str(workers), "LOG_LEVEL": "INFO",
                    "BRIDGE_WORKER_ENDPOINT": f"ipc://{ipc_dir}/worker.sock", "BRIDGE_ENV_FILE": str(tmp / "none.env"),
                    # this bridge's own store (bars, pacing ledger), never another test's nor a past run's
                    "BRIDGE_STORE_PATH": str(tmp / "store" / "bars.sqlite3"),
                    "TWS_RECONNECT_INITIAL_DELAY": "0.2", "TWS_RECONNECT_MAX_DELAY": "1", "BAR_TIMEOUT": "5",
                    "TWS_CONNECT_TIMEOUT": "3", **settings}
        self.origin = f"http://127.0.0.1:{self.port}"  # the pages (/, /docs) and /metrics
        self.url = f"{self.origin}/api/v1"
        self.log_path = tmp / f"bridge-{self.port}.log"
        self.log = open(self.log_path, "ab")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_connected: bool = True) -> BridgeProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                     cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        wait_until(self.answering, timeout=20, what="bridge answering HTTP")
        if wait_connected:
            self.wait_connected()
        return self

    def answering(self) -> bool:
        try:
            http("GET", f"{self.url}/health", timeout=5)
        except OSError:
            return False
        return True

    def health_or_none(self) -> dict[str, Any] | None:
        try:
            answer = http("GET", f"{self.url}/health", timeout=5)
        except OSError:
            return None
        return answer.body if answer.status == 200 else None

    def wait_connected(self, timeout: float = 20) -> dict[str, Any]:
        return wait_until(lambda: (h := self.health_or_none()) and h["connected"] and h, timeout=timeout,
                          what="bridge connected to TWS")

    def get(self, path: str, **kw: Any) -> Answer:
        return http("GET", f"{self.url}{path}", **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return http("POST", f"{self.url}{path}", body, **kw)

    def bars(self, **fields: Any) -> Answer:
        return self.post("/bars", {"period": "5m", "duration": "1 D", **fields})

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()
