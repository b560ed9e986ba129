"""IB's documented duration limits per bar size: past them TWS answers 162 "Time length exceed max.", unless the
simulator is started lenient (real TWS sometimes is)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim.bar_sizes import BAR_SIZES
from sim.duration_limits import LONGEST_DURATION, allowed
from sim.history import build_history
from sim.instruments import Universe
from sim.messages import ContractSpec, HistoryQuery, SimError
from tests.conftest import ny
from tests.ports import accepting, free_port
from tests.sim.ib_client import RecordingClient
from tests.sim.test_historical_data import request
from tests.waiting import wait_until

TIME_LENGTH = "Historical Market Data Service error message:Time length exceed max."
AAPL = Universe.load().resolve_one(ContractSpec(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD"))
NOW = ny("2025-12-31 12:00")

# The longest duration IB's table guarantees, per bar size (BRIEF / docs/tws-protocol.md), and the shortest
# duration past it in the same unit or the next (TWS wants a larger unit past 86400 S and 365 D: 321).
LONGEST = {"1 secs": "1800 S", "5 secs": "3600 S", "10 secs": "14400 S", "15 secs": "14400 S", "30 secs": "28800 S",
           "1 min": "1 D", "2 mins": "2 D",
           **dict.fromkeys(("3 mins", "5 mins", "10 mins", "15 mins", "20 mins"), "1 W"),
           **dict.fromkeys(("30 mins", "1 hour", "2 hours", "3 hours", "4 hours", "8 hours"), "1 M"),
           **dict.fromkeys(("1 day", "1 week", "1 month"), "1 Y")}  # fmt: skip
JUST_OVER = {"1800 S": "1801 S", "3600 S": "3601 S", "14400 S": "14401 S", "28800 S": "28801 S", "1 D": "2 D",
             "2 D": "3 D", "1 W": "8 D", "1 M": "31 D", "1 Y": "2 Y"}
SAME_LENGTH = {"1800 S": "1800 S", "3600 S": "3600 S", "14400 S": "14400 S", "28800 S": "28800 S", "1 D": "86400 S",
               "2 D": "2 D", "1 W": "7 D", "1 M": "30 D", "1 Y": "365 D"}


def q(bar: str, duration: str, end: str = "20251230 16:00:00 US/Eastern", keep: bool = False) -> HistoryQuery:
    return HistoryQuery("" if keep else end, bar, duration, True, "TRADES", 1, keep)


def test_the_table_gives_each_bar_size_the_longest_duration_ib_guarantees():
    assert LONGEST_DURATION == LONGEST and set(LONGEST) == set(BAR_SIZES)


@pytest.mark.parametrize("bar", list(LONGEST))
def test_up_to_the_longest_duration_is_served_and_one_past_it_is_refused(bar):
    longest = LONGEST[bar]
    for ok in (longest, SAME_LENGTH[longest], "60 S"):
        assert allowed(bar, ok), (bar, ok)
    assert not allowed(bar, JUST_OVER[longest])
    if BAR_SIZES[bar].seconds >= 30:  # a real answer for every size that stays light enough to build here
        assert build_history(AAPL, q(bar, longest), NOW).bars
    with pytest.raises(SimError) as err:
        build_history(AAPL, q(bar, JUST_OVER[longest]), NOW)
    assert (err.value.code, err.value.message) == (162, TIME_LENGTH)


def test_months_count_30_days_and_years_365():
    assert allowed("30 mins", "30 D") and allowed("30 mins", "4 W") and not allowed("30 mins", "5 W")
    assert allowed("1 day", "12 M") and not allowed("1 day", "13 M") and allowed("1 day", "52 W")
    assert not allowed("1 min", "2 D") and allowed("1 min", "86400 S")


@pytest.mark.parametrize("bar, duration", [("1 secs", "3600 S"), ("5 secs", "1 D"), ("1 min", "1 M")])
def test_the_issues_examples_are_refused_through_the_official_client(ib, bar, duration):
    request(ib, 1, bar=bar, duration=duration)
    err = ib.wait_error(1)
    assert (err.data["code"], err.data["message"]) == (162, TIME_LENGTH)


def test_keep_up_to_date_requests_obey_the_same_table(ib):
    request(ib, 1, end="", bar="5 secs", duration="7200 S", keep=True)
    assert (ib.wait_error(1).data["code"], ib.wait_error(1).data["message"]) == (162, TIME_LENGTH)


def test_the_lenient_option_serves_what_real_tws_sometimes_does(sim_factory, connect):
    ib = connect(sim_factory(lenient_durations=True))
    request(ib, 1, bar="1 min", duration="10 D")
    bars, _ = ib.history(1)
    assert len(bars) == 10 * 390
    with pytest.raises(SimError, match="Time length"):  # a cap stays: 50,000 intraday bars
        build_history(AAPL, q("1 secs", "1 D"), NOW, lenient_durations=True)


def test_the_control_op_switches_leniency_at_runtime(sim, ib):
    sim.control("lenient_durations", value=True)
    request(ib, 1, bar="5 secs", duration="1 D", end="20250127 10:00:00 America/New_York")
    bars, _ = ib.history(1)
    assert len(bars) == 360  # 09:30-10:00
    sim.control("lenient_durations", value=False)
    request(ib, 2, bar="5 secs", duration="1 D", end="20250127 10:00:01 America/New_York")  # not identical: pacing
    assert ib.wait_error(2).data["message"] == TIME_LENGTH
    with pytest.raises(ValueError):
        sim.control("lenient_durations", value="yes")


def test_the_command_line_flag():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "--port", str(port), "--lenient-durations",
                             "--clock-start", "2025-01-28T11:00:00-05:00", "--clock-speed", "0",
                             "--log-level", "WARNING"])
    ib = RecordingClient()
    try:
        wait_until(lambda: accepting(port), what="simulator listening")
        ib.start(port, 1)
        ib.wait_event("nextValidId")
        request(ib, 1, bar="1 min", duration="2 D")
        bars, _ = ib.history(1)
        assert len(bars) == 2 * 390
    finally:
        ib.stop()
        proc.terminate()
        proc.wait(10)
