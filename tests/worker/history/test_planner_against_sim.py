"""Plans sent window by window to the simulator with the official client, stitched by `covers`, equal one unlimited
request (the simulator's lenient durations) bar for bar: no duplicate, no hole at any window edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sim.options import SimOptions
from tests.conftest import ny
from tests.sim.ib_client import RecordingClient, client_of_frozen_sim
from tests.worker.history.sim_contracts import calendar, instrument
from worker.history.calendar import SessionCalendar
from worker.history.coverage import Span
from worker.history.planner import plan

NOW = ny("2027-05-04 11:00")  # the simulator's frozen clock: every planned span is in the past


@pytest.fixture(scope="module")
def ib() -> Iterator[RecordingClient]:
    with client_of_frozen_sim(SimOptions(port=0, pacing=False, lenient_durations=True), NOW, client_id=7) as client:
        yield client


_ids = iter(range(1000, 10**6))


def fetch(ib: RecordingClient, symbol: str, local_symbol: str, what: str, rth: bool, end: str, duration: str,
          bar_size: str, cal_: SessionCalendar) -> list[tuple[int, dict[str, Any]]]:
    """(start time as the bridge dates it, bar) of one request; [] for "no data"."""
    inst = instrument(symbol)
    c = _contract(inst.con_id if not local_symbol else 0, symbol, inst.sec_type, local_symbol)
    req_id = next(_ids)
    ib.reqHistoricalData(req_id, c, end, duration, bar_size, what, int(rth), 2, False, [])
    done = ib.wait_for(lambda ev: next((e for e in ev if e.req_id == req_id and e.name in ("historicalDataEnd",
                                        "error") and (e.name != "error" or e.data["code"] != 2174)), None), 30)
    if done.name == "error":
        assert done.data["code"] == 162 and "no data" in done.data["message"], done.data
        return []
    out = []
    for e in ib.named("historicalData", req_id):
        text = e.data["date"]
        start = cal_.midnight(_day(text)) if len(text) == 8 else int(text)
        out.append((start, e.data))
    return out


def _contract(con_id: int, symbol: str, sec_type: str, local_symbol: str) -> Any:
    from ibapi.contract import Contract

    c = Contract()
    c.conId, c.symbol, c.secType, c.localSymbol = con_id, symbol, sec_type, local_symbol
    c.exchange = {"CASH": "IDEALPRO", "FUT": "CME"}.get(sec_type, "SMART")
    c.currency = "USD"
    c.includeExpired = sec_type == "FUT"  # the clock is past ESH5's expiry: TWS answers it only with includeExpired
    return c


def _day(text: str) -> Any:
    from datetime import date

    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


PLANS = [  # symbol, localSymbol, whatToShow, useRTH, bar size, lenient duration, its end (New York)
    ("AAPL", "", "TRADES", True, "1 secs", "23400 S", "2025-01-27 16:00"),  # one regular session
    ("AAPL", "", "TRADES", False, "1 min", "1 M", "2025-02-01 00:00"),  # January: New Year, 9 and 20 January
    ("EUR", "", "MIDPOINT", False, "5 mins", "3 M", "2025-04-01 00:00"),  # FX around the clock, DST in March
    ("ES", "ESH5", "TRADES", False, "2 mins", "2 W", "2025-01-25 00:00"),  # Globex evenings, MLK day
    ("AAPL", "", "TRADES", True, "1 day", "3 Y", "2027-01-01 00:00"),  # three years of daily bars
    ("EUR", "", "MIDPOINT", False, "1 day", "2 Y", "2026-12-31 17:00"),  # daily bars of sessions opening the eve
]


# the largest legal windows: 13 x 1800 S; one per trading day (20 in January 2025: 1, 9 and 20 January skipped);
# 1 W of 5-min FX bars; 2 D of Globex sessions (9 sessions around MLK day: 5 windows); 1 Y of daily bars
EXPECTED_WINDOWS = {("AAPL", "1 secs"): 13, ("AAPL", "1 min"): 20, ("EUR", "5 mins"): 13, ("ES", "2 mins"): 5,
                    ("AAPL", "1 day"): 3, ("EUR", "1 day"): 2}


@pytest.mark.parametrize(("symbol", "local", "what", "rth", "bar_size", "duration", "end"), PLANS)
def test_a_stitched_plan_equals_one_unlimited_request(ib: RecordingClient, symbol: str, local: str, what: str,
                                                      rth: bool, bar_size: str, duration: str, end: str) -> None:
    from worker.history.planner import shift_back

    cal_ = calendar(symbol, rth)
    end_epoch = int(ny(end))
    count, unit = duration.split()
    wanted = Span(shift_back(cal_, end_epoch, int(count), unit), end_epoch)
    expected = fetch(ib, symbol, local, what, rth, f"{end.replace('-', '')}:00 America/New_York",
                     duration, bar_size, cal_)
    assert expected, "the unlimited request returns bars"
    assert all(wanted.start <= t < wanted.end for t, _ in expected)

    windows = plan(bar_size, [wanted], cal_)
    stitched: dict[int, dict[str, Any]] = {}
    for w in windows:
        for t, bar in fetch(ib, symbol, local, what, rth, w.end_text, w.duration, bar_size, cal_):
            if w.covers.start <= t < w.covers.end:
                assert t not in stitched, f"bar {t} returned inside the covers of two windows"
                stitched[t] = bar
    got = [(t, stitched[t]) for t in sorted(stitched) if wanted.start <= t < wanted.end]
    assert [t for t, _ in got] == [t for t, _ in expected]  # no hole, no extra bar
    assert got == expected  # bar for bar
    assert len(windows) == EXPECTED_WINDOWS[(symbol, bar_size)]
