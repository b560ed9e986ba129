"""GET /api/v1/bars/stream end to end: real gunicorn (2 gevent HTTP workers), the real TWS worker and `python -m sim`
with a running clock. Across the client's own disconnects, a dropped TWS connection, 1101 and a TWS that refuses
connections for 10 s, the `bar` events a client sees are exactly the series a fresh full POST /bars returns
afterwards: no gap, no duplicate, no reordering."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.processes import BridgeProcess, SimProcess
from tests.e2e.stream_clients import StreamConnection, StreamReaders
from tests.waiting import wait_until

SERIES = {"symbol": "AAPL", "period": "1m"}
WINDOW = {**SERIES, "duration": "1 D"}  # IB's longest window for 1-min bars: the stream's series
SPEED = 30.0  # TWS's clock: a 1-min bar completes every 2 s


@pytest.fixture(scope="module")
def tws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """Tuesday 2025-01-28 from 10:00 New York at 30x: the session lasts 12 minutes of real time."""
    sim = SimProcess(tmp_path_factory.mktemp("tws"), clock_start="2025-01-28T10:00:00-05:00", speed=SPEED,
                     extra=("--no-pacing",)).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def bridge(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    # fresh answers every time: no reuse of answers ending now, no wait between identical requests
    b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port, BRIDGE_CACHE_NOW_TTL="0",
                      PACING_IDENTICAL_WINDOW="0").start()
    yield b
    b.stop()


@pytest.fixture
def readers() -> Iterator[StreamReaders]:
    r = StreamReaders()
    yield r
    r.close()


def fresh(bridge: BridgeProcess, **fields: Any) -> list[dict[str, Any]]:
    answer = bridge.post("/bars", {**WINDOW, **fields})
    assert answer.status == 200, answer.body
    return answer.body["bars"]


def assert_exact(seen: list[dict[str, Any]], series: list[dict[str, Any]]) -> None:
    """The client's bars are the fresh series, from its first bar to its last: no gap, no duplicate, no reordering,
    every value as the fresh answer has it."""
    times = [b["time"] for b in seen]
    assert times == sorted(set(times)), "bars repeated or out of order"
    assert seen, "no bar seen"
    assert series[0]["time"] == seen[0]["time"], "the client's first bar is the window's first (backfill)"
    assert seen == series[:len(seen)]


def bars_of(*streams: StreamConnection) -> list[dict[str, Any]]:
    return [e.data for s in streams for e in s.of_kind("bar")]


def wait_bars(stream: StreamConnection, count: int, timeout: float = 30) -> None:
    wait_until(lambda: stream.ended or len(stream.of_kind("bar")) >= count, timeout=timeout,
               what=f"{count} bars on the stream")
    assert not stream.ended, stream.events[-3:]


UPDATE_S = 0.2 * SPEED  # TWS's clock between two keepUpToDate updates (SimProcess: --update-interval 0.2)


def wait_completed_after(tws: SimProcess, time: int, bars: int = 3) -> None:
    """Until `bars` more bars after the one at `time` have completed, by TWS's clock, and TWS's update for the bar
    after them has had time to arrive (two update intervals): what a client away meanwhile missed."""
    wait_until(lambda: tws.control("clock_now") >= time + 60 * (bars + 1) + 2 * UPDATE_S, timeout=30, interval=0.1,
               what="bars completed meanwhile")


def test_a_stream_shows_updates_and_a_completed_bar_at_a_bar_boundary(bridge, readers) -> None:
    stream = readers.open_bars(bridge.port, **SERIES)
    wait_until(lambda: stream.of_kind("update") and stream.of_kind("status"), what="the stream live")
    assert stream.status == 200
    assert stream.response_headers["content-type"].startswith("text/event-stream")
    assert (stream.response_headers["cache-control"], stream.response_headers["x-accel-buffering"]) == \
        ("no-cache", "no")
    assert stream.parser.retry == 3000
    assert stream.of_kind("status")[0].data == {"status": "live", "reason": None}
    wait_bars(stream, 1)
    (completed,) = stream.of_kind("bar")
    assert completed.id == str(completed.data["time"])
    before = [r.event for r in stream.received if r.event.kind == "update"]
    assert any(u.data["time"] == completed.data["time"] for u in before), "the bar was forming before"
    wait_until(lambda: any(e.kind == "update" and e.data["time"] == completed.data["time"] + 60
                           for e in stream.events), what="an update of the next bar")
    assert completed.data in fresh(bridge), "the completed bar has its final values"


@pytest.mark.parametrize("how", ["header", "query"])
def test_resume_after_the_clients_own_disconnect_yields_the_fresh_series(bridge, tws, readers, how: str) -> None:
    first = readers.open_bars(bridge.port, backfill=5000, **SERIES)
    wait_bars(first, len(fresh(bridge)) + 2)
    readers.drop(first)
    last = first.of_kind("bar")[-1]
    wait_completed_after(tws, last.data["time"])
    resume = {"headers": {"Last-Event-ID": last.id}} if how == "header" else {"last_event_id": last.id}
    second = readers.open_bars(bridge.port, **resume, **SERIES)
    wait_bars(second, 4)
    assert_exact(bars_of(first, second), fresh(bridge))


@pytest.mark.parametrize("fault", ["drop", "1101", "refuse for 10 s"])
def test_across_a_tws_fault_the_client_sees_the_fresh_series(bridge, tws, readers, fault: str) -> None:
    stream = readers.open_bars(bridge.port, backfill=5000, **SERIES)
    wait_bars(stream, len(fresh(bridge)) + 1)
    seen_before = len(stream.of_kind("bar"))
    if fault == "drop":
        tws.control("drop_all")
    elif fault == "1101":
        tws.control("lose_connectivity")
        wait_until(lambda: any(e.kind == "status" and e.data["status"] == "interrupted" for e in stream.events),
                   what="interrupted")
        wait_completed_after(tws, stream.of_kind("bar")[-1].data["time"])
        tws.control("restore_connectivity", data_kept=False)
    else:  # TWS's nightly restart
        tws.control("refuse_connections", seconds=10)
        tws.control("drop_all")
        wait_completed_after(tws, stream.of_kind("bar")[-1].data["time"])
    wait_until(lambda: any(e.kind == "status" and e.data["status"] == "restored" for e in stream.events),
               timeout=40, what="the series restored")
    statuses = [e.data["status"] for e in stream.of_kind("status")]
    assert statuses[-2:] == ["interrupted", "restored"], statuses
    wait_bars(stream, seen_before + 8, timeout=40)
    assert_exact(bars_of(stream), fresh(bridge))


def test_many_clients_share_one_upstream_subscription(bridge, tws, readers) -> None:
    streams = [readers.open_bars(bridge.port, symbol="MSFT", period="1m") for _ in range(20)]
    wait_until(lambda: all(s.of_kind("status") for s in streams), what="20 streams live")
    assert bridge.post("/bars", {"symbol": "MSFT", "period": "1m", "duration": "1 D", "include_forming": True}) \
        .status == 200
    wait_until(lambda: all(s.of_kind("bar") for s in streams), timeout=20, what="a bar on every stream")
    subscriptions = [r for r in tws.received("RequestHistoricalData")
                     if r["fields"]["contract"]["symbol"] == "MSFT" and r["fields"]["query"]["keep_up_to_date"]]
    assert len(subscriptions) == 1, subscriptions


def test_a_symbol_tws_does_not_know_is_an_error_event_then_the_end(bridge, readers) -> None:
    stream = readers.open_bars(bridge.port, symbol="NOSUCHSYM", period="1m")
    wait_until(lambda: stream.ended, what="the stream ended")
    assert [(e.kind, e.data["code"]) for e in stream.events] == [("error", "symbol_not_found")]
    assert stream.status == 200


def test_an_invalid_query_is_400_json_before_any_stream(bridge) -> None:
    answer = bridge.get("/bars/stream?symbol=AAPL&period=7m")
    assert answer.status == 400 and answer.body["code"] == "invalid_request" and "period" in answer.body["fields"]


def test_no_free_subscription_slot_is_an_error_event(make_tws, make_bridge, readers) -> None:
    tws = make_tws(speed=SPEED, extra=("--no-pacing",)).start()
    bridge = make_bridge(tws.port, BRIDGE_MAX_SUBSCRIPTIONS="1")
    first = readers.open_bars(bridge.port, **SERIES)
    wait_until(lambda: first.of_kind("status"), what="the first stream live")
    second = readers.open_bars(bridge.port, symbol="MSFT", period="1m")
    wait_until(lambda: second.ended, what="the second stream ended")
    assert [(e.kind, e.data["code"]) for e in second.events] == [("error", "subscriptions_exhausted")]
    assert not first.ended


def test_include_forming_answers_the_http_worker_repeats_are_never_behind_the_stream(bridge, readers) -> None:
    """The HTTP workers repeat a live series' include_forming answer until its next event (app/streams/
    forming_cache.py): every answer is at least as new as what a stream of the series had shown before it was asked,
    and its completed bars are the series'."""
    stream = readers.open_bars(bridge.port, **SERIES)
    wait_until(lambda: stream.of_kind("update"), what="the stream live")
    poll = {**WINDOW, "include_forming": True}
    checked, served_before = 0, _forming_hits(bridge)
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        asked = time.time()
        shown = [r.event.data for r in list(stream.received) if r.event.kind == "update" and r.at < asked]
        answer = bridge.post("/bars", poll)
        assert answer.status == 200, answer.body
        forming = answer.body["bars"][-1]
        if shown:
            assert (forming["time"], forming["volume"]) >= (shown[-1]["time"], shown[-1]["volume"]), \
                "an answer older than what the stream had shown"
            checked += 1
    assert checked > 50
    assert _forming_hits(bridge) > served_before, "no answer was repeated by an HTTP worker"


def _forming_hits(bridge: BridgeProcess) -> int:
    """Hits of the include_forming answers, summed over the HTTP workers health reached (each answers for itself)."""
    seen: dict[int, int] = {}
    for _ in range(20):
        body = bridge.get("/health").body
        seen[body["http_worker_pid"]] = body["http_worker"]["forming_answers"]["hits"]
    return sum(seen.values())
