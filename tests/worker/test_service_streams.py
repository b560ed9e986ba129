"""Live streams at the worker's level: the real WorkerService against the simulator (its clock running), a real
ZeroMQ SUB socket for the events and a REQ client for stream_open and fresh requests. Whatever happens to the
connection (dropped, refused for 10 s as in TWS's nightly restart, 1101, 1100 then 1102), the bar events a receiver
applies by the protocol's rule equal a fresh full request afterwards: no gap, no duplicate, no reordering.

IB's 15-second identical-request rule is off here (in the simulator and the worker) so that a resubscription is not
held 15 s; the end-to-end tests keep it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.harness import SimulatedTws
from tests.conftest import ny
from tests.waiting import wait_until
from tests.worker.streaming import AAPL_5S, LiveWorker, Receiver

BAR = 5  # seconds: 5-second bars, so a test sees many bar boundaries in a few seconds of a clock at real speed
WINDOW = "3600 S"  # IB's longest for 5-second bars: the series' subscription


@pytest.fixture
def live(sim_factory: Callable[..., SimulatedTws], tmp_path: Path) -> Iterator[tuple[SimulatedTws, LiveWorker]]:
    sim = sim_factory(clock_at=ny("2025-01-28 10:59:41"), speed=5.0, pacing=False)  # a bar a second
    worker = LiveWorker(tmp_path, sim, pacing_identical_window=0.0)
    yield sim, worker
    worker.stop()


def fresh_equals_stream(sim: SimulatedTws, worker: LiveWorker, receiver: Receiver) -> list[dict[str, Any]]:
    """Freeze TWS's clock mid-bar, wait until the stream has every bar completed by then, and compare with a fresh
    full request: the same bars, the same values, from the stream's first bar on."""
    sim.clock.freeze()
    frozen = sim.clock.now()
    last_completed = int(frozen // BAR) * BAR - BAR
    receiver.wait_for(f"the bar of {last_completed}", lambda r: r.bars and r.bars[-1]["time"] >= last_completed)
    fresh = worker.fresh(AAPL_5S, WINDOW)
    assert fresh[-1]["time"] == last_completed
    first = receiver.bars[0]["time"]
    assert receiver.bars == [b for b in fresh if b["time"] >= first]
    return fresh


def test_a_stream_shows_updates_and_a_completed_bar_at_the_bar_boundary(live: tuple[SimulatedTws, LiveWorker],
                                                                        ) -> None:
    sim, worker = live
    receiver = worker.receiver(AAPL_5S, backfill=3)
    snapshot = receiver.open()
    assert snapshot.series == "265598|SMART|5 secs|TRADES|rth" and snapshot.status == {"status": "live",
                                                                                      "reason": None}
    assert len(snapshot.bars) == 3 and snapshot.forming is not None and snapshot.gap is False
    assert snapshot.bars[-1]["time"] + BAR == snapshot.forming["time"]
    receiver.wait_for("two bars completed", lambda r: len(r.bars) >= 5)
    assert "update" in receiver.kinds(), "the forming bar's updates"
    kinds = receiver.kinds()
    assert kinds.index("update") < kinds.index("bar")
    for event in (e for e in receiver.events if e.event == "bar"):  # final: the bar of a fresh request
        assert receiver.forming is not None and receiver.forming["time"] > event.data["time"]
    fresh_equals_stream(sim, worker, receiver)
    health = worker.health()["streams"]
    published = health["series"][snapshot.series]["seq"]
    assert published >= receiver.seq and health["events_published"] >= published  # later updates may be in flight


def test_one_subscription_serves_every_stream_of_a_series_and_its_polls(live: tuple[SimulatedTws, LiveWorker]
                                                                         ) -> None:
    sim, worker = live
    receivers = [worker.receiver(AAPL_5S) for _ in range(3)]
    for receiver in receivers:
        receiver.open()
    poll = worker.result("bars", {**AAPL_5S, "duration": "1800 S", "include_forming": True})["bars"]
    assert len(poll) == 360
    keep_up = [r for r in sim.request_log.received("RequestHistoricalData")
               if r.fields["query"]["keep_up_to_date"]]
    assert len(keep_up) == 1 and keep_up[0].fields["query"]["duration"] == WINDOW
    for receiver in receivers:
        receiver.wait_for("a bar", lambda r: len(r.bars) >= 2)
    assert len({r.seq for r in receivers}) >= 1
    assert worker.health()["subscriptions"]["total"] == 1


def drop(sim: SimulatedTws) -> None:
    sim.control("drop_all")


def refuse_for_10_s(sim: SimulatedTws) -> None:
    """TWS's nightly restart: the connection goes and connects are refused for 10 s."""
    sim.control("refuse_connections", seconds=10)
    sim.control("drop_all")


def data_lost(sim: SimulatedTws) -> None:
    sim.control("lose_connectivity")
    passed = sim.clock.now() + 2 * BAR
    wait_until(lambda: sim.clock.now() >= passed, what="two bars completed during the outage")
    sim.control("restore_connectivity", data_kept=False)


def data_kept(sim: SimulatedTws) -> None:
    sim.control("lose_connectivity")
    passed = sim.clock.now() + 2 * BAR
    wait_until(lambda: sim.clock.now() >= passed, what="two bars completed during the outage")
    sim.control("restore_connectivity", data_kept=True)


@pytest.mark.parametrize("fault", [drop, refuse_for_10_s, data_lost, data_kept])
def test_after_the_fault_the_stream_bar_events_equal_a_fresh_request(live: tuple[SimulatedTws, LiveWorker],
                                                                     fault: Callable[[SimulatedTws], None]) -> None:
    sim, worker = live
    receiver = worker.receiver(AAPL_5S, backfill=2)
    receiver.open()
    receiver.wait_for("a bar", lambda r: len(r.bars) >= 3)
    fault(sim)
    receiver.wait_for("interrupted, then restored", lambda r: "restored" in r.statuses, timeout=30)
    assert receiver.statuses[:2] == ["interrupted", "restored"]
    if fault is data_kept:  # TWS kept the subscription; the first later update showed the bars it did not send
        receiver.wait_for("requested again", lambda r: r.statuses == ["interrupted", "restored"] * 2)
    restored_at = len(receiver.bars)
    receiver.wait_for("a bar after the restoration", lambda r: len(r.bars) >= restored_at + 2)
    fresh_equals_stream(sim, worker, receiver)
    assert "error" not in receiver.kinds()


def test_at_the_close_the_last_bar_is_published_once_tws_clock_says_it_ended(
        sim_factory: Callable[..., SimulatedTws], tmp_path: Path) -> None:
    sim = sim_factory(clock_at=ny("2025-01-28 15:59:56"), speed=1.0)
    worker = LiveWorker(tmp_path, sim)
    try:
        receiver = worker.receiver(AAPL_5S)
        receiver.open()
        last = int(ny("2025-01-28 15:59:55"))
        receiver.wait_for("the session's last bar", lambda r: r.bars and r.bars[-1]["time"] == last, timeout=20)
        assert worker.health()["streams"]["clock_probes"] >= 1, "TWS was asked its time: no later bar comes"
        fresh = worker.fresh(AAPL_5S, WINDOW)
        assert fresh[-1]["time"] == last and receiver.bars[-1] == fresh[-1]
        passed = sim.clock.now() + 2
        wait_until(lambda: sim.clock.now() >= passed, what="TWS repeating the last bar for a while")
        receiver.pump()
        assert [e.data["time"] for e in receiver.events if e.event == "bar"].count(last) == 1
        assert receiver.bars[-1]["time"] == last
    finally:
        worker.stop()


EUR_1M = {"symbol": "EUR", "bar_size": "1 min", "what_to_show": "MIDPOINT", "use_rth": False, "sec_type": "CASH",
          "exchange": "IDEALPRO", "currency": "USD"}


def test_an_outage_across_fx_17_00_roll_loses_no_bar(sim_factory: Callable[..., SimulatedTws],
                                                     tmp_path: Path) -> None:
    """FX's trading day rolls at 17:00 New York: the resubscription's "1 D" history holds only the new day, and the
    bars between the last one published and it are fetched before it is applied."""
    sim = sim_factory(clock_at=ny("2025-01-28 16:59:40"), speed=10.0, pacing=False)
    worker = LiveWorker(tmp_path, sim, pacing_identical_window=0.0)
    try:
        receiver = worker.receiver(EUR_1M, backfill=3)
        receiver.open()
        assert receiver.bars[-1]["time"] == ny("2025-01-28 16:58")  # 16:59 forms
        sim.control("refuse_connections", seconds=4)  # 40 s of TWS's clock: back after 17:00
        sim.control("drop_all")
        receiver.wait_for("restored", lambda r: "restored" in r.statuses, timeout=30)
        assert worker.health()["streams"]["gap_fills"] == 1, "the new history started at 17:00"
        receiver.wait_for("17:00 completed", lambda r: r.bars[-1]["time"] >= ny("2025-01-28 17:00"), timeout=30)
        sim.clock.freeze()
        receiver.wait_for("every bar up to the freeze",
                          lambda r: r.bars[-1]["time"] == int(sim.clock.now() // 60) * 60 - 60)
        before = worker.result("bars", {**EUR_1M, "duration": "1 D", "end_datetime": "20250128-22:00:00"})["bars"]
        after = worker.fresh(EUR_1M, "1 D")
        expected = [b for b in before + after if b["time"] >= receiver.bars[0]["time"]]
        assert receiver.bars == expected
        assert "error" not in receiver.kinds()
        assert worker.health()["streams"]["series"][receiver.series]["status"] == "live"
    finally:
        worker.stop()
