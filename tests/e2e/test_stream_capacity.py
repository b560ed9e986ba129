"""500 stream clients, 16 bar requests TWS never answers and 200 slow-loris connections at once, on real gunicorn (2
gevent HTTP workers), the real TWS worker and `python -m sim` with a running clock: meanwhile /health answers within
1 s every time, a cached POST /bars keeps being served, and every stream keeps receiving its series' updates."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.crowd import Client, Crowd, Kind, raise_open_file_limit, request_bytes
from tests.e2e.processes import BridgeProcess, SimProcess
from tests.e2e.stream_clients import StreamConnection, StreamReaders
from tests.e2e.test_capacity import Probe, probe
from tests.waiting import wait_until

STREAMS = 500
SERIES = ("AAPL", "MSFT", "AMZN", "GOOGL", "META")  # 100 clients each
# 16 distinct bar requests TWS never answers: 8 symbols x 2 days
WAITING = [(symbol, day) for symbol in ("NVDA", "TSLA", "AMD", "INTC", "QQQ", "JPM", "XOM", "KO")
           for day in ("20250124", "20250122")]
LORIS = Kind("slow header", b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", trickle=b"a")
LORIS_COUNT = 200
WINDOW_S = 6.0  # within BRIDGE_HEADER_TIMEOUT (10 s): the slow-loris connections are all open meanwhile
CACHED = {"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250127 16:00:00"}


def bars_body(symbol: str, day: str) -> bytes:
    return json.dumps({"symbol": symbol, "period": "5m", "duration": "1 D",
                       "end_datetime": f"{day} 16:00:00"}).encode()


@dataclass
class Scenario:
    streams: list[StreamConnection]
    events_before: list[int]  # each stream's events when the window opened
    events_after: list[int]
    probes: list[Probe]
    cached_body: dict
    loris: list[Client]
    waiting: list[Client]
    window_end: float


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    raise_open_file_limit(4096)
    tmp = tmp_path_factory.mktemp("stream-capacity")
    tws = SimProcess(tmp, extra=("--no-pacing",)).start()
    bridge = BridgeProcess(tmp, tws.port, workers=2, BAR_TIMEOUT="60")
    readers = StreamReaders()
    crowd = Crowd(bridge.port)
    try:
        bridge.start()
        cached = bridge.post("/bars", CACHED)
        assert cached.status == 200
        for symbol in {symbol for symbol, _ in WAITING}:  # contracts resolved: what hangs is the bars request
            assert bridge.bars(symbol=symbol, end_datetime="20250123 16:00:00").status == 200
        streams = [readers.open_bars(bridge.port, symbol=SERIES[n % len(SERIES)], period="1m")
                   for n in range(STREAMS)]
        wait_until(lambda: all(s.of_kind("status") for s in streams), timeout=60, interval=0.1,
                   what=f"{STREAMS} streams live")
        tws.control("never_answer", name="RequestHistoricalData", count=-1)
        asked = len(tws.received("RequestHistoricalData"))
        waiting = [c for symbol, day in WAITING for c in crowd.open(
            Kind(f"waiting {symbol} {day}", request_bytes("POST", "/api/v1/bars", bars_body(symbol, day))), 1)]
        wait_until(lambda: len(tws.received("RequestHistoricalData")) >= asked + len(WAITING), timeout=20,
                   what="the 16 bar requests waiting at TWS")
        loris = crowd.open(LORIS, LORIS_COUNT)
        probes: list[Probe] = []
        stop = threading.Event()

        def run_probes() -> None:
            while not stop.is_set():
                probes.append(probe("health", f"{bridge.url}/health"))
                probes.append(probe("cached", f"{bridge.url}/bars", json.dumps(CACHED).encode()))
                stop.wait(0.2)  # the probes' rhythm, not a synchronisation

        before = [len(s.received) for s in streams]
        prober = threading.Thread(target=run_probes, daemon=True)
        prober.start()
        crowd.run(until=time.monotonic() + WINDOW_S)
        stop.set()
        prober.join(10)
        yield Scenario(streams, before, [len(s.received) for s in streams], probes, cached.body, loris, waiting,
                       time.monotonic())
    finally:
        readers.close()
        crowd.close()
        bridge.stop()
        tws.stop()


def test_health_answers_within_1_s_every_time(scenario: Scenario) -> None:
    health = [p for p in scenario.probes if p.what == "health"]
    assert len(health) >= 10 and all(p.status == 200 and p.seconds < 1.0 for p in health), \
        [(p.status, round(p.seconds, 2)) for p in health]


def test_a_cached_answer_keeps_being_served(scenario: Scenario) -> None:
    cached = [p for p in scenario.probes if p.what == "cached"]
    assert len(cached) >= 10 and all(p.status == 200 and p.seconds < 1.0 for p in cached)
    assert all(p.body == scenario.cached_body for p in cached)


def test_every_stream_kept_receiving_its_updates(scenario: Scenario) -> None:
    assert not any(s.ended for s in scenario.streams)
    grew = [after - before for before, after in zip(scenario.events_before, scenario.events_after, strict=True)]
    assert min(grew) >= 5, f"a stream got only {min(grew)} events in {WINDOW_S:g} s"


def test_the_slow_clients_and_waiting_requests_were_there_all_along(scenario: Scenario) -> None:
    assert all(c.closed_at is None for c in scenario.loris), "a slow-loris connection closed before the window ended"
    assert all(c.closed_at is None and c.received == b"" for c in scenario.waiting)
