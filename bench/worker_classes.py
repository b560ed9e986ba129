"""The HTTP side's worker class measured against the alternatives (docs/http-side.md): `python -m bench.worker_classes`.

The same trivial Flask app (bench/trivial_app.py) under one gunicorn worker of each class; for each, the figures that
decide the choice:
- health latency while 1,000 clients hold a request line without finishing its headers (slow-loris),
- health latency while 1,000 requests wait for an answer that takes 30 s (a TWS that does not answer),
- requests/s of a trivial route at 64 concurrent keep-alive connections (wrk, or the Python fallback),
- RSS per idle keep-alive connection (1,000 of them).
Loopback only; every wait has a deadline; a health request that takes longer than HEALTH_TIMEOUT counts as that.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app.open_files import raise_open_file_limit
from bench.load import ensure_wrk, run_load
from bench.processes import Managed, children, rss_mb
from bench.stats import latency_summary
from tests.ports import accepting, free_port
from tests.waiting import wait_until

CLASSES: dict[str, list[str]] = {
    "gthread, 8 threads (gunicorn's thread worker; 8 was the bridge's default before issue 9)":
        ["-k", "gthread", "--threads", "8"],
    "gthread, 256 threads": ["-k", "gthread", "--threads", "256"],
    "gevent, 2000 connections (gunicorn's gevent worker)": ["-k", "gevent"],
    "the bridge's: gevent + a turn after each answer, client deadlines, JSON errors":
        ["-k", "app.gunicorn_worker.GeventWorker"],
}
HEALTH_TIMEOUT = 10.0  # seconds; the bound is 1 s
BODY = '{"symbol": "AAPL", "period": "1m", "duration": "1 D"}'


class TrivialApp(Managed):
    def __init__(self, log_dir: Path, name: str, worker_args: list[str]) -> None:
        self.port = free_port()
        plain = log_dir / "plain.gunicorn.conf.py"  # not the bridge's ./gunicorn.conf.py, which gunicorn reads unasked
        plain.write_text("")
        super().__init__(name, [sys.executable, "-m", "gunicorn", "-c", str(plain), "--no-control-socket", "-w", "1",
                                "--worker-connections", "2000", "--keep-alive", "75", "--backlog", "2048",
                                "--timeout", "120", "--graceful-timeout", "5",
                                "-b", f"127.0.0.1:{self.port}", *worker_args,
                                "bench.trivial_app:app"], log_dir)

    def start(self) -> TrivialApp:
        self.spawn()
        wait_until(lambda: accepting(self.port) and len(children(self.pid)) == 1, timeout=30,
                   what=f"{self.name} serving")
        return self

    def stop(self) -> None:
        """The master, then its worker: a gthread worker whose threads are held by clients outlives its master's
        SIGKILL (after Managed's 20-s wait) as an orphan otherwise."""
        workers = children(self.pid) if self.alive() else []
        super().stop()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def worker_rss(self) -> float | None:
        return rss_mb(children(self.pid)[0])


def _health(port: int) -> float:
    """Seconds for GET /ping on a fresh connection (HEALTH_TIMEOUT when it does not answer in time)."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HEALTH_TIMEOUT) as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
    except OSError:
        return HEALTH_TIMEOUT
    return min(time.monotonic() - start, HEALTH_TIMEOUT)


def _health_under(port: int, opening: bytes, clients: int, samples: int) -> dict[str, Any]:
    held = []
    try:
        for _ in range(clients):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(opening)
            held.append(s)
        lat = [_health(port) for _ in range(samples)]
    finally:
        for s in held:
            s.close()
    summary = latency_summary(lat)
    return {"clients": clients, "p50_ms": summary["p50_ms"], "max_ms": summary["max_ms"],
            "timed_out": sum(1 for x in lat if x >= HEALTH_TIMEOUT), "samples": samples}


def _idle_rss_per_connection(app: TrivialApp, clients: int) -> float | None:
    before = app.worker_rss()
    held = []
    try:
        for _ in range(clients):
            s = socket.create_connection(("127.0.0.1", app.port), timeout=5)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n")
            s.recv(65536)  # the answer (one segment); the connection stays open, idle
            held.append(s)
        after = app.worker_rss()
    finally:
        for s in held:
            s.close()
    return None if before is None or after is None else (after - before) * 1024 / clients


def measure(log_dir: Path, wrk: str | None, clients: int, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, args in CLASSES.items():
        app = TrivialApp(log_dir, f"trivial-{len(out)}", args).start()
        try:
            load = run_load(wrk, app.port, "/ping", BODY, 64, seconds)
            out[label] = {
                "rps_at_64": round(load.rps), "p99_ms_at_64": load.p99_ms,
                "rss_kb_per_idle_connection": _idle_rss_per_connection(app, clients),
                "health_with_slow_loris": _health_under(app.port, b"GET /ping HTTP/1.1\r\nHost: bench\r\n",
                                                        clients, 5),
                "health_with_waiting": _health_under(app.port, b"GET /wait HTTP/1.1\r\nHost: bench\r\n\r\n",
                                                     clients, 5),
            }
        finally:
            app.stop()
        print(label, json.dumps(out[label]), file=sys.stderr)
    return out


def table(results: dict[str, Any]) -> str:
    lines = ["| worker class | req/s at 64 | p99 at 64 | health p50 / max, 1,000 slow-loris "
             "| health p50 / max, 1,000 waiting | RSS per idle connection |", "|---|---:|---:|---:|---:|---:|"]
    for label, r in results.items():
        def health(h: dict[str, Any]) -> str:
            timed_out = f" ({h['timed_out']}/{h['samples']} > {HEALTH_TIMEOUT:g} s)" if h["timed_out"] else ""
            return f"{h['p50_ms']:.1f} / {h['max_ms']:.1f} ms{timed_out}"
        rss = "-" if r["rss_kb_per_idle_connection"] is None else f"{r['rss_kb_per_idle_connection']:.1f} KB"
        lines.append(f"| {label} | {r['rps_at_64']} | {r['p99_ms_at_64']:.1f} ms | "
                     f"{health(r['health_with_slow_loris'])} | {health(r['health_with_waiting'])} | {rss} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.worker_classes", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the req/s run")
    args = ap.parse_args(argv)
    raise_open_file_limit()
    wrk = ensure_wrk(log=lambda m: print(m, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="tws-worker-classes-") as tmp:
        results = measure(Path(tmp), wrk, args.clients, args.seconds)
    print(table(results))
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/worker_classes.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
