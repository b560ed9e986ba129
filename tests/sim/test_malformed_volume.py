"""The malformed_volume fault: a volume no official client can decode, in every framing, history and updates alike.

9.81 reads a bar's volume with int(): "0.5" (a fraction) kills its reader thread. The 10.x client reads it with
Decimal(), which takes "0.5" but raises InvalidOperation on "1,234" (a thousands separator), which its run loop does
not catch either. Both then close the connection.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal, InvalidOperation

import pytest

from sim import codec
from sim.messages import Bar
from tests.conftest import ny
from tests.ports import accepting, free_port
from tests.sim.ib_client import IS_V10, stock
from tests.sim.raw_client import RawClient
from tests.sim.test_codec import VERSIONS, receive
from tests.sim.test_historical_data import request
from tests.sim.versions import SERVER_VERSIONS
from tests.waiting import wait_until

UNREADABLE = "1,234" if IS_V10 else "0.5"  # the text the installed client cannot decode
BAR = Bar("20250127 09:30:00 America/New_York", 1.5, 2.0, 1.0, 1.75, 100, 1.6, 7)
died = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the client's reader


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("text", ["1,234", "0.5"])
def test_every_framing_carries_the_text_verbatim_and_the_client_cannot_decode_it(version, text):
    enc = codec.ReplyEncoder(version)
    bad = Bar(BAR.date, BAR.open, BAR.high, BAR.low, BAR.close, text, BAR.wap, BAR.count)
    for frame in (enc.historical_data(1, [bad], "s", "e"), enc.historical_data_update(1, bad)):
        assert text.encode() in frame
        if text == "0.5" and IS_V10:
            bars = [args[1] for name, args in receive(version, frame) if name != "historicalDataEnd"]
            assert [bar.volume for bar in bars] == [Decimal("0.5")]  # 10.x reads it
            continue
        with pytest.raises((ValueError, InvalidOperation)):
            receive(version, frame)


def raw_history_volumes(port: int, symbol: str = "AAPL") -> list[str]:
    """The volume fields of a 157 historicalData frame ([17, id, start, end, n, (date o h l c volume wap count)*n])."""
    client = RawClient(port)
    try:
        client.start_api()
        client.send(20, 1, 0, symbol, "STK", "", 0.0, "", "", "SMART", "", "USD", "", "", 0,
                    "20250127 16:00:00 America/New_York", "1 hour", "1 D", 1, "TRADES", 1, 0, "")
        (frame,) = client.wait_for(lambda frames: client.of(17))[-1:]
        return frame[10::8][: int(frame[4])]
    finally:
        client.close()


@died
@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
def test_the_official_client_fails_on_the_historical_bars(sim_factory, connect, max_version):
    sim = sim_factory(max_version=max_version)
    ib = connect(sim)
    sim.control("malformed_volume", symbol="AAPL", text=UNREADABLE)
    request(ib, 1)
    ib.wait_event("connectionClosed")
    assert not ib.named("historicalData", 1) and not ib.named("historicalDataEnd", 1)


@died
@pytest.mark.parametrize("max_version", [v for v in SERVER_VERSIONS if v in (157, 200, 208, max(SERVER_VERSIONS))])
def test_the_official_client_fails_on_the_keep_up_to_date_updates(sim_factory, connect, max_version):
    sim = sim_factory(clock_at=ny("2025-01-27 11:02:00"), speed=5.0, max_version=max_version)
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    ib.history(1)  # the bars were fine
    sim.control("malformed_volume", symbol="AAPL", text=UNREADABLE)
    ib.wait_event("connectionClosed")


def test_it_touches_only_that_symbol_and_clear_faults_ends_it(sim_factory):
    sim = sim_factory(pacing=False)  # the same request three times
    sim.control("malformed_volume", symbol="aapl", text="0.5")
    assert set(raw_history_volumes(sim.port)) == {"0.5"}
    assert all(v.isdigit() for v in raw_history_volumes(sim.port, "MSFT"))
    sim.control("clear_faults")
    assert all(v.isdigit() for v in raw_history_volumes(sim.port))


def test_the_text_must_fit_in_a_field(sim):
    with pytest.raises(ValueError, match="NUL"):
        sim.control("malformed_volume", symbol="AAPL", text="1\0")
    with pytest.raises(ValueError, match="symbol"):
        sim.control("malformed_volume", symbol="", text="x")


def test_the_command_line_flag(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "--port", str(port), "--malformed-volume", "AAPL=abc",
                             "--clock-start", "2025-01-28T11:00:00-05:00", "--clock-speed", "0",
                             "--log-level", "WARNING"])
    try:
        wait_until(lambda: accepting(port), what="simulator listening")
        assert set(raw_history_volumes(port)) == {"abc"}
    finally:
        proc.terminate()
        proc.wait(10)
    out = subprocess.run([sys.executable, "-m", "sim", "--malformed-volume", "AAPL"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "--malformed-volume" in out.stderr


def test_an_official_client_reads_the_same_bars_once_the_fault_is_cleared(sim, connect):
    sim.control("malformed_volume", symbol="AAPL", text=UNREADABLE)
    sim.control("clear_faults")
    ib = connect(sim)
    request(ib, 1, contract=stock("AAPL"))
    bars, _ = ib.history(1)
    assert len(bars) == 78
