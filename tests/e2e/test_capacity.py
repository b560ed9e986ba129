"""1,000 clients on one HTTP worker, none of them helpful: 16 bar requests TWS never answers (the worker's whole bound
on waiting requests), slow-loris clients trickling a request line or a header, bodies trickling after their header,
and idle keep-alive connections. Meanwhile /health answers within 1 s every time, a final answer is served again,
a request past the bound gets 503 `overloaded` at once, slow clients are closed at their deadlines and idle
keep-alive connections stay usable. One scenario runs for the module (real gunicorn, worker and `python -m sim`);
each test checks one of its observations."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.crowd import Client, Crowd, Kind, raise_open_file_limit, request_bytes
from tests.e2e.processes import BridgeProcess, SimProcess
from tests.waiting import wait_until

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 3.0
WAITING = 16  # BRIDGE_MAX_WAITING_REQUESTS here: the hung requests fill the bound exactly
SYMBOLS = ("MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "AMD", "INTC", "QQQ", "JPM", "XOM", "KO", "IBM", "BAC",
           "WMT", "SPY")
CACHED = {"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "20250127 16:00:00"}

LORIS_LINE = Kind("slow request line", b"GET /api/v1/health", trickle=b"x")
LORIS_HEADER = Kind("slow header", b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", trickle=b"a")
SLOW_BODY = Kind("slow body", request_bytes("POST", "/api/v1/bars", b"{", content_length=200), trickle=b" ")
IDLE = Kind("idle keep-alive", request_bytes("GET", "/api/v1/health"))
COUNTS = {LORIS_LINE: 250, LORIS_HEADER: 250, SLOW_BODY: 8, IDLE: 476}  # + WAITING = 1,000


def bars_body(symbol: str) -> bytes:
    return json.dumps({"symbol": symbol, "period": "5m", "duration": "1 D",
                       "end_datetime": "20250124 16:00:00"}).encode()


@dataclass
class Probe:
    what: str
    seconds: float
    status: int | None  # None: no answer within the probe's timeout
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def probe(what: str, url: str, data: bytes | None = None, timeout: float = 3.0) -> Probe:
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"} if data else {})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, headers, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, dict(err.headers), err.read()
    except OSError:
        return Probe(what, time.monotonic() - started, None)
    return Probe(what, time.monotonic() - started, status, headers, json.loads(raw) if raw else None)


@dataclass
class Scenario:
    crowd: Crowd
    opened: float  # when the last crowd connection was open
    probes: list[Probe]
    cached_body: Any
    waiting: list[Client]
    reused: int  # idle connections that answered a second request after the slow clients' deadlines


def run_probes(bridge: BridgeProcess, stop: threading.Event, out: list[Probe]) -> None:
    """Health, a final answer, and one request past the bound, in turn, until `stop`."""
    cached = json.dumps(CACHED).encode()
    past_bound = bars_body("DIA")
    while not stop.is_set():
        out.append(probe("health", f"{bridge.url}/health"))
        out.append(probe("cached", f"{bridge.url}/bars", cached))
        out.append(probe("past the bound", f"{bridge.url}/bars", past_bound))
        stop.wait(0.2)  # the probes' rhythm, not a synchronisation


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    raise_open_file_limit(4096)
    tmp = tmp_path_factory.mktemp("capacity")
    tws = SimProcess(tmp, extra=("--no-pacing",)).start()
    bridge = BridgeProcess(tmp, tws.port, workers=1, BRIDGE_MAX_WAITING_REQUESTS=str(WAITING),
                           BRIDGE_HEADER_TIMEOUT=str(HEADER_TIMEOUT), BRIDGE_BODY_TIMEOUT=str(BODY_TIMEOUT),
                           BAR_TIMEOUT="60")
    crowd = Crowd(bridge.port)
    try:
        bridge.start()
        first = bridge.post("/bars", CACHED)
        assert first.status == 200 and first.body["count"] == 78
        for symbol in SYMBOLS:  # their contracts resolved: what hangs below is the historical request itself
            assert bridge.bars(symbol=symbol, end_datetime="20250123 16:00:00").status == 200
        tws.control("never_answer", name="RequestHistoricalData", count=-1)
        asked = len(tws.received("RequestHistoricalData"))
        waiting = []
        for symbol in SYMBOLS:
            waiting += crowd.open(Kind(f"waiting {symbol}", request_bytes("POST", "/api/v1/bars",
                                                                           bars_body(symbol))), 1)
        wait_until(lambda: len(tws.received("RequestHistoricalData")) >= asked + WAITING, timeout=20,
                   what="the 16 bar requests waiting at TWS")
        for kind, count in COUNTS.items():
            crowd.open(kind, count)
        opened = time.monotonic()
        assert len(crowd.clients) == 1000
        probes: list[Probe] = []
        stop = threading.Event()
        prober = threading.Thread(target=run_probes, args=(bridge, stop, probes), daemon=True)
        prober.start()
        idle = crowd.of(IDLE)
        crowd.run(until=opened + max(HEADER_TIMEOUT, BODY_TIMEOUT) + 3)
        stop.set()
        prober.join(10)
        crowd.send(idle, request_bytes("GET", "/api/v1/health"))
        crowd.run(until=time.monotonic() + 10, done=lambda: all(c.answers == 2 for c in idle))
        reused = sum(1 for c in idle if c.answers == 2 and c.closed_at is None)
        yield Scenario(crowd, opened, probes, first.body, waiting, reused)
    finally:
        crowd.close()
        bridge.stop()
        tws.stop()


def of(scenario: Scenario, what: str) -> list[Probe]:
    return [p for p in scenario.probes if p.what == what]


def enough(probes: list[Probe]) -> None:
    """The probes ran all along: one round every ~0.2 s over the slow clients' whole life (about 6 s)."""
    assert len(probes) >= 10, f"only {len(probes)} {probes[0].what if probes else ''} probes ran"


def timings(probes: list[Probe]) -> list[tuple[int | None, float]]:
    return [(p.status, round(p.seconds, 2)) for p in probes]


def test_health_answers_within_1_s_every_time(scenario: Scenario) -> None:
    health = of(scenario, "health")
    assert all(p.status == 200 and p.seconds < 1.0 for p in health), timings(health)
    assert all(p.body["connected"] is True for p in health)
    enough(health)


def test_a_final_answer_keeps_being_served(scenario: Scenario) -> None:
    cached = of(scenario, "cached")
    assert all(p.status == 200 and p.seconds < 1.0 for p in cached), timings(cached)
    assert all(p.body == scenario.cached_body for p in cached)
    enough(cached)


def test_a_bar_request_past_the_bound_is_503_overloaded_at_once(scenario: Scenario) -> None:
    refused = of(scenario, "past the bound")
    assert all(p.status == 503 and p.seconds < 1.0 for p in refused), timings(refused)  # never a hang
    assert all(p.body["code"] == "overloaded" and p.headers.get("Retry-After") == "1" for p in refused)
    enough(refused)


def test_the_waiting_requests_are_still_waiting(scenario: Scenario) -> None:
    assert all(c.closed_at is None and c.received == b"" for c in scenario.waiting)


def test_slow_loris_connections_are_closed_after_the_header_timeout(scenario: Scenario) -> None:
    for kind in (LORIS_LINE, LORIS_HEADER):
        clients = scenario.crowd.of(kind)
        assert all(c.closed_at is not None for c in clients), f"{kind.name}: still open"
        times = [c.open_for for c in clients if c.open_for is not None]
        assert HEADER_TIMEOUT - 0.1 <= min(times) and max(times) <= HEADER_TIMEOUT + 2, (kind.name, min(times),
                                                                                           max(times))


def test_a_slow_request_line_gets_no_answer_and_a_slow_header_gets_408(scenario: Scenario) -> None:
    assert all(c.received == b"" for c in scenario.crowd.of(LORIS_LINE)), "nothing that looks like a request"
    for client in scenario.crowd.of(LORIS_HEADER):
        head, _, body = client.received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), client.received[:100]
        assert json.loads(body)["code"] == "request_timeout"


def test_a_body_trickling_past_the_body_timeout_gets_408_and_is_closed(scenario: Scenario) -> None:
    for client in scenario.crowd.of(SLOW_BODY):
        assert client.open_for is not None and BODY_TIMEOUT - 0.1 <= client.open_for <= BODY_TIMEOUT + 2
        head, _, body = client.received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
        assert json.loads(body)["code"] == "request_timeout"


def test_idle_keep_alive_connections_stay_open_and_usable(scenario: Scenario) -> None:
    assert scenario.reused == COUNTS[IDLE], f"{scenario.reused} of {COUNTS[IDLE]} idle connections reused"


def test_the_bridge_logged_no_traceback(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = list(Path(tmp_path_factory.getbasetemp()).glob("capacity*/bridge-*.log"))
    assert logs and all("Traceback" not in log.read_text() for log in logs)
