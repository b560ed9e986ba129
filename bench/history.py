"""The history path's measurements (issue 10), against the simulator with IB's pacing rules ON and its clock frozen
after the ranges asked; the simulator and the bridge both scale every pacing window by PACING_SCALE (10 min -> 60 s),
never a count:

- fill rate: 1-sec bars of 5 full regular sessions (65 windows of "1800 S"): the wall time of the job against the
  fastest schedule IB's rules allow (worker/history/schedule.py on a fake clock, no margin), and pacing violations;
- a year of 1-min bars for one symbol from an empty store: wall time, and upstream requests against the legal
  windows that hold sessions (one "1 D" per trading day);
- store hit: 100,000 1-min bars through HTTP (two pages of 50,000) from a fresh bridge on the same store (its memory
  caches empty), in bars/s, against the same two requests answered again from memory;
- restart: 30 requests, everything stopped and started again on the same store, the same 30: upstream requests;
- the store's size per bar and the rate bars were stored at during the year's fill.

`python -m bench.history [--quick]` runs these alone (bench/results/history.json); `make bench` runs them with the rest.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.processes import ROOT, Gunicorn, Simulator, http_json
from bench.stats import rate
from sim import trading_calendar as cal
from sim.bar_sizes import parse_duration
from sim.history import _shift_back
from tests.waiting import wait_until
from worker.history.schedule import estimate_seconds
from worker.tws.pacing import PacingKey, PacingLimits

PACING_SCALE = 0.1
QUICK_PACING_SCALE = 0.02  # --quick: the same 65 windows, IB's 10 minutes in 12 s (a smoke run, not a result)
CLOCK = "2025-02-04T12:00:00-05:00"  # frozen: Tuesday noon, after every range asked here
FILL_SESSIONS = ("2025-01-21", "2025-01-22", "2025-01-23", "2025-01-24", "2025-01-27")  # full regular sessions
YEAR_END = "20250131 16:00:00"
STORE_HIT_BARS, PAGE = 100_000, 50_000
RESTART_DAYS = 15  # x (1 min, 5 mins) x "1 D": 30 requests
BARS = "/api/v1/bars"
FINISHED = ("done", "failed", "cancelled")


def ny(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=cal.NEW_YORK).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, cal.NEW_YORK).isoformat()


def minimum_seconds(windows: int, bar_seconds: int, scale: float, margin: float = 0.0) -> float:
    """The fastest schedule IB's rules allow for `windows` distinct requests of one contract (answers taken as
    instant): the rules' own arithmetic on a fake clock. margin 0: IB's rules as written; the bridge keeps
    PacingLimits.margin clear of every window edge on top."""
    limits = PacingLimits(margin=margin).scaled(scale)
    keys = [PacingKey(identity=("window", n), group=("contract",), bar_seconds=bar_seconds) for n in range(windows)]
    return estimate_seconds(keys, limits)


class RawClient:
    """One keep-alive connection; answers read whole, as bytes (parsing is the client's own cost, left out)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, body: dict[str, Any]) -> tuple[int, bytes]:
        self.conn.request("POST", BARS, body=orjson.dumps(body), headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


def page_token(raw: bytes) -> str | None:
    """The answer's next_page_token, found without parsing the bars before it (they are most of the body)."""
    at = raw.rfind(b'"next_page_token":')
    if at < 0:
        return None
    rest = raw[at + len(b'"next_page_token":'):].lstrip()
    if not rest.startswith(b'"'):
        return None  # null
    return rest[1:rest.index(b'"', 1)].decode("ascii")


class Rig:
    """The simulator (pacing ON, scaled, clock frozen) and a bridge on a store file; either can be started again."""

    def __init__(self, log_dir: Path, scale: float, log_level: str) -> None:
        self.log_dir, self.scale, self.log_level = log_dir, scale, log_level
        self.runs = 0
        self.sim: Simulator | None = None
        self.bridge: Gunicorn | None = None

    def start_sim(self) -> Simulator:
        self.runs += 1
        self.sim = Simulator(self.log_dir, clock_start=CLOCK, speed=0.0, name=f"sim-history-{self.runs}",
                             pacing_scale=self.scale).start()
        return self.sim

    def start_bridge(self, store: Path, **settings: str) -> Gunicorn:
        assert self.sim is not None
        self.runs += 1
        self.bridge = Gunicorn(f"bridge-history-{self.runs}", self.log_dir, "wsgi:app", self.sim.port, 4,
                               LOG_LEVEL=self.log_level, BRIDGE_STORE_PATH=str(store),
                               BRIDGE_PACING_SCALE=str(self.scale), BAR_TIMEOUT="5", **settings).start()
        return self.bridge

    def stop(self) -> None:
        for proc in (self.bridge, self.sim):
            if proc is not None:
                proc.stop()

    def historical(self, symbol: str | None = None) -> list[dict[str, Any]]:
        assert self.sim is not None
        return [r for r in self.sim.control("received", name="RequestHistoricalData")
                if symbol is None or r["fields"]["contract"]["symbol"] == symbol]

    def violations(self) -> int:
        assert self.sim is not None
        return sum(1 for e in self.sim.control("errors")
                   if (e["code"] == 162 and "pacing" in e["message"]) or e["code"] == 322)

    def store_stats(self) -> dict[str, Any]:
        assert self.bridge is not None
        health = self.bridge.health() or {}
        return (health.get("worker") or {}).get("store") or {}

    def job_done(self, body: dict[str, Any], timeout: float, sample: Any = None) -> tuple[float, dict[str, Any]]:
        """POST `body`, follow its job to the end: (seconds from the POST to the job seen done, the first answer)."""
        assert self.bridge is not None
        started = time.monotonic()
        status, first = http_json(self.bridge.port, "POST", BARS, body, timeout=60)
        if status == 200:
            return time.monotonic() - started, first
        if status != 202:
            raise RuntimeError(f"bridge answered {status}: {first}")
        job_id = first["job"]["id"]

        def finished() -> dict[str, Any] | None:
            if sample is not None:
                sample()
            code, answer = http_json(self.bridge.port, "GET", f"/api/v1/jobs/{job_id}")  # type: ignore[union-attr]
            return answer["job"] if code == 200 and answer["job"]["state"] in FINISHED else None

        job = wait_until(finished, timeout=timeout, interval=0.05, what=f"job {job_id} finished")
        if job["state"] != "done":
            raise RuntimeError(f"job {job_id} ended {job['state']}: {job.get('error')}")
        return time.monotonic() - started, first

    def pages(self, body: dict[str, Any], client: RawClient) -> tuple[float, list[bytes]]:
        """Every page of `body`: (seconds for all of them, their raw bodies)."""
        raws: list[bytes] = []
        started = time.monotonic()
        token = None
        while True:
            status, raw = client.post({**body, **({"page_token": token} if token else {})})
            if status != 200:
                raise RuntimeError(f"bridge answered {status}: {raw[:300]!r}")
            raws.append(raw)
            token = page_token(raw)
            if not token:
                return time.monotonic() - started, raws


def fill_rate(rig: Rig, sessions: tuple[str, ...]) -> dict[str, Any]:
    body = {"symbol": "AAPL", "period": "1s", "start_datetime": iso(ny(f"{sessions[0]} 09:30")),
            "end_datetime": iso(ny(f"{sessions[-1]} 16:00"))}
    windows = len(sessions) * 13
    wall, first = rig.job_done(body, timeout=900 * rig.scale + 120)
    sent = rig.historical("AAPL")
    return {"sessions": len(sessions), "windows": windows, "answered": "202 job" if "job" in first else "200",
            "wall_s": wall, "minimum_s": minimum_seconds(windows, 1, rig.scale),
            "minimum_with_margin_s": minimum_seconds(windows, 1, rig.scale, PacingLimits().margin),
            "upstream_requests": len(sent), "pacing_violations": rig.violations()}


def sessions_of(start: float, end: float) -> list[cal.Session]:
    """The simulator's regular sessions of a US stock that intersect [start, end)."""
    return cal.sessions_between(cal.CalendarKind.US_EQUITY, True, start, end)


def year_of_minutes(rig: Rig, duration: str) -> dict[str, Any]:
    end = datetime.strptime(YEAR_END, "%Y%m%d %H:%M:%S").replace(tzinfo=cal.NEW_YORK).timestamp()
    sessions = sessions_of(_shift_back(end, parse_duration(duration)), end)
    queued: list[int] = []

    def sample() -> None:
        queued.append(int(rig.store_stats().get("writes_queued") or 0))

    before = rig.store_stats()
    wall, _ = rig.job_done({"symbol": "MSFT", "period": "1m", "duration": duration, "end_datetime": YEAR_END},
                           timeout=3600, sample=sample)
    after = rig.store_stats()
    stored = int(after.get("bars") or 0) - int(before.get("bars") or 0)
    return {"duration": duration, "wall_s": wall, "upstream_requests": len(rig.historical("MSFT")),
            "windows_with_sessions": len(sessions), "bars_expected": sum((s.end - s.start) // 60 for s in sessions),
            "bars_stored": stored, "store_write_bars_per_s": rate(stored, wall),
            "writes_queued_max": max(queued, default=0),
            "minimum_s": minimum_seconds(len(sessions), 60, rig.scale),
            "minimum_with_margin_s": minimum_seconds(len(sessions), 60, rig.scale, PacingLimits().margin)}


def _start_of_last(bars: int) -> float:
    """The start of the `bars`-th last 1-min RTH bar before YEAR_END (whole sessions of the simulator's calendar)."""
    end = ny("2025-01-31 16:00")
    sessions = sessions_of(end - 3 * 365 * 86_400, end)
    count = 0
    for s in reversed(sessions):
        minutes = (s.end - s.start) // 60
        if count + minutes >= bars:
            return s.end - (bars - count) * 60
        count += minutes
    raise AssertionError("not enough sessions")


def store_hit(rig: Rig, store: Path, bars: int, reps: int) -> dict[str, Any]:
    """The same 100,000 bars from the store (a fresh bridge: its caches empty; the contract resolved first by a small
    request, so the figure is the bars' path, not TWS's contract lookup) and then from memory: the TWS worker's bar
    cache (the like-for-like path, through the same HTTP worker code) and an HTTP worker's final-answer cache (bytes
    kept by the HTTP worker itself). Which layer answered is told by the worker's cache hits (/health)."""
    body = {"symbol": "MSFT", "period": "1m", "start_datetime": iso(_start_of_last(bars)),
            "end_datetime": iso(ny("2025-01-31 16:00")), "limit": PAGE}
    rig.job_done(body, timeout=600)  # what the year left out of the range
    upstream = len(rig.historical())
    from_store: list[float] = []
    from_worker_cache: list[float] = []
    from_http_cache: list[float] = []
    for _ in range(reps):
        assert rig.bridge is not None
        rig.bridge.stop()
        bridge = rig.start_bridge(store)
        rig.job_done({"symbol": "MSFT", "period": "1m", "duration": "1 D", "end_datetime": YEAR_END},
                     timeout=60)  # resolves the contract; 390 bars from the store
        client = RawClient(bridge.port)
        seconds, raws = rig.pages(body, client)
        counted = sum(len(orjson.loads(raw)["bars"]) for raw in raws)
        if counted != bars:
            raise RuntimeError(f"the store answered {counted} bars, not {bars}")
        from_store.append(rate(bars, seconds))
        client.close()
        for _ in range(16):
            hits = worker_cache_hits(bridge)
            client = RawClient(bridge.port)  # a new connection: any HTTP worker may take it
            seconds, raws = rig.pages(body, client)
            client.close()
            served_by_worker = worker_cache_hits(bridge) - hits
            if served_by_worker == len(raws):
                from_worker_cache.append(rate(bars, seconds))
            elif served_by_worker == 0:
                from_http_cache.append(rate(bars, seconds))
    # like for like with the worker's cache (a warm bridge, many runs): the same bridge with both memory caches off,
    # so that every answer is read from the store
    assert rig.bridge is not None
    rig.bridge.stop()
    bridge = rig.start_bridge(store, BRIDGE_CACHE_MAX_MB="0", BRIDGE_HTTP_CACHE_MB="0")
    rig.job_done({"symbol": "MSFT", "period": "1m", "duration": "1 D", "end_datetime": YEAR_END}, timeout=60)
    from_store_warm: list[float] = []
    for run in range(18):
        client = RawClient(bridge.port)
        seconds, _ = rig.pages(body, client)
        client.close()
        if run >= 2:  # after each HTTP worker has answered once
            from_store_warm.append(rate(bars, seconds))
    if worker_cache_hits(bridge):
        raise RuntimeError("the worker's cache answered with its cache off")
    store_rate = statistics.median(from_store)
    warm_rate = statistics.median(from_store_warm)
    worker_rate = statistics.median(from_worker_cache) if from_worker_cache else 0.0
    http_rate = statistics.median(from_http_cache) if from_http_cache else 0.0
    return {"bars": bars, "pages": -(-bars // PAGE), "reps": reps, "store_bars_per_s": store_rate,
            "store_warm_bars_per_s": warm_rate, "store_warm_samples": len(from_store_warm),
            "warm_ratio": warm_rate / worker_rate if worker_rate else 0.0,
            "memory_bars_per_s": worker_rate, "memory_samples": len(from_worker_cache),
            "http_cache_bars_per_s": http_rate, "http_cache_samples": len(from_http_cache),
            "ratio": store_rate / worker_rate if worker_rate else 0.0,
            "ratio_to_http_cache": store_rate / http_rate if http_rate else 0.0,
            "upstream_requests_while_measured": len(rig.historical()) - upstream}


def worker_cache_hits(bridge: Gunicorn) -> int:
    health = bridge.health() or {}
    return int(((health.get("worker") or {}).get("cache") or {}).get("hits") or 0)


def restart(rig: Rig, store: Path) -> dict[str, Any]:
    days = [d for d in cal.trading_days(cal.CalendarKind.US_EQUITY, datetime(2024, 11, 1).date(),
                                        datetime(2025, 1, 31).date())][-RESTART_DAYS:]
    bodies = [{"symbol": "KO", "period": period, "duration": "1 D", "end_datetime": f"{d:%Y%m%d} 16:00:00"}
              for d in days for period in ("1m", "5m")]
    assert rig.bridge is not None
    client = RawClient(rig.bridge.port)
    before = len(rig.historical("KO"))
    first = [client.post(body) for body in bodies]
    client.close()
    first_upstream = len(rig.historical("KO")) - before
    rig.stop()
    rig.start_sim()
    rig.start_bridge(store)
    client = RawClient(rig.bridge.port)
    started = time.monotonic()
    second = [client.post(body) for body in bodies]
    seconds = time.monotonic() - started
    client.close()
    same = all(orjson.loads(a[1])["bars"] == orjson.loads(b[1])["bars"] for a, b in zip(first, second, strict=True))
    return {"requests": len(bodies), "first_run_upstream": first_upstream,
            "after_restart_upstream": len(rig.historical()), "statuses": sorted({s for s, _ in second}),
            "same_bars": same, "after_restart_s": seconds}


def store_size(rig: Rig) -> dict[str, Any]:
    stats = rig.store_stats()
    bars, size = int(stats.get("bars") or 0), stats.get("file_bytes")
    return {"bars": bars, "file_bytes": size, "bytes_per_bar": (size / bars) if bars and size else None,
            "series": stats.get("series"), "writes": stats.get("writes")}


def run(log_dir: Path, quick: bool, log_level: str, scale: float | None = None) -> dict[str, Any]:
    scale = scale or (QUICK_PACING_SCALE if quick else PACING_SCALE)
    rig = Rig(log_dir, scale, log_level)
    out: dict[str, Any] = {"pacing_scale": scale, "clock": CLOCK}
    try:
        rig.start_sim()
        rig.start_bridge(log_dir / "fill.sqlite3")
        step("history: fill rate")
        out["fill_rate"] = fill_rate(rig, FILL_SESSIONS)
        rig.bridge.stop()  # type: ignore[union-attr]
        store = log_dir / "year.sqlite3"
        rig.start_bridge(store)
        step("history: a year of minutes")
        out["year"] = year_of_minutes(rig, "1 M" if quick else "1 Y")
        step("history: store hit")
        out["store_hit"] = store_hit(rig, store, 20_000 if quick else STORE_HIT_BARS, 1 if quick else 3)
        step("history: restart")
        out["restart"] = restart(rig, store)
        out["store"] = store_size(rig)
    finally:
        rig.stop()
    return out


def step(name: str) -> None:
    print(f"bench: {name} ...", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    from bench import report

    p = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small ranges: a smoke run, not a result")
    p.add_argument("--scale", type=float, default=None,
                   help=f"the pacing scale of both (default {PACING_SCALE}, {QUICK_PACING_SCALE} with --quick)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default bench/results/history[-quick].json)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tws-bench-history-") as tmp:
        results = run(Path(tmp), args.quick, args.log_level, args.scale)
    print(report.history_table(results))
    for t in report.history_targets(results):
        print(f"| {t['target']} | {t['goal']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    out = args.out or ROOT / "bench" / "results" / ("history-quick.json" if args.quick else "history.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
