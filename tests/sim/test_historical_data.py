"""Historical bars through the real client: counts, calendars, date forms and the keepUpToDate stream."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.conftest import ny
from tests.sim.ib_client import stock
from tests.sim.versions import SERVER_VERSIONS

ZONE = "America/New_York"


def request(ib, req_id, contract=None, end="20250127 16:00:00 America/New_York", duration="1 D", bar="5 mins",
            what="TRADES", rth=1, fmt=1, keep=False):
    ib.reqHistoricalData(req_id, contract or stock("AAPL"), end, duration, bar, what, rth, fmt, keep, [])


@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
def test_a_full_regular_session_has_78_five_minute_bars(sim_factory, connect, max_version):
    ib = connect(sim_factory(max_version=max_version))
    request(ib, 1)
    bars, end = ib.history(1)
    assert len(bars) == 78
    assert bars[0]["date"] == f"20250127 09:30:00 {ZONE}"
    assert bars[-1]["date"] == f"20250127 15:55:00 {ZONE}"
    for b in bars:
        assert b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"]
        assert b["low"] <= b["wap"] <= b["high"]
        assert b["volume"] > 0 and b["count"] > 0
    assert end.data["start"] and end.data["end"]


def test_extended_hours_give_04_00_to_20_00(ib):
    request(ib, 1, rth=0, end="20250127 20:00:00 America/New_York")
    bars, _ = ib.history(1)
    assert len(bars) == 192
    assert bars[0]["date"] == f"20250127 04:00:00 {ZONE}"
    assert bars[-1]["date"] == f"20250127 19:55:00 {ZONE}"


def test_an_early_close_ends_the_regular_session_at_13_00(sim_factory, connect):
    ib = connect(sim_factory(clock_at=ny("2025-12-01 12:00")))
    request(ib, 1, end="20251128 16:00:00 America/New_York")
    bars, _ = ib.history(1)
    assert len(bars) == 42
    assert bars[-1]["date"] == f"20251128 12:55:00 {ZONE}"


def test_daily_bars_skip_the_weekend_and_the_holiday(ib):
    # 2025-01-18/19 weekend, 2025-01-20 Martin Luther King Jr. Day
    request(ib, 1, end="20250122 16:00:00 America/New_York", duration="5 D", bar="1 day")
    bars, _ = ib.history(1)
    assert [b["date"] for b in bars] == ["20250115", "20250116", "20250117", "20250121", "20250122"]


@pytest.mark.parametrize("end, warned", [
    ("20250127 16:00:00 America/New_York", False),
    ("20250127 16:00:00 US/Eastern", False),
    ("20250127-21:00:00", False),
    ("20250127 16:00:00", True),
])
def test_each_end_date_form_gives_the_same_bars(ib, end, warned):
    request(ib, 1, end=end)
    bars, _ = ib.history(1)
    assert len(bars) == 78 and bars[-1]["date"] == f"20250127 15:55:00 {ZONE}"
    assert bool([e for e in ib.named("error", 1) if e.data["code"] == 2174]) == warned


def test_an_empty_end_means_now_and_the_last_bar_is_the_forming_one(sim_factory, connect):
    sim = sim_factory(clock_at=ny("2025-01-27 11:02:30"))
    ib = connect(sim)
    request(ib, 1, end="")
    bars, _ = ib.history(1)
    assert bars[-1]["date"] == f"20250127 11:00:00 {ZONE}"
    assert len(bars) == 19  # 09:30 .. 11:00
    sim.control("clock_freeze", at=ny("2025-01-28 11:00"))
    request(ib, 2, end="20250127 16:00:00 America/New_York")
    full, _ = ib.history(2)
    assert bars[:-1] == full[:18], "a bar has the same values whichever request returns it"
    forming, complete = bars[-1], full[18]
    assert forming["open"] == complete["open"]
    assert complete["low"] <= forming["low"] and forming["high"] <= complete["high"]
    assert forming["volume"] < complete["volume"]


def test_format_date_2_gives_epoch_seconds(ib):
    request(ib, 1, fmt=2)
    bars, _ = ib.history(1)
    assert int(bars[0]["date"]) == int(ny("2025-01-27 09:30"))


def test_legacy_dates_use_two_spaces_and_no_zone(sim_factory, connect):
    ib = connect(sim_factory(legacy_dates=True))
    request(ib, 1)
    bars, _ = ib.history(1)
    assert bars[0]["date"] == "20250127  09:30:00"


def test_midpoint_bars_have_volume_minus_one(ib):
    request(ib, 1, what="MIDPOINT")
    bars, _ = ib.history(1)
    assert len(bars) == 78 and all(b["volume"] == -1 for b in bars)


def test_fx_trades_around_the_clock_and_refuses_trades(ib):
    eur = stock("EUR", exchange="IDEALPRO", currency="USD", sec_type="CASH")
    # an FX trading day runs 17:00 to 17:00 New York time: "2 D" reaches back to Sunday 17:00
    request(ib, 1, contract=eur, what="MIDPOINT", bar="1 hour", rth=0, duration="2 D",
            end="20250127 23:00:00 America/New_York")
    bars, _ = ib.history(1)
    dates = [b["date"] for b in bars]
    assert f"20250127 02:00:00 {ZONE}" in dates and f"20250127 22:00:00 {ZONE}" in dates
    assert all(b["volume"] == -1 for b in bars)
    request(ib, 2, contract=eur, what="TRADES")
    assert ib.wait_error(2).data["code"] in (162, 321)


def test_fx_opens_sunday_evening(ib):
    eur = stock("EUR", exchange="IDEALPRO", currency="USD", sec_type="CASH")
    request(ib, 1, contract=eur, what="MIDPOINT", bar="1 hour", rth=0, duration="2 D",
            end="20250126 20:00:00 America/New_York")
    bars, _ = ib.history(1)
    dates = [b["date"] for b in bars]
    assert not any(d.startswith("20250125") for d in dates), "no FX bars on Saturday"
    assert f"20250126 17:00:00 {ZONE}" in dates, "FX reopens Sunday 17:00"


def test_contract_details_for_a_stock_and_each_future_expiry(ib):
    ib.reqContractDetails(1, stock("AAPL"))
    ib.wait_event("contractDetailsEnd", 1)
    (aapl,) = ib.named("contractDetails", 1)
    assert aapl.data["symbol"] == "AAPL" and aapl.data["con_id"] > 0 and aapl.data["time_zone"]
    ib.reqContractDetails(2, stock("ES", exchange="CME", sec_type="FUT"))
    ib.wait_event("contractDetailsEnd", 2)
    expiries = [e.data["last_trade_date"] for e in ib.named("contractDetails", 2)]
    assert len(expiries) >= 2 and len(set(expiries)) == len(expiries)


def test_head_timestamp(ib):
    ib.reqHeadTimeStamp(1, stock("AAPL"), "TRADES", 1, 2)
    stamp = ib.wait_event("headTimestamp", 1).data["timestamp"]
    assert int(stamp) < int(ny("2025-01-27 09:30"))
    ib.cancelHeadTimeStamp(1)


@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
def test_keep_up_to_date_rolls_over_a_bar_boundary_and_stops_on_cancel(sim_factory, connect, max_version):
    # 10 simulated seconds per real second, an update every 50 ms: the 10:55 bar closes 5 s after the start
    sim = sim_factory(clock_at=ny("2025-01-27 10:59:56"), speed=10.0, max_version=max_version)
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    bars, _ = ib.history(1)
    assert bars[-1]["date"] == f"20250127 10:55:00 {ZONE}"
    updates = ib.wait_for(lambda ev: (u := [e.data for e in ev if e.name == "historicalDataUpdate"]) and
                          u[-1]["date"] == f"20250127 11:00:00 {ZONE}" and len(u) >= 3 and u)
    old = [u for u in updates if u["date"] == f"20250127 10:55:00 {ZONE}"]
    assert old, "updates first rewrite the forming bar"
    for a, b in itertools.pairwise(old):
        assert b["high"] >= a["high"] and b["low"] <= a["low"] and b["volume"] >= a["volume"]
        assert b["open"] == a["open"]
    new = [u for u in updates if u["date"] == f"20250127 11:00:00 {ZONE}"]
    assert new[0]["open"] != 0
    ib.cancelHistoricalData(1)
    from tests.waiting import wait_until
    wait_until(lambda: sim.open_requests() == 0, what="stream cancelled")
    seen = len(ib.named("historicalDataUpdate"))
    ib.reqCurrentTime()
    ib.wait_event("currentTime")
    assert len(ib.named("historicalDataUpdate")) == seen


@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
def test_the_last_update_of_a_bar_carries_its_final_values(sim_factory, connect, max_version):
    # TWS builds the bar from five-second bars: its update at the bar's end is the bar a later request returns
    sim = sim_factory(clock_at=ny("2025-01-27 11:04:50"), speed=20.0, max_version=max_version)
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    ib.history(1)
    ib.wait_for(lambda ev: any(e.name == "historicalDataUpdate" and e.data["date"].startswith("20250127 11:05")
                               for e in ev))
    ib.cancelHistoricalData(1)
    request(ib, 2, end="20250127 16:00:00 America/New_York")
    full, _ = ib.history(2)
    closed_updates = [e.data for e in ib.named("historicalDataUpdate", 1)
                      if e.data["date"] == f"20250127 11:00:00 {ZONE}"]
    final = full[[b["date"] for b in full].index(f"20250127 11:00:00 {ZONE}")]
    assert len(closed_updates) >= 2, "updates rewrote the forming bar before it completed"
    assert closed_updates[-1] == final


def test_updates_sent_are_recorded_with_their_send_time_only_when_asked(sim, connect):
    ib = connect(sim)
    request(ib, 1, end="", keep=True)
    ib.history(1)
    ib.wait_for(lambda ev: len([e for e in ev if e.name == "historicalDataUpdate"]) >= 2)
    assert sim.control("updates_sent") == [], "not recorded unless asked: a stream sends many updates, for hours"
    sim.control("record_updates", value=True)
    before = time.time()
    ib.wait_for(lambda ev: len([e for e in ev if e.name == "historicalDataUpdate"]) >= 5)
    sent = sim.control("updates_sent")
    assert sent and all(before <= u["wall"] <= time.time() and u["req_id"] == 1 for u in sent)
    assert set(sent[0]["bar"]) == {"date", "open", "high", "low", "close", "volume", "wap", "count"}
    shown = [(u["bar"]["date"], u["bar"]["close"]) for u in sent]  # each is an update the client received

    def received_in_order(events: list) -> bool:
        got = [(e.data["date"], e.data["close"]) for e in events if e.name == "historicalDataUpdate"]
        return any(got[i:i + len(shown)] == shown for i in range(len(got)))

    ib.wait_for(received_in_order)
    sim.control("record_updates", value=False)
    ib.cancelHistoricalData(1)


def test_keep_up_to_date_with_an_end_date_is_refused(ib):
    request(ib, 1, keep=True)
    assert ib.wait_error(1).data["code"] == 321


@pytest.mark.parametrize("change, code, text", [
    ({"bar": "7 mins"}, 321, "bar size"),
    ({"duration": "1 X"}, 321, "duration"),
    ({"duration": "D 1"}, 321, "duration"),
    ({"what": "NONSENSE"}, 321, ""),
    ({"contract": stock("NOSUCHSYM")}, 200, "No security definition has been found for the request"),
    ({"contract": stock("SHOP", currency="")}, 200, "is ambiguous"),  # listed in USD and CAD
    ({"contract": stock("NFLX")}, 354, "not subscribed"),  # marked as not subscribed in the universe
    ({"end": "2025-01-27 16:00"}, 10314, "End Date/Time"),
    ({"end": "20250120 12:00:00 America/New_York", "duration": "3600 S"}, 162, "HMDS query returned no data"),
    ({"end": "19800105 16:00:00 America/New_York"}, 162, "HMDS query returned no data"),
])
def test_invalid_or_empty_requests_get_the_tws_error(ib, change, code, text):
    request(ib, 1, **change)
    err = ib.wait_error(1)
    assert err.data["code"] == code
    assert text.lower() in err.data["message"].lower()


def test_unknown_contract_details_get_200(ib):
    ib.reqContractDetails(4, stock("NOSUCHSYM"))
    err = ib.wait_error(4)
    assert err.data["code"] == 200
    assert err.data["message"] == "No security definition has been found for the request"


def test_cancel_of_an_unknown_id_gets_366(ib):
    ib.cancelHistoricalData(77)
    assert ib.wait_error(77).data["code"] == 366


def test_the_same_request_gives_the_same_bars_in_another_server(sim_factory, connect):
    answers = []
    for _ in range(2):
        ib = connect(sim_factory(), client_id=len(answers) + 1)
        request(ib, 1)
        answers.append(ib.history(1)[0])
    assert answers[0] == answers[1]


def test_errors_carry_the_request_time_on_clients_that_read_it(sim, ib):
    request(ib, 1, bar="7 mins")
    err = ib.wait_error(1)
    if ib.serverVersion() >= 194:
        assert abs(err.data["time"] / 1000 - sim.clock.now()) < 5
