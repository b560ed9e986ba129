"""Every injectable fault, seen through the official client as a user's program would see it."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time

import pytest

from sim.connection import ClientConnection
from sim.options import SimOptions
from tests.conftest import ny
from tests.sim.ib_client import RecordingClient, stock
from tests.sim.test_historical_data import ZONE, request
from tests.waiting import wait_until


@pytest.mark.parametrize("ask, answer", [
    (lambda ib: ib.reqCurrentTime(), lambda ib: ib.wait_event("currentTime")),
    (lambda ib: request(ib, 1), lambda ib: ib.history(1)),
    (lambda ib: ib.reqContractDetails(2, stock("MSFT")), lambda ib: ib.wait_event("contractDetailsEnd", 2)),
])
def test_a_reply_delay_holds_back_every_answer(sim, ib, ask, answer):
    sim.control("reply_delay", seconds=0.4)
    started = time.monotonic()
    ask(ib)
    answer(ib)
    assert time.monotonic() - started >= 0.4


def test_never_answer_takes_a_count_of_all_or_at_least_one(sim):
    for bad in (0, -2):
        with pytest.raises(ValueError, match="count"):
            sim.control("never_answer", name="RequestIds", count=bad)


def test_a_request_that_is_never_answered_stays_open_until_cancelled(sim, ib):
    sim.control("never_answer", name="RequestHistoricalData", count=1)
    request(ib, 1)
    request(ib, 2, duration="2 D")
    ib.history(2)
    assert not [e for e in ib.events if e.req_id == 1]
    assert sim.open_requests() == 1
    ib.cancelHistoricalData(1)
    err = ib.wait_error(1)
    assert err.data["code"] == 162 and "cancelled" in err.data["message"]
    assert sim.open_requests() == 0


def test_frames_split_across_tcp_writes_are_reassembled_by_the_client(sim, ib):
    sim.control("split_frames", value=True)
    request(ib, 1)
    bars, _ = ib.history(1)
    assert len(bars) == 78


def test_a_split_frame_goes_out_in_several_writes_cut_inside_the_length_prefix():
    class Writer:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        async def drain(self) -> None:
            return None

    conn = ClientConnection.__new__(ClientConnection)  # only the writer is needed to split
    conn.writer = Writer()  # type: ignore[assignment]
    frame = b"\x00\x00\x00\x10" + b"0123456789abcdef"
    asyncio.run(conn._write_split(frame))
    writes = conn.writer.writes  # type: ignore[attr-defined]
    assert b"".join(writes) == frame and len(writes) >= 3 and len(writes[0]) < 4


def test_a_handshake_that_never_answers_leaves_the_client_waiting(sim):
    sim.control("silent_handshake", value=True)
    with socket.create_connection(("127.0.0.1", sim.port), timeout=0.5) as raw:
        raw.sendall(b"API\0" + struct.pack("!I", 9) + b"v100..157")
        with pytest.raises(TimeoutError):
            raw.recv(100)  # silence, not a close (which would return b"")
        assert sim.connection_count() == 1
    with pytest.raises(ConnectionError):
        RecordingClient().start(sim.port, 3, timeout=1.0)


def test_a_reused_request_id_replaces_the_open_request(sim_factory, connect):
    sim = sim_factory(clock_at=ny("2025-01-27 11:02:00"), speed=5.0)
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    ib.wait_event("historicalDataUpdate", 1)
    request(ib, 1, duration="2 D")  # same id, plain history: the stream is dropped
    wait_until(lambda: sim.open_requests() == 0, what="the earlier stream dropped")


def test_drop_every_connection_now(sim, connect):
    a, b = connect(sim, 1), connect(sim, 2)
    sim.control("drop_all")
    a.wait_event("connectionClosed")
    b.wait_event("connectionClosed")
    wait_until(lambda: sim.connection_count() == 0)


def test_drop_after_the_bars_of_the_next_history(sim, ib):
    sim.control("drop_after_next_history")
    request(ib, 1)
    bars, _ = ib.history(1)
    assert len(bars) == 78
    ib.wait_event("connectionClosed")


def test_drop_in_the_middle_of_a_keep_up_to_date_stream(sim_factory, connect):
    sim = sim_factory(clock_at=ny("2025-01-27 11:02:00"), speed=5.0)
    ib = connect(sim)
    sim.control("drop_after_updates", count=3)
    request(ib, 1, end="", keep=True)
    ib.wait_event("connectionClosed")
    assert len(ib.named("historicalDataUpdate", 1)) == 3


def test_refuse_connections_for_a_while_then_accept_again(sim, connect):
    sim.control("refuse_connections", seconds=0.5)
    with pytest.raises(ConnectionError):
        RecordingClient().start(sim.port, 4, timeout=2.0)

    def reconnects() -> bool:
        try:
            connect(sim, 4)
        except ConnectionError:
            return False
        return True

    wait_until(reconnects, timeout=10.0, interval=0.1, what="accepting again")


def test_connectivity_lost_stops_updates_and_1102_resumes_them(sim_factory, connect):
    sim = sim_factory(clock_at=ny("2025-01-27 11:02:00"), speed=5.0)
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    ib.wait_event("historicalDataUpdate", 1)
    sim.control("lose_connectivity")
    ib.wait_for(lambda ev: [e for e in ev if e.name == "error" and
                           e.data["code"] == 1100])
    ib.reqCurrentTime()  # ordered after the 1100: updates queued before it may still arrive
    ib.wait_event("currentTime")
    paused = len(ib.named("historicalDataUpdate", 1))
    with pytest.raises(AssertionError):
        ib.wait_for(lambda ev: len([e for e in ev if e.name == "historicalDataUpdate"]) > paused, timeout=0.5)
    sim.control("restore_connectivity", data_kept=True)
    ib.wait_for(lambda ev: [e for e in ev if e.name == "error" and e.data["code"] == 1102])
    ib.wait_for(lambda ev: len([e for e in ev if e.name == "historicalDataUpdate"]) > paused)


def test_1101_restores_connectivity_but_the_subscriptions_are_lost(sim_factory, connect):
    sim = sim_factory(clock_at=ny("2025-01-27 11:02:00"), speed=5.0)
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    ib.wait_event("historicalDataUpdate", 1)
    sim.control("lose_connectivity")
    sim.control("restore_connectivity", data_kept=False)
    ib.wait_for(lambda ev: [e for e in ev if e.name == "error" and e.data["code"] == 1101])
    assert sim.open_requests() == 0


@pytest.mark.parametrize("farm, ok, code", [("market", False, 2103), ("market", True, 2104),
                                            ("hmds", False, 2105), ("hmds", True, 2106)])
def test_farm_status_notices(sim, ib, farm, ok, code):
    before = len(ib.named("error"))
    sim.control("set_farm", farm=farm, ok=ok)
    got = ib.wait_for(lambda ev: [e for e in ev if e.name == "error"][before:])
    assert got[0].data["code"] == code and got[0].req_id == -1


def test_every_received_message_is_recorded_with_its_client_id(sim, ib):
    request(ib, 1)
    ib.history(1)
    (hist,) = sim.request_log.received("RequestHistoricalData")
    assert hist.client_id == 1 and hist.msg_id == 20
    assert hist.fields["query"]["bar_size"] == "5 mins"
    assert hist.fields["contract"]["symbol"] == "AAPL"
    assert next(r.name for r in sim.request_log.received()) == "StartApi"


def test_the_log_is_written_as_json_lines(sim_factory, connect, tmp_path):
    path = tmp_path / "requests.jsonl"
    ib = connect(sim_factory(log_requests=path))
    request(ib, 1, bar="7 mins")
    ib.wait_error(1)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = {(r["kind"], r.get("name") or r.get("code")) for r in records}
    assert ("request", "StartApi") in kinds and ("request", "RequestHistoricalData") in kinds
    assert ("error", 321) in kinds


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="port"):
        SimOptions(port=70000)
    with pytest.raises(ValueError, match="update interval"):
        SimOptions(update_interval=0)


def test_forming_bar_dates_keep_their_zone(sim_factory, connect):
    ib = connect(sim_factory(clock_at=ny("2025-01-27 11:02:00"), speed=5.0))
    request(ib, 1, end="", keep=True)
    update = ib.wait_event("historicalDataUpdate", 1)
    assert update.data["date"] == f"20250127 11:00:00 {ZONE}"
