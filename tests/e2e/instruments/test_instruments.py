"""Every instrument kind and every data kind through the bridge (real gunicorn, the real worker, the simulator as
its own process), each answer checked against what the official ibapi client gets from the simulator directly; and
each misuse's documented 400 or TWS error."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from ibapi.contract import Contract

from tests.e2e.instruments.conftest import SECOND_SHOP_IN_USD
from tests.e2e.processes import BridgeProcess
from tests.sim.ib_client import RecordingClient

REQ_IDS = itertools.count(1000)
BIG = 10**9  # any fetch here answers well within the simulator's window; no page is needed
UNIT = {"5m": "5 mins", "1h": "1 hour", "1d": "1 day"}


def contract(symbol: str = "", sec_type: str = "STK", exchange: str = "SMART", currency: str = "USD",
             **fields: Any) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, sec_type, exchange, currency
    for name, value in fields.items():
        setattr(c, name, value)
    return c


def ask_directly(client: RecordingClient, c: Contract, what: str, period: str, duration: str,
                 end: str = "") -> dict[str, tuple[Any, ...]]:
    """The bars the official client gets for the same question (formatDate 2), by date key."""
    req_id = next(REQ_IDS)
    client.reqHistoricalData(req_id, c, end, duration, UNIT[period], what, 1, 2, False, [])
    bars, _ = client.history(req_id)
    return {b["date"]: (b["open"], b["high"], b["low"], b["close"], float(Decimal(str(b["volume"]))))
            for b in bars}


def keyed(bars: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {(b["date"] if len(b["date"]) == 8 else str(b["time"])): (b["open"], b["high"], b["low"], b["close"],
                                                                     float(b["volume"])) for b in bars}


def bridge_bars(bridge: BridgeProcess, **fields: Any) -> list[dict[str, Any]]:
    answer = bridge.bars(**fields)
    assert answer.status == 200, answer.body
    assert answer.body["count"] == len(answer.body["bars"]) > 0, answer.body
    return answer.body["bars"]


def assert_same_bars(through_bridge: dict[str, tuple[Any, ...]], directly: dict[str, tuple[Any, ...]]) -> None:
    """The bridge's bars are the client's, bar for bar; the client's last bar may be the forming one (TWS includes it
    with an end of now; the bridge leaves it out)."""
    assert through_bridge, "no bars"
    assert all(directly.get(k) == v for k, v in through_bridge.items()), [
        (k, v, directly.get(k)) for k, v in through_bridge.items() if directly.get(k) != v][:3]
    missing = sorted(set(directly) - set(through_bridge))
    assert missing in ([], [max(directly)]), missing


AAPL = contract("AAPL")
KINDS = ["TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK"]


@pytest.mark.parametrize("what", KINDS)
def test_each_intraday_kind_of_a_stock_equals_the_official_clients_bars(bridge, direct, what):
    bars = bridge_bars(bridge, symbol="AAPL", what=what, period="5m", duration="1 D")
    assert_same_bars(keyed(bars), ask_directly(direct, AAPL, what, "5m", "1 D"))
    if what != "TRADES":
        assert all(b["volume"] == -1 for b in bars)


@pytest.mark.parametrize("what", ["ADJUSTED_LAST", "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"])
def test_each_daily_kind_of_a_stock_equals_the_official_clients_bars(bridge, direct, what):
    bars = bridge_bars(bridge, symbol="AAPL", what=what, period="1d", duration="1 M")
    assert_same_bars(keyed(bars), ask_directly(direct, AAPL, what, "1d", "1 M"))
    if what != "ADJUSTED_LAST":
        assert all(0.1 < b["close"] < 0.5 and b["volume"] == -1 for b in bars), "volatility values"


def test_adjusted_last_differs_from_trades_before_the_split_and_equals_it_after(bridge):
    adjusted = {b["date"]: b["close"] for b in bridge_bars(bridge, symbol="AAPL", what="ADJUSTED_LAST", period="1d",
                                                           duration="1 M")}
    trades = {b["date"]: b["close"] for b in bridge_bars(bridge, symbol="AAPL", period="1d", duration="1 M")}
    assert adjusted["20250110"] < trades["20250110"] * 0.51, "a 2:1 split on 2025-01-15 halves the past"
    assert adjusted["20250203"] == trades["20250203"]


def test_a_future_by_its_expiry_equals_the_official_clients_bars(bridge, direct):
    bars = bridge_bars(bridge, symbol="ES", sec_type="FUT", exchange="CME", last_trade_date="202506", period="5m",
                       duration="1 D")
    es_m5 = contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202506")
    assert_same_bars(keyed(bars), ask_directly(direct, es_m5, "TRADES", "5m", "1 D"))
    nearest = bridge_bars(bridge, symbol="ES", sec_type="FUT", exchange="CME", period="5m", duration="1 D")
    assert keyed(nearest) != keyed(bars), "without an expiry: the nearest (March), another contract"


def test_a_continuous_future_equals_the_official_clients_bars_for_a_range_that_ends_in_the_past(bridge, direct):
    # first (nothing of the series is stored anyway): any range, asked without an end (TWS refuses one, 10339)
    older = bridge_bars(bridge, symbol="ES", sec_type="CONTFUT", exchange="CME", period="1h", duration="",
                        start_datetime="2025-01-30T14:00:00Z", end_datetime="2025-01-31T14:00:00Z")
    contfut = contract("ES", "CONTFUT", "CME")
    directly = ask_directly(direct, contfut, "TRADES", "1h", "1 W")
    assert keyed(older) == {k: v for k, v in directly.items() if 1738245600 <= int(k) < 1738332000}, "trimmed"
    bars = bridge_bars(bridge, symbol="ES", sec_type="CONTFUT", exchange="CME", period="1h", duration="1 W")
    assert_same_bars(keyed(bars), directly)


@pytest.mark.parametrize(("c", "what", "code"), [(contract("ES", "CONTFUT", "CME"), "TRADES", 10339),
                                                  (AAPL, "ADJUSTED_LAST", 321)], ids=["CONTFUT", "ADJUSTED_LAST"])
def test_what_the_bridge_never_sends_tws_refuses(direct, c, what, code):
    """An end date for a continuous future (10339) or for ADJUSTED_LAST: the bridge asks without one (above)."""
    req_id = next(REQ_IDS)
    direct.reqHistoricalData(req_id, c, "20250131-21:00:00", "1 D", "1 hour", what, 1, 2, False, [])
    assert direct.wait_error(req_id).data["code"] == code


def test_an_option_by_expiry_strike_and_right_equals_the_official_clients_bars(bridge, direct):
    bars = bridge_bars(bridge, symbol="AAPL", sec_type="OPT", last_trade_date="20250221", strike=190, right="CALL",
                       period="5m", duration="1 D")
    option = contract("AAPL", "OPT", lastTradeDateOrContractMonth="20250221", strike=190.0, right="C")
    assert_same_bars(keyed(bars), ask_directly(direct, option, "TRADES", "5m", "1 D"))


def test_an_option_on_a_future_by_expiry_strike_and_right_equals_the_official_clients_bars(bridge, direct):
    bars = bridge_bars(bridge, symbol="ES", sec_type="FOP", exchange="CME", last_trade_date="20250321", strike=5400,
                       right="P", period="1h", duration="1 D")
    option = contract("ES", "FOP", "CME", lastTradeDateOrContractMonth="20250321", strike=5400.0, right="P")
    assert_same_bars(keyed(bars), ask_directly(direct, option, "TRADES", "1h", "1 D"))


@pytest.mark.parametrize(("fields", "c", "what"), [
    ({"symbol": "SPX", "sec_type": "IND", "exchange": "CBOE"}, contract("SPX", "IND", "CBOE"), "TRADES"),
    ({"symbol": "EUR", "sec_type": "CASH", "exchange": "IDEALPRO"}, contract("EUR", "CASH", "IDEALPRO"), "MIDPOINT"),
    ({"symbol": "BTC", "sec_type": "CRYPTO", "exchange": "PAXOS"}, contract("BTC", "CRYPTO", "PAXOS"), "AGGTRADES"),
    ({"con_id": 265598}, contract(conId=265598, exchange="SMART"), "TRADES"),
], ids=["IND", "CASH", "CRYPTO", "con_id"])
def test_an_index_a_currency_a_coin_and_a_con_id_equal_the_official_clients_bars(bridge, direct, fields, c, what):
    bars = bridge_bars(bridge, **fields, what=what, period="5m", duration="1 D")
    assert_same_bars(keyed(bars), ask_directly(direct, c, what, "5m", "1 D"))


# ---- misuse -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field"), [
    ({"symbol": "AAPL", "what": "ADJUSTED_LAST", "end_datetime": "20250131 16:00:00"}, "end_datetime"),
    ({"symbol": "ES", "sec_type": "CONTFUT", "exchange": "CME", "include_forming": True}, "include_forming"),
    ({"symbol": "AAPL", "what": "BID_ASK", "include_forming": True}, "include_forming"),
    ({"symbol": "AAPL", "what": "HISTORICAL_VOLATILITY", "include_forming": True}, "include_forming"),
    ({"symbol": "AAPL", "sec_type": "OPT", "last_trade_date": "20250221", "right": "C"}, "strike"),
    ({"symbol": "ES", "sec_type": "FOP", "exchange": "CME", "last_trade_date": "20250321", "right": "C"}, "strike"),
    ({"symbol": "ES", "sec_type": "CONTFUT", "exchange": "CME", "period": "1m", "duration": "",
      "start_datetime": "2025-01-29T14:00:00Z"}, "start_datetime"),  # 1-minute bars reach back 1 D without an end
], ids=["adjusted-with-end", "contfut-forming", "bid-ask-forming", "volatility-forming", "option-without-strike",
        "fop-without-strike", "contfut-out-of-reach"])
def test_each_misuse_answers_400_naming_its_field(bridge, fields, field):
    answer = bridge.bars(**fields)
    assert answer.status == 400, answer.body
    assert answer.body["code"] == "invalid_request"
    assert list(answer.body["fields"]) == [field], answer.body
    if fields.get("sec_type") == "CONTFUT" and "start_datetime" in fields:
        assert "only ending now" in answer.body["error"], "the worker's rule: out of IB's reach without an end"


def test_an_ambiguous_symbol_answers_400_with_the_candidates(bridge):
    answer = bridge.bars(symbol="SHOP")  # SMART in USD: NYSE and (in this module's universe) ARCA
    body = answer.body
    assert answer.status == 400 and body["code"] == "ambiguous_symbol", body
    candidates = body["fields"]["candidates"]
    assert {c["con_id"] for c in candidates} == {195014116, SECOND_SHOP_IN_USD}
    assert {c["primary_exchange"] for c in candidates} == {"NYSE", "ARCA"}
    assert all(c["time_zone"] and c["trading_hours"] and c["min_tick"] == 0.01 for c in candidates)
    assert "NYSE/USD" in body["error"] and "ARCA/USD" in body["error"]
    chosen = bridge.bars(symbol="SHOP", primary_exchange="ARCA")
    assert chosen.status == 200 and chosen.body["count"] > 0, "the primary exchange tells them apart"


def test_an_expired_option_has_no_history_and_is_unknown_without_include_expired(bridge):
    expired = {"symbol": "AAPL", "sec_type": "OPT", "last_trade_date": "20250117", "strike": 190, "right": "P",
               "period": "1h", "duration": "1 W", "end_datetime": "20250116 16:00:00"}
    answer = bridge.bars(**expired, include_expired=True)
    assert answer.status == 200 and answer.body["count"] == 0, answer.body
    assert answer.body["notice"]["tws_code"] == 162
    unknown = bridge.bars(**expired)
    assert unknown.status == 404 and unknown.body["code"] == "symbol_not_found", unknown.body


def test_adjusted_last_is_never_stored_while_trades_of_the_same_stock_are(bridge):
    """Every split and dividend rewrites ADJUSTED_LAST's past: the bridge keeps none of it as final coverage."""
    def stored_series() -> int:
        return bridge.get("/health").body["worker"]["store"]["series"]

    before = stored_series()
    bridge_bars(bridge, symbol="MSFT", what="ADJUSTED_LAST", period="1d", duration="1 M")
    bridge_bars(bridge, symbol="MSFT", what="ADJUSTED_LAST", period="1h", duration="",
                start_datetime="20250130 09:30:00")
    assert stored_series() == before
    bridge_bars(bridge, symbol="MSFT", period="1d", duration="1 M")
    assert stored_series() == before + 1, "the measure sees a stored series"
