"""TWS's 50 messages per second per client: the message over the limit gets error 100 and is not served."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from sim.ctl import request as control
from sim.message_rate import MessageRate
from sim.options import SimOptions
from tests.ports import accepting, free_port
from tests.sim.raw_client import RawClient, errors, text_frame
from tests.waiting import wait_until

CURRENT_TIME = text_frame(49, 1)  # reqCurrentTime


def burst(port: int, count: int) -> RawClient:
    """startApi and `count` reqCurrentTime in ONE write: all of them arrive well inside one second."""
    client = RawClient(port)
    client.send_raw(text_frame(71, 2, 1, "") + CURRENT_TIME * count)
    return client


def answered(client: RawClient, expected: int) -> tuple[list[list[str]], list[tuple[int, int, str]]]:
    """Wait until `expected` replies (currentTime or error 100) arrived; return both kinds."""
    client.wait_for(lambda f: len([x for x in f if x[:1] == ["49"] or x[:4] == ["4", "2", "-1", "100"]]) >= expected)
    return client.of(49), [e for e in errors(client.frames) if e[1] == 100]


def test_the_51st_message_in_a_second_gets_error_100_with_tws_text_and_is_not_served(sim):
    client = burst(sim.port, 59)  # 60 messages: startApi is the first one counted
    times, refused = answered(client, 59)
    assert len(times) == 49 and len(refused) == 10
    assert refused[0] == (-1, 100, "Max rate of messages per second has been exceeded:max=50 rec=51 (1)")
    assert refused[-1][2] == "Max rate of messages per second has been exceeded:max=50 rec=60 (10)"
    # recorded like every error sent, and every message received is in the request log
    assert [e.message for e in sim.request_log.errors(100)] == [m for _, _, m in refused]
    assert len(sim.request_log.received("RequestCurrentTime")) == 59
    client.close()


def test_the_limit_is_an_option_and_0_turns_it_off(sim_factory):
    small = burst(sim_factory(max_message_rate=5).port, 9)
    times, refused = answered(small, 9)
    assert (len(times), len(refused)) == (4, 5) and refused[0][2].endswith("max=5 rec=6 (1)")
    off = burst(sim_factory(max_message_rate=0).port, 200)
    times, refused = answered(off, 200)
    assert (len(times), len(refused)) == (200, 0)


def test_the_limit_is_per_connection(sim_factory):
    sim = sim_factory(max_message_rate=5)
    first = burst(sim.port, 9)
    answered(first, 9)
    second = RawClient(sim.port)
    second.send_raw(text_frame(71, 2, 2, "") + CURRENT_TIME * 4)
    times, refused = answered(second, 4)
    assert (len(times), len(refused)) == (4, 0)


def test_the_control_op_changes_the_limit_at_runtime(sim):
    assert sim.control("max_message_rate") == {"max_message_rate": 50, "drop_after_rate_violations": 0}
    sim.control("max_message_rate", value=3)
    times, refused = answered(burst(sim.port, 4), 4)
    assert (len(times), len(refused)) == (2, 2)
    with pytest.raises(ValueError):
        sim.control("max_message_rate", value=-1)


def test_a_client_that_keeps_flooding_is_dropped_when_asked(sim_factory):
    client = burst(sim_factory(max_message_rate=5, drop_after_rate_violations=2).port, 20)
    client.wait_closed()
    assert [m for _, c, m in errors(client.frames) if c == 100] == [
        "Max rate of messages per second has been exceeded:max=5 rec=6 (1)",
        "Max rate of messages per second has been exceeded:max=5 rec=7 (2)"]


def test_the_official_client_sees_error_100(sim_factory, connect):
    ib = connect(sim_factory(max_message_rate=5))
    for _ in range(10):
        ib.reqCurrentTime()
    ib.wait_for(lambda ev: len([e for e in ev if e.name == "currentTime" or
                                (e.name == "error" and e.data["code"] == 100)]) == 10)
    refused = [e for e in ib.named("error", -1) if e.data["code"] == 100]
    assert refused and all(re.fullmatch(r"Max rate of messages per second has been exceeded:max=5 rec=\d+ \(\d+\)",
                                        e.data["message"]) for e in refused)


def test_the_window_slides_over_real_time():
    rate = MessageRate()
    assert [rate.received(t, 3) for t in (0.0, 0.1, 0.2)] == [None, None, None]
    assert rate.received(0.5, 3) == "Max rate of messages per second has been exceeded:max=3 rec=4 (1)"
    assert rate.received(1.05, 3) == "Max rate of messages per second has been exceeded:max=3 rec=4 (2)"
    assert rate.received(1.25, 3) is None  # 0.0, 0.1 and 0.2 have left the window: 0.5, 1.05, 1.25 remain
    assert rate.received(9.0, 3) is None and rate.violations == 2


def test_every_log_entry_carries_the_wall_time_it_was_received(sim_factory, tmp_path):
    path = tmp_path / "log.jsonl"
    sim = sim_factory(log_requests=path)
    before = time.time()
    answered(burst(sim.port, 3), 3)
    after = time.time()
    received = sim.request_log.received()
    assert len(received) == 4 and all(before <= r.wall <= after for r in received)
    assert [r["wall"] for r in sim.control("received")] == [r.wall for r in received]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(before <= line["wall"] <= after for line in lines)


def test_bad_limits_are_refused():
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="max message rate"):
            SimOptions(max_message_rate=bad)  # type: ignore[arg-type]


def test_the_command_line_sets_the_limit(tmp_path):
    port, control_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "--port", str(port), "--control-port", str(control_port),
                             "--max-message-rate", "7", "--drop-after-rate-violations", "3", "--log-level", "WARNING"])
    try:
        wait_until(lambda: accepting(control_port) and accepting(port), what="simulator listening")
        assert control(control_port, "max_message_rate") == {"max_message_rate": 7, "drop_after_rate_violations": 3}
        control(control_port, "max_message_rate", value=0)
        assert control(control_port, "max_message_rate")["max_message_rate"] == 0
    finally:
        proc.terminate()
        proc.wait(10)
