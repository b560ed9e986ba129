"""`python -m bench [--quick] [--out FILE]`: start the simulator, the bridge and a trivial Flask app under gunicorn,
measure everything issue 5 asks in one run, print a table and write JSON (bench/results/latest.json by default)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import history, report, scenarios, streams
from bench.direct import DirectClient
from bench.load import ensure_wrk, wrk_version
from bench.processes import ROOT, SIM_CLOCK_START, Gunicorn, Simulator

DIRECT_CLIENT_ID = 900  # the bridge's worker uses TWS_CLIENT_ID (100); the direct client must not collide


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "kernel": platform.release()}


def ibapi_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "?"
    for dist in ("ibapi", "ibapi-stable"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return "?"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short runs (under 60 s in all): a smoke test, not a result")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON results file (default bench/results/latest.json, or quick.json with --quick)")
    p.add_argument("--log-level", default="INFO", help="the bridge's LOG_LEVEL (INFO is its default)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    miss_n, hit_s, large_reps = (30, 2.0, 1) if quick else (300, 10.0, 6)
    concurrencies = (1, 8, 64)
    # the product's default unless the caller's environment says
    connections = os.environ.get("GUNICORN_WORKER_CONNECTIONS", "2000")
    started = time.monotonic()
    wrk = ensure_wrk(log=lambda m: print(m, file=sys.stderr))
    tool = wrk_version(wrk) if wrk else "python multi-process client (fallback: wrk unavailable)"
    results: dict[str, Any] = {"meta": {
        "mode": "quick" if quick else "full", "machine": machine(), "ibapi": ibapi_version(), "load_generator": tool,
        "command": "make bench-quick" if quick else "make bench", "hit_seconds": hit_s,
        "bridge": f"gunicorn gevent (app.gunicorn_worker.GeventWorker), 4 HTTP workers x {connections} "
                  f"connections, LOG_LEVEL={args.log_level}",
        "simulator": f"--no-pacing, no reply delay, --clock-start {SIM_CLOCK_START} --clock-speed 1",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    with tempfile.TemporaryDirectory(prefix="tws-bench-") as tmp:
        log_dir = Path(tmp)
        sim = Simulator(log_dir)
        bridge = Gunicorn("bridge", log_dir, "wsgi:app", 0, 4, LOG_LEVEL=args.log_level)
        trivial = Gunicorn("trivial", log_dir, "bench.trivial_app:app", 0, 4, LOG_LEVEL=args.log_level,
                           BRIDGE_START_WORKER="false")
        direct = DirectClient()
        try:
            sim.start()
            bridge.env["TWS_PORT"] = trivial.env["TWS_PORT"] = str(sim.port)
            bridge.start()
            trivial.start(path="/ping", connected=False)
            direct.start(sim.port, DIRECT_CLIENT_ID)
            keys = scenarios.KeyPool()
            mem_before = scenarios.memory(bridge)
            step("miss path")
            results["miss_path"] = scenarios.miss_path(bridge, direct, keys, miss_n)
            step("hit path")
            results["hit_path"] = scenarios.hit_path(bridge, trivial, sim, wrk, hit_s, concurrencies)
            step("large answers")
            results["large_answers"] = scenarios.large_answers(bridge, direct, keys, large_reps)
            step("coalescing")
            results["coalescing"] = scenarios.coalescing(bridge, sim, keys, 100)
            results["memory"] = {"before": mem_before, "after": scenarios.memory(bridge)}
            step("streams")
            results["streams"] = streams.run(log_dir, quick, args.log_level)
            step("history")
            results["history"] = history.run(log_dir, quick, args.log_level)
        except Exception:
            for proc in (sim, bridge, trivial):
                print(f"--- {proc.log_path.name} (tail) ---\n{_tail(proc.log_path)}", file=sys.stderr)
            raise
        finally:
            direct.stop()
            trivial.stop()
            bridge.stop()
            sim.stop()
    results["targets"] = report.targets(results)
    results["meta"]["elapsed_s"] = time.monotonic() - started
    return results


def step(name: str) -> None:
    print(f"bench: {name} ...", file=sys.stderr, flush=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.out is None:  # a quick smoke run never overwrites the full run's results
        args.out = ROOT / "bench" / "results" / ("quick.json" if args.quick else "latest.json")
    results = run(args)
    print(report.table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
