"""The stream's measurements (issue 9), on a simulator of their own that sends an update every 0.1 s per series:

- latency: from the simulator writing a keepUpToDate update to its socket (its update log, `record_updates`) to a
  stream client reading the event it became, 100 clients on one series;
- fan-out: 1,000 clients on 10 series: the CPU the whole bridge uses (gunicorn, HTTP workers, the TWS worker), how far
  any client falls behind (simulator updates sent after the one a client just read), the HTTP workers' RSS per client.

The clients are raw HTTP/1.1 streams read by one selector thread of the bench (tests/e2e/stream_clients.py), each
read stamped before anything is parsed.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from bench.processes import Gunicorn, Simulator, cpu_seconds, descendants, http_json, rss_mb
from bench.stats import latency_summary
from tests.e2e.crowd import raise_open_file_limit
from tests.e2e.stream_clients import StreamConnection, StreamReaders
from tests.waiting import wait_until

UPDATE_INTERVAL = "0.1"
FANOUT_SYMBOLS = ("AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "AMD", "INTC", "QQQ")
LATENCY_SYMBOL = "SPY"  # a series of its own: the fan-out's clients are gone, its subscriptions may not be
Key = tuple[Any, ...]


def content(bar: dict[str, Any]) -> Key:
    """What identifies one update of a series: the simulator's values as the bridge passes them on."""
    return (float(bar["open"]), float(bar["high"]), float(bar["low"]), float(bar["close"]), str(bar["volume"]),
            int(bar["count"]))


def prime_forming(bridge: Gunicorn, body: dict[str, Any], workers: int) -> None:
    """Until every HTTP worker repeats the include_forming answer itself: each keeps it only once its SUB socket has
    seen an event of the series since it subscribed (app/streams/forming_cache.py), up to one update interval."""
    def primed() -> bool:
        http_json(bridge.port, "POST", "/api/v1/bars", body)
        entries: dict[int, int] = {}
        for _ in range(4 * workers):
            _, health = http_json(bridge.port, "GET", "/api/v1/health")
            entries[health["http_worker_pid"]] = health["http_worker"]["forming_answers"]["entries"]
        return len(entries) == workers and all(entries.values())
    wait_until(primed, timeout=60, interval=0.2, what="every HTTP worker repeating the include_forming answer")


def run(log_dir: Path, quick: bool, log_level: str) -> dict[str, Any]:
    raise_open_file_limit(8192)
    sim = Simulator(log_dir, extra=("--update-interval", UPDATE_INTERVAL), name="sim-streams")
    bridge = Gunicorn("bridge-streams", log_dir, "wsgi:app", 0, 4, LOG_LEVEL=log_level)
    try:
        sim.start()
        bridge.env["TWS_PORT"] = str(sim.port)
        bridge.start()
        out = {"update_interval_s": float(UPDATE_INTERVAL),
               "fanout": fanout(bridge, sim, 1000, FANOUT_SYMBOLS, 4.0 if quick else 20.0),
               "latency": latency(bridge, sim, 100, 3.0 if quick else 20.0)}
    finally:
        bridge.stop()
        sim.stop()
    return out


def open_streams(readers: StreamReaders, bridge: Gunicorn, symbols: tuple[str, ...], count: int) \
        -> list[tuple[str, StreamConnection]]:
    streams = []
    for n in range(count):
        symbol = symbols[n % len(symbols)]
        streams.append((symbol, readers.open_bars(bridge.port, symbol=symbol, period="1m")))
    wait_until(lambda: all(s.of_kind("status") or s.ended for _, s in streams), timeout=120, interval=0.1,
               what=f"{count} streams live")
    failed = [s.events for _, s in streams if s.ended]
    if failed:
        raise RuntimeError(f"{len(failed)} streams ended at once, e.g. {failed[0]}")
    return streams


def sent_updates(sim: Simulator, since: float) -> dict[str, list[tuple[float, Key]]]:
    """The simulator's updates sent after `since`, per symbol, in order: (send time, content)."""
    symbol_of = {(r["connection"], r["fields"]["req_id"]): r["fields"]["contract"]["symbol"]
                 for r in sim.control("received", name="RequestHistoricalData")}
    per: dict[str, list[tuple[float, Key]]] = defaultdict(list)
    for u in sim.control("updates_sent"):
        if u["wall"] >= since:
            per[symbol_of[(u["connection"], u["req_id"])]].append((u["wall"], content(u["bar"])))
    return per


def received_updates(stream: StreamConnection, since: float) -> list[tuple[float, Key]]:
    """The updates and bars a client read after `since` (a bar is the simulator's last update of it)."""
    return [(r.at, content(r.event.data)) for r in list(stream.received)
            if r.event.kind in ("update", "bar") and r.at >= since]


def latency(bridge: Gunicorn, sim: Simulator, clients: int, seconds: float) -> dict[str, Any]:
    readers = StreamReaders(loads=orjson.loads)
    try:
        streams = open_streams(readers, bridge, (LATENCY_SYMBOL,), clients)
        readers.hold_parsing()
        sim.control("record_updates", value=True)
        start = time.time()
        time.sleep(seconds)  # the measuring window: streams run by themselves meanwhile
        sim.control("record_updates", value=False)
        end = time.time()
        readers.parse_held()
        sent: dict[Key, float] = {}
        for at, key in sent_updates(sim, start)[LATENCY_SYMBOL]:
            sent.setdefault(key, at)  # an unchanged update repeats content; the first one is what was published
        delays = [at - sent[key] for _, s in streams for at, key in received_updates(s, start)
                  if key in sent and at <= end + 1]
        unmatched = sum(1 for _, s in streams for _, key in received_updates(s, start) if key not in sent)
    finally:
        readers.close()
    return {"clients": clients, "series": 1, "seconds": seconds, "updates_sent": len(sent),
            "events_measured": len(delays), "unmatched": unmatched, **latency_summary(delays)}


def fanout(bridge: Gunicorn, sim: Simulator, clients: int, symbols: tuple[str, ...], seconds: float) \
        -> dict[str, Any]:
    http_pids = bridge.http_worker_pids()
    rss_before = sum(rss_mb(p) or 0.0 for p in http_pids)
    readers = StreamReaders(loads=orjson.loads)
    try:
        streams = open_streams(readers, bridge, symbols, clients)
        time.sleep(1.0)  # let the connections settle before the window (not a synchronisation)
        rss_with = sum(rss_mb(p) or 0.0 for p in http_pids)
        pids = descendants(bridge.pid)
        readers.hold_parsing()
        sim.control("record_updates", value=True)
        cpu0, t0, start = sum(cpu_seconds(p) for p in pids), time.monotonic(), time.time()
        time.sleep(seconds)  # the measuring window
        cpu1, t1 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        sim.control("record_updates", value=False)
        end = time.time()
        time.sleep(0.5)  # updates sent at the window's end still on their way (not a synchronisation)
        readers.parse_held()
        sent = sent_updates(sim, start)
        behind_max, behind_over_1, measured, missed = 0, 0, 0, 0
        for symbol, stream in streams:
            times = [at for at, _ in sent[symbol]]
            first_sent = {}
            for at, key in sent[symbol]:
                first_sent.setdefault(key, at)
            got = [(at, key) for at, key in received_updates(stream, start) if key in first_sent]
            for at, key in got:
                # updates of the series the simulator had sent after this one when the client read it
                behind = bisect.bisect_right(times, at) - bisect.bisect_right(times, first_sent[key])
                behind_max = max(behind_max, behind)
                behind_over_1 += behind > 1
            measured += len(got)
            published = {key for at, key in sent[symbol] if at <= end - 0.5}
            missed = max(missed, len(published - {key for _, key in got}))
    finally:
        readers.close()
    cores = (cpu1 - cpu0) / (t1 - t0)
    return {"clients": clients, "series": len(symbols), "seconds": seconds, "bridge_cores": cores,
            "bridge_processes": len(pids), "events_measured": measured, "max_behind": behind_max,
            "reads_behind_more_than_1": behind_over_1, "max_updates_missed_by_a_client": missed,
            "http_rss_before_mb": rss_before, "http_rss_with_clients_mb": rss_with,
            "rss_per_client_kb": (rss_with - rss_before) * 1024 / clients}
