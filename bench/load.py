"""Closed-loop load at a fixed concurrency: wrk (Debian's package, installed here if missing) with a Lua script for
the POST body, or, when wrk cannot be had, a multi-process Python client, labelled as such in every result."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from http.client import HTTPConnection
from typing import Any

from bench.stats import latency_summary, rate

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%(body)s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "non_2xx": %%d, ' ..
    '"socket_errors": %%d}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class LoadResult:
    tool: str
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk(log: Any = print) -> str | None:
    """wrk's path; installs Debian's package when missing (as root, or with password-less sudo). None if impossible."""
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get"):
        return found
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        return None
    log("wrk not found: installing Debian's package (apt-get update && apt-get install -y wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.run(prefix + cmd, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"could not install wrk: {exc}")
        return None
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return f"wrk {match.group(1)}" if match else "wrk"


def run_wrk(wrk: str, url: str, body: str, concurrency: int, seconds: float) -> LoadResult:
    """wrk -c N for `seconds` POSTing `body`; threads = min(2, N) (this machine has 2 cores, shared with servers)."""
    threads = min(2, concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA % {"body": body})
    try:
        out = subprocess.run([wrk, "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
                              "--timeout", "60s", "-s", script.name, url],
                             capture_output=True, text=True, timeout=seconds + 90)
    finally:
        os.unlink(script.name)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    s = json.loads(line[len("BENCH_JSON "):])
    secs = s["duration_us"] / 1e6
    return LoadResult(wrk_version(wrk), concurrency, s["requests"], secs, rate(s["requests"], secs),
                      s["p50_us"] / 1000, s["p99_us"] / 1000, s["non_2xx"] + s["socket_errors"])


# ---- fallback: a multi-process Python client (slower than wrk: it may be the bottleneck at high concurrency) --------


def _client_process(port: int, path: str, body: bytes, threads: int, until: float, queue: Any) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def loop() -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        while time.time() < until:
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                conn.close()
                conn = HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            mine.append(time.perf_counter() - t0)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put((latencies, errors[0]))


def run_python(port: int, path: str, body: str, concurrency: int, seconds: float) -> LoadResult:
    """Fallback load generator: min(N, 2 x cores) processes, N keep-alive connections in all."""
    procs_n = max(1, min(concurrency, 2 * (os.cpu_count() or 1)))
    shares = [concurrency // procs_n + (1 if i < concurrency % procs_n else 0) for i in range(procs_n)]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.time()
    until = start + seconds
    procs = [ctx.Process(target=_client_process, args=(port, path, body.encode(), n, until, queue)) for n in shares]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 90) for _ in procs]
    for p in procs:
        p.join(10)
    elapsed = time.time() - start
    latencies = [x for lat, _ in results for x in lat]
    summary = latency_summary(latencies)
    return LoadResult("python multi-process client (fallback: wrk unavailable)", concurrency, len(latencies), elapsed,
                      rate(len(latencies), elapsed), float(summary["p50_ms"]), float(summary["p99_ms"]),
                      sum(e for _, e in results))


def run_load(wrk: str | None, port: int, path: str, body: str, concurrency: int, seconds: float) -> LoadResult:
    if wrk is not None:
        return run_wrk(wrk, f"http://127.0.0.1:{port}{path}", body, concurrency, seconds)
    return run_python(port, path, body, concurrency, seconds)
