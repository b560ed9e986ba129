"""GET /metrics against real gunicorn (2 HTTP workers), the real TWS worker and the simulator: the HTTP workers'
figures add up across processes, the TWS worker's figures move with what it does, a killed HTTP worker leaves no
stale gauge, and a past run's figures never show."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.processes import BridgeProcess, SimProcess, http
from tests.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
STALE_PID = 999_999_999  # a process that never ran on this host
HEALTH_200 = ("tws_bridge_http_requests_total", {"route": "/api/v1/health", "method": "GET", "status": "200"})


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This bridge's multiprocess directory, holding what a crashed earlier run left: a live gauge and a counter."""
    directory = tmp_path_factory.mktemp("metrics")
    _stale_value(directory / f"gauge_livesum_{STALE_PID}.db", "tws_bridge_http_stream_clients",
                 "tws_bridge_http_stream_clients", {}, 7.0)
    _stale_value(directory / f"counter_{STALE_PID}.db", "tws_bridge_http_requests", "tws_bridge_http_requests_total",
                 HEALTH_200[1], 1000.0)
    return directory


@pytest.fixture(scope="module")
def bridge(tws: SimProcess, metrics_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port, BRIDGE_METRICS_DIR=str(metrics_dir),
                      BRIDGE_API_TOKEN="a-token-for-the-api-0123456789").start()
    yield b
    b.stop()


def _stale_value(path: Path, metric: str, sample: str, labels: dict[str, str], value: float) -> None:
    """A value as prometheus_client's multiprocess mode writes it, in a file of a process that is gone."""
    mapped = MmapedDict(str(path))
    mapped.write_value(mmap_key(metric, sample, list(labels), list(labels.values()), "stale"), value, 0.0)
    mapped.close()


def scrape(bridge: BridgeProcess) -> Samples:
    answer = http("GET", f"{bridge.origin}/metrics")  # no token: /metrics is open like /health
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.body) for s in family.samples}


def value(samples: Samples, name: str, labels: dict[str, str] | None = None) -> float:
    return samples.get((name, frozenset((labels or {}).items())), 0.0)


def http_worker_pids(bridge: BridgeProcess) -> set[int]:
    """gunicorn's HTTP workers: the master's children but the TWS worker's supervisor."""
    assert bridge.proc is not None
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == bridge.proc.pid and b"worker.supervisor" not in cmdline:
            pids.add(int(entry.name))
    return pids


def test_the_http_workers_figures_add_up_across_workers(bridge: BridgeProcess) -> None:
    before = scrape(bridge)
    pids: list[int] = []

    def both_workers_answered() -> bool:  # each request on a new connection: the two workers take turns by chance
        pids.append(bridge.get("/health").body["http_worker_pid"])
        return len(set(pids)) == 2 and len(pids) >= 10

    wait_until(both_workers_answered, timeout=20, what="health answered by both HTTP workers")
    after = scrape(bridge)  # one worker answers the scrape; it reads every worker's figures
    assert value(after, *HEALTH_200) - value(before, *HEALTH_200) == len(pids)
    count = ("tws_bridge_http_request_duration_seconds_count", {"route": "/api/v1/health"})
    assert value(after, *count) - value(before, *count) == len(pids)


def test_a_past_runs_figures_are_gone_at_start(bridge: BridgeProcess, metrics_dir: Path) -> None:
    assert not list(metrics_dir.glob(f"*_{STALE_PID}.db"))
    samples = scrape(bridge)
    assert value(samples, "tws_bridge_http_stream_clients") == 0
    assert value(samples, *HEALTH_200) < 1000


def test_routes_are_templates_and_unknown_paths_one_label(bridge: BridgeProcess) -> None:
    token = {"Authorization": "Bearer a-token-for-the-api-0123456789"}
    for job in ("a1b2c3d4e5f60718", "ffffffffffffffff"):
        assert http("GET", f"{bridge.url}/jobs/{job}", headers=token).status == 404
    for path in ("/nowhere", "/api/v1/nothing/here"):
        assert http("GET", f"{bridge.origin}{path}").status == 404
    samples = scrape(bridge)
    routes = {dict(labels)["route"] for name, labels in samples if name == "tws_bridge_http_requests_total"}
    assert {"/api/v1/jobs/<job_id>", "unmatched"} <= routes
    assert not any("a1b2" in route or "nowhere" in route for route in routes)


def test_the_tws_workers_figures_move_with_what_it_does(bridge: BridgeProcess) -> None:
    token = {"Authorization": "Bearer a-token-for-the-api-0123456789"}
    before = scrape(bridge)
    assert value(before, "tws_bridge_worker_up") == 1
    assert value(before, "tws_bridge_tws_connection_state", {"state": "connected"}) == 1
    assert value(before, "tws_bridge_tws_connected") == 1
    answer = bridge.post("/bars", {"symbol": "MSFT", "period": "5m", "duration": "1 D"}, headers=token)
    assert answer.status == 200, answer.body
    unknown = bridge.post("/bars", {"symbol": "NOSUCHSYM", "period": "5m", "duration": "1 D"}, headers=token)
    assert unknown.status == 404 and unknown.body["tws_code"] == 200
    after = scrape(bridge)
    historical = ("tws_bridge_upstream_requests_total", {"kind": "historical"})
    assert value(after, *historical) == value(before, *historical) + 1  # the miss went upstream, once
    lookups = ("tws_bridge_upstream_requests_total", {"kind": "contract_details"})
    assert value(after, *lookups) == value(before, *lookups) + 2  # MSFT, and the symbol TWS does not know
    code_200 = ("tws_bridge_tws_errors_total", {"code": "200"})
    assert value(after, *code_200) == value(before, *code_200) + 1
    assert value(after, "tws_bridge_cache_misses_total") > value(before, "tws_bridge_cache_misses_total")
    assert value(after, "tws_bridge_store_bars") > value(before, "tws_bridge_store_bars")
    assert value(after, "tws_bridge_pacing_open_requests_left") == 50


def test_a_killed_http_worker_leaves_no_stale_stream_clients(bridge: BridgeProcess) -> None:
    token = "a-token-for-the-api-0123456789"
    streams = [_open_stream(bridge, token) for _ in range(2)]
    try:
        wait_until(lambda: value(scrape(bridge), "tws_bridge_http_stream_clients") == 2, timeout=10,
                   what="both stream clients counted")
        killed = http_worker_pids(bridge)
        assert len(killed) == 2
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: (pids := http_worker_pids(bridge)) and len(pids) == 2 and not pids & killed,
                   timeout=20, what="gunicorn replaced the killed HTTP workers")
        wait_until(bridge.answering, timeout=10, what="the bridge answering again")
        samples = scrape(bridge)
        assert value(samples, "tws_bridge_http_stream_clients") == 0
        assert value(samples, "tws_bridge_worker_up") == 1
    finally:
        for conn in streams:
            conn.close()


def _open_stream(bridge: BridgeProcess, token: str) -> socket.socket:
    """A stream client: the request sent, the 200's headers read; the connection stays open."""
    conn = socket.create_connection(("127.0.0.1", bridge.port), timeout=10)
    conn.sendall(f"GET /api/v1/bars/stream?symbol=AAPL&period=1m HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        assert chunk, f"the stream closed before its headers: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return conn
