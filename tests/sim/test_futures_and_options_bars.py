"""CONTFUT and option bars through the official client: stitched from the front future, derived from the stock.

The clock is Thursday 2025-03-20 11:00 New York: ESH5 (expiry 2025-03-21) was the front month until the roll on
Thursday 2025-03-13 (8 days before expiry), ESM5 since; the AAPL options of 2025-03-21 are live, those of
2025-02-21 expired.
"""

from __future__ import annotations

import pytest

from tests.conftest import ny
from tests.sim.ib_client import stock
from tests.sim.test_historical_data import request

CLOCK = ny("2025-03-20 11:00")


@pytest.fixture
def ib(sim_factory, connect):
    return connect(sim_factory(clock_at=CLOCK))


def future(sec_type="FUT", last_trade_date=""):
    c = stock("ES", exchange="CME", sec_type=sec_type)
    c.lastTradeDateOrContractMonth = last_trade_date
    return c


def option(expiry="20250321", strike=210.0, right="C", include_expired=False):
    c = stock("AAPL", sec_type="OPT")
    c.lastTradeDateOrContractMonth, c.strike, c.right, c.multiplier = expiry, strike, right, "100"
    c.includeExpired = include_expired
    return c


def daily(ib, req_id, contract, what="TRADES"):
    request(ib, req_id, contract=contract, end="", duration="1 M", bar="1 day", what=what)
    return {b["date"]: b for b in ib.history(req_id)[0]}


def test_contfut_bars_are_the_front_futures_bars_rolling_8_days_before_expiry(ib):
    continuous = daily(ib, 1, future("CONTFUT"))
    march, june = daily(ib, 2, future(last_trade_date="202503")), daily(ib, 3, future(last_trade_date="202506"))
    assert sorted(continuous) == sorted(march) and "20250313" in continuous
    for day, bar in continuous.items():
        front = march if day < "20250313" else june
        assert bar == front[day], day


def test_contfut_intraday_bars_come_from_one_contract_per_session(ib):
    request(ib, 1, contract=future("CONTFUT"), end="", duration="1 D", bar="30 mins")
    request(ib, 2, contract=future(last_trade_date="202506"), end="", duration="1 D", bar="30 mins")
    (contfut, _), (june, _) = ib.history(1), ib.history(2)
    assert contfut and contfut == june


def test_contfut_with_an_end_date_gets_10339(ib):
    request(ib, 1, contract=future("CONTFUT"), end="20250314 16:00:00 America/New_York", bar="1 day", duration="1 M")
    err = ib.wait_error(1)
    assert (err.data["code"], err.data["message"]) == (
        10339, "Set historical data query end date/time to null for continuous future")
    assert not ib.named("historicalData", 1)


def test_contfut_live_updates_are_refused(ib):
    request(ib, 1, contract=future("CONTFUT"), end="", keep=True)
    err = ib.wait_error(1)
    assert err.data["code"] == 321 and "continuous futures" in err.data["message"]


def test_option_bars_follow_the_stock_and_keep_bid_below_ask(ib):
    call, put = daily(ib, 1, option()), daily(ib, 2, option(right="P"))
    stock_bars = daily(ib, 3, stock("AAPL"))
    bid, ask = daily(ib, 4, option(), "BID"), daily(ib, 5, option(), "ASK")
    assert sorted(call) == sorted(put) and set(call) <= set(stock_bars)
    for day in call:
        spot = stock_bars[day]["close"]
        assert call[day]["close"] >= max(spot - 210, 0) - 0.01 and put[day]["close"] >= max(210 - spot, 0) - 0.01
        assert call[day]["volume"] > 0 and call[day]["count"] > 0
        assert bid[day]["close"] < ask[day]["close"] and bid[day]["volume"] == -1
    # put-call parity without rates: C - P = S - K at every close, up to rounding
    for day in call:
        assert call[day]["close"] - put[day]["close"] == pytest.approx(stock_bars[day]["close"] - 210, abs=0.03)


def test_an_expired_option_has_no_history(ib):
    request(ib, 1, contract=option("20250221", include_expired=True), end="", bar="1 day", duration="1 M")
    err = ib.wait_error(1)
    assert err.data["code"] == 162 and "HMDS query returned no data" in err.data["message"]
    request(ib, 2, contract=option("20250221"), end="", bar="1 day", duration="2 M")
    assert ib.wait_error(2).data["code"] == 200, "without includeExpired TWS does not know the contract"
