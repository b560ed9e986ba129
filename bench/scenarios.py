"""The five measurements of issue 5, each a function of the running processes that returns a JSON-able dict.

Keys: every miss uses a (symbol, day) never asked before in the run, so a cache cannot answer it; the same keys go to
the bridge and to direct ibapi, interleaved, so both see the same machine at the same moment.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.client import HTTPConnection
from typing import Any

import orjson

from bench.direct import DirectClient
from bench.load import run_load
from bench.processes import Gunicorn, Simulator, rss_mb
from bench.stats import compare, latency_summary, rate
from bench.streams import prime_forming
from sim.trading_calendar import CalendarKind, session_for_day, trading_days

BARS = "/api/v1/bars"
SYMBOLS = ("AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "AMD", "INTC", "QQQ", "JPM", "XOM", "KO", "IBM",
           "BAC", "WMT", "SPY", "DIA", "IWM", "GLD")  # not NFLX (not subscribed) nor SHOP (ambiguous)
FULL_SESSION = 6.5 * 3600  # 09:30-16:00: 78 five-minute bars; early closes are left out
WHATS = ("TRADES", "MIDPOINT", "BID", "ASK")
HIT_BODY = {"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250127 16:00:00"}
FORMING_BODY = {"symbol": "AAPL", "period": "5m", "duration": "1 D", "include_forming": True}


class KeyPool:
    """Fresh (symbol, day) pairs: full regular sessions before the simulator's clock start, newest first."""

    def __init__(self, first: date = date(2024, 6, 3), last: date = date(2025, 1, 24)) -> None:
        days = [d for d in trading_days(CalendarKind.US_EQUITY, first, last)
                if (s := session_for_day(CalendarKind.US_EQUITY, True, d)) and s.end - s.start == FULL_SESSION]
        self._keys: Iterator[tuple[str, date]] = ((sym, day) for day in reversed(days) for sym in SYMBOLS)

    def take(self) -> tuple[str, date]:
        return next(self._keys)


class BridgeClient:
    """One keep-alive connection, as a user's HTTP client would hold; the answer is read and parsed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], bytes]:
        data = orjson.dumps(body)
        for attempt in (0, 1):  # gunicorn closes a connection idle for GUNICORN_KEEPALIVE (75 s): reconnect once
            try:
                self.conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, orjson.loads(raw), raw
            except (ConnectionError, OSError):
                self.conn.close()
                self.conn = HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def bars(self, body: dict[str, Any]) -> dict[str, Any]:
        status, parsed, _ = self.post(BARS, body)
        if status != 200:
            raise RuntimeError(f"bridge answered {status}: {parsed}")
        return parsed


def _end(day: date, clock: str = "16:00:00") -> str:
    return f"{day:%Y%m%d} {clock}"


def _pacing(bridge: Gunicorn) -> dict[str, Any]:
    return ((bridge.health() or {}).get("worker") or {}).get("pacing") or {}


MISS_RATE = 20.0  # misses a second per side: inside TWS's 50 messages/s and the bridge's budget (40/s, burst 8)


def miss_path(bridge: Gunicorn, direct: DirectClient, keys: KeyPool, n: int) -> dict[str, Any]:
    """5m x 1 D (78 bars), one at a time, a new key each time; bridge and direct alternate which goes first.

    Misses start at a steady MISS_RATE per side, as a client that keeps TWS's message rate would send them: back to
    back they would reach 150/s, which TWS refuses (error 100) and the bridge's message budget queues, so the latency
    measured would be the queue's, not the bridge's. whatToShow rotates over TRADES, MIDPOINT, BID, ASK: IB allows
    fewer than 6 requests per contract and whatToShow in 2 s, and the bridge waits rather than break that rule (the
    simulator runs with --no-pacing, direct ibapi does not wait); 20 symbols x 4 keep every group under the limit,
    so what is measured is the bridge, not its pacing.
    """
    client = BridgeClient(bridge.port)
    for sym in SYMBOLS:  # resolve every contract first (the bridge caches conIds for its life), warm both paths
        day = keys.take()[1]
        client.bars({"symbol": sym, "period": "5m", "duration": "1 D", "end_datetime": _end(day)})
        direct.history(sym, f"{_end(day)} US/Eastern", "1 D", "5 mins")
    pacing_before = _pacing(bridge)
    b_lat: list[float] = []
    d_lat: list[float] = []
    counts: set[int] = set()
    started = time.perf_counter()
    for i in range(n):
        pause = started + i / MISS_RATE - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # the client's rhythm (open loop), not a synchronisation
        sym, day = keys.take()
        what = WHATS[(i // len(SYMBOLS)) % len(WHATS)]
        body = {"symbol": sym, "period": "5m", "duration": "1 D", "what": what, "end_datetime": _end(day)}
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            if side == 0:
                counts.add(client.bars(body)["count"])
                b_lat.append(time.perf_counter() - t0)
            else:
                counts.add(len(direct.history(sym, f"{_end(day)} US/Eastern", "1 D", "5 mins", what=what)))
                d_lat.append(time.perf_counter() - t0)
    b, d = latency_summary(b_lat), latency_summary(d_lat)
    waited = _pacing(bridge).get("waited", 0) - pacing_before.get("waited", 0)
    return {"requests": n, "bars_per_answer": sorted(counts), "bridge": b, "direct": d, "pacing_waits": waited,
            "p50": compare(b, d, "p50_ms"), "p99": compare(b, d, "p99_ms")}


def hit_path(bridge: Gunicorn, trivial: Gunicorn, sim: Simulator, wrk: str | None, seconds: float,
             concurrencies: tuple[int, ...]) -> dict[str, Any]:
    """Closed-loop load on a cached answer, on include_forming, and on the trivial route; upstream requests counted
    during each run say whether the bridge really answered from memory."""
    client = BridgeClient(bridge.port)
    client.bars(HIT_BODY)  # prime: the cache (end in the past) and the live subscription
    client.bars(FORMING_BODY)
    prime_forming(bridge, FORMING_BODY, len(bridge.http_worker_pids()))  # each HTTP worker repeats it itself
    targets = {"cached": (bridge.port, BARS, HIT_BODY), "forming": (bridge.port, BARS, FORMING_BODY),
               "trivial": (trivial.port, "/ping", HIT_BODY)}
    out: dict[str, Any] = {}
    for name, (port, path, body) in targets.items():
        text = orjson.dumps(body).decode()
        run_load(wrk, port, path, text, 8, min(1.0, seconds))  # warm-up: every worker imported, every thread up
        rows = []
        for c in concurrencies:
            before = sim.upstream_history_requests() if name != "trivial" else 0
            result = run_load(wrk, port, path, text, c, seconds).as_dict()
            if name != "trivial":
                result["upstream_requests"] = sim.upstream_history_requests() - before
                result["served_from"] = "memory" if result["upstream_requests"] == 0 else "TWS (miss: no cache yet)"
            rows.append(result)
        out[name] = rows
    return out


def large_answers(bridge: Gunicorn, direct: DirectClient, keys: KeyPool, reps: int) -> dict[str, Any]:
    """session=all: 3 mins x 1 W and 1 secs x 1800 S, bars/s through the bridge against direct ibapi (the largest
    answers IB's duration table allows: 1,600 and 1,800 bars)."""
    client = BridgeClient(bridge.port)
    out: dict[str, Any] = {}
    for period, bar_size, duration in (("3m", "3 mins", "1 W"), ("1s", "1 secs", "1800 S")):
        totals = {"bridge": [0, 0.0], "direct": [0, 0.0]}
        for i in range(reps):
            sym, day = keys.take()
            end = _end(day, "20:00:00")
            for side in (("bridge", "direct") if i % 2 == 0 else ("direct", "bridge")):
                t0 = time.perf_counter()
                if side == "bridge":
                    count = client.bars({"symbol": sym, "period": period, "duration": duration, "session": "all",
                                         "end_datetime": end})["count"]
                else:
                    count = len(direct.history(sym, f"{end} US/Eastern", duration, bar_size, use_rth=False))
                totals[side][0] += count
                totals[side][1] += time.perf_counter() - t0
        b = {"bars": totals["bridge"][0], "seconds": totals["bridge"][1],
             "bars_per_s": rate(totals["bridge"][0], totals["bridge"][1])}
        d = {"bars": totals["direct"][0], "seconds": totals["direct"][1],
             "bars_per_s": rate(totals["direct"][0], totals["direct"][1])}
        out[f"{bar_size} x {duration}"] = {"requests": reps, "bridge": b, "direct": d,
                                           "ratio": compare(b, d, "bars_per_s")["ratio"]}
    return out


def coalescing(bridge: Gunicorn, sim: Simulator, keys: KeyPool, n: int) -> dict[str, Any]:
    """n concurrent identical misses against one miss alone: wall time, and upstream requests the simulator saw."""
    sym, day = keys.take()
    alone_body = {"symbol": sym, "period": "5m", "duration": "1 D", "end_datetime": _end(day)}
    sym, day = keys.take()
    body = {"symbol": sym, "period": "5m", "duration": "1 D", "end_datetime": _end(day)}
    client = BridgeClient(bridge.port)
    client.bars({**alone_body, "duration": "2 D"})  # the contract resolved and the connection warm: not measured
    before = sim.upstream_history_requests()
    t0 = time.perf_counter()
    client.bars(alone_body)
    alone = time.perf_counter() - t0
    alone_upstream = sim.upstream_history_requests() - before

    clients = [BridgeClient(bridge.port) for _ in range(n)]
    gate = threading.Barrier(n + 1, timeout=30)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def one(c: BridgeClient) -> None:
        gate.wait()
        try:
            status, _, raw = c.post(BARS, body)
            digest = hashlib.sha256(raw).hexdigest()
        except OSError as exc:
            status, digest = 0, str(exc)
        with lock:
            answers.append((status, digest))

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    before = sim.upstream_history_requests()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(120)
    wall = time.perf_counter() - t0
    upstream = sim.upstream_history_requests() - before
    return {"concurrent": n, "upstream_requests": upstream, "wall_s": wall, "alone_s": alone,
            "alone_upstream_requests": alone_upstream, "wall_ratio": wall / alone if alone else None,
            "ok_answers": sum(1 for s, _ in answers if s == 200),
            "distinct_answers": len({d for s, d in answers if s == 200})}


def memory(bridge: Gunicorn) -> dict[str, Any]:
    """VmRSS of the TWS worker and of each HTTP worker, in MB."""
    http_pids = bridge.http_worker_pids()
    worker_pid = bridge.worker_pid()
    return {"worker_pid": worker_pid, "worker_mb": rss_mb(worker_pid),
            "http_workers": {str(p): rss_mb(p) for p in http_pids},
            "http_workers_total_mb": sum(rss_mb(p) or 0 for p in http_pids)}
