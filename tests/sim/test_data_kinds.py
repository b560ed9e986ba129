"""The derived whatToShow kinds through the official client: BID_ASK, ADJUSTED_LAST, the volatilities, index TRADES.

The default simulator's clock is Tuesday 2025-01-28 11:00 New York; the simulator knows AAPL's 2:1 split effective
2025-01-15 and its 0.50 USD dividend ex 2025-01-22 (sim/corporate_actions.py).
"""

from __future__ import annotations

import pytest

from tests.sim.ib_client import stock
from tests.sim.test_historical_data import request
from tests.sim.versions import SERVER_VERSIONS

SPX = stock("SPX", exchange="CBOE", sec_type="IND")
EUR = stock("EUR", exchange="IDEALPRO", sec_type="CASH")
NOW = ""  # an empty end: the clock's now


def no_sizes(bars):
    return all((b["volume"], b["wap"], b["count"]) == (-1, -1.0, -1) for b in bars)


@pytest.mark.parametrize("max_version", [SERVER_VERSIONS[0], SERVER_VERSIONS[-1]])
def test_bid_ask_bars_are_average_bid_max_ask_min_bid_average_ask(sim_factory, connect, max_version):
    ib = connect(sim_factory(max_version=max_version))
    for req_id, what in enumerate(("BID", "ASK", "BID_ASK"), start=1):
        request(ib, req_id, what=what)
    bid, ask, both = (ib.history(r)[0] for r in (1, 2, 3))
    assert len(both) == len(bid) == len(ask) == 78
    for b, a, x in zip(bid, ask, both, strict=True):
        assert x["date"] == b["date"]
        assert x["low"] == b["low"], "low = the lowest bid"
        assert x["high"] == a["high"], "high = the highest ask"
        assert b["low"] <= x["open"] <= b["high"], "open = the time-average bid"
        assert a["low"] <= x["close"] <= a["high"], "close = the time-average ask"
        assert x["open"] < x["close"], "the average bid is below the average ask"
    assert no_sizes(both)


def test_adjusted_last_is_trades_times_the_split_and_dividend_factor_before_them(ib):
    request(ib, 1, end=NOW, duration="1 M", bar="1 day")
    request(ib, 2, end=NOW, duration="1 M", bar="1 day", what="ADJUSTED_LAST")
    (trades, _), (adjusted, _) = ib.history(1), ib.history(2)
    assert [b["date"] for b in adjusted] == [b["date"] for b in trades]
    by_day = {t["date"]: (t, a) for t, a in zip(trades, adjusted, strict=True)}
    dividend = 1 - 0.50 / by_day["20250121"][0]["close"]  # the close of the session before the ex-date
    for day, (t, a) in by_day.items():
        factor = 1.0 if day >= "20250122" else dividend if day >= "20250115" else dividend / 2
        for field in ("open", "high", "low", "close"):
            assert a[field] == pytest.approx(t[field] * factor, abs=1e-4), (day, field)
        assert a["volume"] == t["volume"] * (2 if day < "20250115" else 1), "volumes before a split times its ratio"
    assert by_day["20250128"][1] == by_day["20250128"][0], "equal to TRADES after the last action"


def test_adjusted_last_intraday_bars_before_the_split_are_halved(ib):
    request(ib, 1, end="20250114 16:00:00 America/New_York", bar="1 hour")
    request(ib, 2, end=NOW, duration="12 D", bar="1 hour", what="ADJUSTED_LAST")
    trades = ib.history(1)[0]
    adjusted = {b["date"]: b for b in ib.history(2)[0]}
    dividend = 1 - 0.50 / close_of(ib, "20250121")
    for t in trades:
        assert adjusted[t["date"]]["close"] == pytest.approx(t["close"] * dividend / 2, abs=1e-4)


def close_of(ib, day):
    """The TRADES close of a regular session (its last hourly bar ends at the session's end, as the daily bar)."""
    request(ib, 99, end=f"{day} 16:00:00 America/New_York", bar="1 hour")
    return ib.history(99)[0][-1]["close"]


def test_adjusted_last_with_an_end_date_is_refused(ib):
    request(ib, 1, end="20250127 16:00:00 America/New_York", bar="1 day", duration="1 M", what="ADJUSTED_LAST")
    err = ib.wait_error(1)
    assert err.data["code"] == 321 and "ADJUSTED_LAST requires an empty end date/time" in err.data["message"]
    assert not ib.named("historicalData", 1)


@pytest.mark.parametrize("what", ["BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY"])
def test_live_updates_exist_only_for_trades_and_quotes(ib, what):
    request(ib, 1, end=NOW, what=what, keep=True)
    err = ib.wait_error(1)
    assert err.data["code"] == 321 and "Live updates are not supported" in err.data["message"]


@pytest.mark.parametrize("contract, what", [(None, "HISTORICAL_VOLATILITY"), (None, "OPTION_IMPLIED_VOLATILITY"),
                                            (SPX, "HISTORICAL_VOLATILITY")])
def test_volatility_series_are_annualised_fractions_without_sizes(ib, contract, what):
    request(ib, 1, contract=contract, end=NOW, duration="1 Y", bar="1 day", what=what)
    bars, _ = ib.history(1)
    assert len(bars) >= 250
    assert all(0.15 <= b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"] <= 0.45
               for b in bars)
    assert len({b["close"] for b in bars}) > 200, "a series, not a constant"
    assert no_sizes(bars)


@pytest.mark.parametrize("contract, what, kind", [
    (EUR, "HISTORICAL_VOLATILITY", "EUR/CASH@FXSUBPIP Historical_Volatility 1d"),
    (SPX, "OPTION_IMPLIED_VOLATILITY", "SPX/IND@CBOE Option_Implied_Volatility 1d"),
    (SPX, "BID_ASK", "SPX/IND@CBOE Bid_Ask 1d"),
    (EUR, "ADJUSTED_LAST", "EUR/CASH@FXSUBPIP Adjusted_Last 1d"),
])
def test_a_kind_the_instrument_lacks_gets_162_no_historical_market_data(ib, contract, what, kind):
    request(ib, 1, contract=contract, end=NOW, bar="1 day", duration="1 M", what=what)
    err = ib.wait_error(1)
    assert err.data["code"] == 162 and err.data["message"].endswith(f"No historical market data for {kind}")


def test_index_trades_bars_carry_no_volume_and_no_count(ib):
    request(ib, 1, contract=SPX, end=NOW, duration="1 M", bar="1 day")
    request(ib, 2, contract=SPX, end="20250127 16:00:00 America/New_York")
    for req_id in (1, 2):
        bars, _ = ib.history(req_id)
        assert bars and all(b["volume"] == 0 and b["count"] == 0 for b in bars)
        assert all(b["low"] <= b["wap"] <= b["high"] for b in bars)
