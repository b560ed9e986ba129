"""`python -m bench.soak [--quick]`: does the TWS worker's memory stay flat? (issue 4: less than 20 MB of growth over
10,000 requests and 500 live-subscription create/expire cycles).

The simulator (pacing off) and the bridge (2 HTTP workers, a small cache so that its budget, not a leak, bounds what
it keeps) run as processes; after a warm-up the worker's RSS is read, the load runs, idle subscriptions expire, and
the RSS is read again."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.processes import Gunicorn, Simulator, rss_mb
from bench.scenarios import SYMBOLS, WHATS, BridgeClient
from tests.waiting import wait_until

PERIODS = ["1m", "2m", "3m", "5m", "10m", "15m", "20m", "30m", "1h"]
ENDS = [f"202501{d:02d} 16:00:00" for d in (6, 7, 8, 10, 13, 14, 15, 16, 17, 21, 22, 23, 24, 27)]
CACHE_MB = 8
IDLE_TTL = 0.3


def plain_request(i: int) -> dict[str, Any]:
    """Half repeat 100 hot keys (cache hits), half are new keys (upstream requests, cached, evicted)."""
    if i % 2 == 0:
        n = (i // 2) % 100
    else:
        n = 100 + i // 2
    return {"symbol": SYMBOLS[n % 20], "what": WHATS[(n // 20) % 4], "period": "5m", "duration": "1 D",
            "end_datetime": ENDS[(n // 80) % len(ENDS)]} | ({"session": "all"} if (n // 1120) % 2 else {})


def subscription_request(i: int) -> dict[str, Any]:
    """A new series each time (no two alike within IB's 15 s), left idle so it expires."""
    return {"symbol": SYMBOLS[i % 20], "what": WHATS[(i // 20) % 4], "period": PERIODS[(i // 80) % len(PERIODS)],
            "duration": f"{1 + (i // 720)} D", "include_forming": True}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--quick", action="store_true", help="1,000 requests and 50 cycles: a smoke test")
    p.add_argument("--out", type=Path, default=Path("bench/results/soak.json"))
    args = p.parse_args(argv)
    requests, cycles = (1000, 50) if args.quick else (10_000, 500)
    with tempfile.TemporaryDirectory(prefix="tws-soak-") as tmp:
        sim = Simulator(Path(tmp))
        bridge = Gunicorn("bridge", Path(tmp), "wsgi:app", 0, 2, LOG_LEVEL="WARNING",
                          BRIDGE_CACHE_MAX_MB=str(CACHE_MB), BRIDGE_SUBSCRIPTION_IDLE_TTL=str(IDLE_TTL))
        try:
            sim.start()
            bridge.env["TWS_PORT"] = str(sim.port)
            bridge.start()
            pid = bridge.worker_pid()
            clients = [BridgeClient(bridge.port) for _ in range(8)]

            def run(bodies: list[dict[str, Any]]) -> None:
                with ThreadPoolExecutor(len(clients)) as pool:
                    list(pool.map(lambda k: [clients[k].bars(b) for b in bodies[k::len(clients)]],
                                  range(len(clients))))

            run([plain_request(i) for i in range(2000)])  # warm-up: caches fill to their budget
            run([subscription_request(10_000 + i) for i in range(40)])
            wait_until(lambda: (bridge.health() or {})["worker"]["subscriptions"]["total"] == 0, timeout=30,
                       what="idle expiry")
            before = rss_mb(pid)
            started = time.monotonic()
            for chunk in range(10):
                run([plain_request(2000 + chunk * requests // 10 + i) for i in range(requests // 10)])
                run([subscription_request(chunk * cycles // 10 + i) for i in range(cycles // 10)])
            wait_until(lambda: (bridge.health() or {})["worker"]["subscriptions"]["total"] == 0, timeout=30,
                       what="idle expiry")
            after = rss_mb(pid)
            worker = (bridge.health() or {})["worker"]
        finally:
            bridge.stop()
            sim.stop()
    result = {"requests": requests, "subscription_cycles": cycles, "cache_max_mb": CACHE_MB,
              "worker_rss_before_mb": before, "worker_rss_after_mb": after,
              "growth_mb": None if before is None or after is None else round(after - before, 1),
              "seconds": round(time.monotonic() - started, 1), "subscriptions": worker["subscriptions"],
              "cache": worker["cache"], "upstream_requests_sent": worker["upstream_requests_sent"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"worker RSS growth: {result['growth_mb']} MB (goal: < 20 MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
