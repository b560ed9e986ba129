"""`python -m sim` as its own process: options, the control socket (`python -m sim.ctl`) and the request log file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sim.cli import build_parser
from sim.ctl import request as control
from tests.ports import accepting, free_port
from tests.sim.ib_client import RecordingClient
from tests.waiting import wait_until


@pytest.fixture
def sim_process(tmp_path) -> Iterator[tuple[int, int, object]]:
    port, control_port = free_port(), free_port()
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "--port", str(port), "--control-port", str(control_port),
                             "--log-requests", str(log), "--clock-start", "2025-01-28T11:00:00-05:00",
                             "--clock-speed", "0", "--update-interval", "0.05", "--log-level", "WARNING"])
    try:
        wait_until(lambda: accepting(control_port) and accepting(port), what="simulator listening")
        yield port, control_port, log
    finally:
        proc.terminate()
        proc.wait(10)


def test_help_explains_every_option():
    text = build_parser().format_help()
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert flag in text
        assert action.help, f"{action.option_strings} has no help"
    out = subprocess.run([sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--refuse-for" in out.stdout and "--log-requests" in out.stdout


def test_a_bad_option_stops_with_a_message_naming_it():
    out = subprocess.run([sys.executable, "-m", "sim", "--clock-start", "tomorrow"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "--clock-start" in out.stderr
    out = subprocess.run([sys.executable, "-m", "sim", "--port", "70000"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "port" in out.stderr


def test_the_process_serves_the_official_client_and_obeys_its_control_socket(sim_process):
    port, control_port, log = sim_process
    ib = RecordingClient().start(port, 11)
    try:
        ib.wait_event("nextValidId")
        ib.reqCurrentTime()
        assert ib.wait_event("currentTime").data["time"] == 1738080000  # the clock set on the command line
        assert control(control_port, "client_ids") == [11]
        control(control_port, "drop_all")
        ib.wait_event("connectionClosed")
    finally:
        ib.stop()
    names = [json.loads(line).get("name") for line in log.read_text().splitlines()]
    assert "StartApi" in names and "RequestCurrentTime" in names


def test_ctl_command_line(sim_process):
    _, control_port, _ = sim_process
    out = subprocess.run([sys.executable, "-m", "sim.ctl", "--control-port", str(control_port),
                          "refuse_connections", "seconds=0.2"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, "-m", "sim.ctl", "--control-port", str(control_port), "no_such_op"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "unknown operation" in out.stderr
