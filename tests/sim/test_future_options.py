"""Specification of the ES options on futures (FOP) by rule: the chain, contract details through the official client
at every layout version it reaches, and bars derived from the underlying future's path.

The clock is Tuesday 2025-02-04 12:00 New York: the front two futures are ESH5 (expiry 2025-03-21, base 5400) and
ESM5 (2025-06-20, base 5440.5); ESZ4 (2024-12-20) has expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ibapi.contract import Contract

from sim.instruments import Universe
from sim.messages import ContractSpec
from sim.options import SimOptions
from tests.conftest import ny
from tests.sim.ib_client import RecordingClient, client_of_frozen_sim
from tests.sim.test_contract_details import NO_DEFINITION, details
from tests.sim.test_historical_data import request
from tests.sim.versions import SERVER_VERSIONS

NOW = ny("2025-02-04 12:00")
U = Universe.load()
ESH5, ESM5, ESZ4 = 620250321, 620250620, 620241220


def fop(expiry: str = "", strike: float = 0.0, right: str = "", **fields: Any) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "ES", "FOP", "CME", "USD"
    c.lastTradeDateOrContractMonth, c.strike, c.right = expiry, strike, right
    for name, value in fields.items():
        setattr(c, name, value)
    return c


def test_the_chain_has_the_front_two_futures_expiries_eleven_strikes_of_25_calls_and_puts() -> None:
    found = U.match(ContractSpec(symbol="ES", sec_type="FOP", exchange="CME"), NOW)
    assert len(found) == 2 * 11 * 2
    by_expiry = {(i.last_trade_date, i.contract_month, i.under_con_id) for i in found}
    assert by_expiry == {("20250321", "202503", ESH5), ("20250620", "202506", ESM5)}, "the future's own expiry"
    assert sorted({i.strike for i in found if i.under_con_id == ESH5}) == [5275.0 + 25 * k for k in range(11)]
    assert sorted({i.strike for i in found if i.under_con_id == ESM5}) == [5325.0 + 25 * k for k in range(11)]
    assert {(i.multiplier, i.trading_class, i.exchange, i.currency, i.sec_type) for i in found} == {
        ("50", "ES", "CME", "USD", "FOP")}
    con_ids = {i.con_id for i in found}
    assert len(con_ids) == 44 and all(U.by_con_id(c).sec_type == "FOP" for c in con_ids)  # type: ignore[union-attr]
    assert not con_ids & {i.con_id for i in U.fixed} and not con_ids & {ESH5, ESM5}


def test_con_id_local_symbol_or_expiry_strike_and_right_resolve_exactly_one() -> None:
    (call,) = U.match(ContractSpec(symbol="ES", sec_type="FOP", last_trade_date="20250321", strike=5400, right="C"),
                      NOW)
    assert (call.local_symbol, call.con_id) == ("ESH5 C5400", 1800000000 + 100 * 200000 + 5400 * 2)
    assert U.match(ContractSpec(con_id=call.con_id), NOW) == [call]
    assert U.match(ContractSpec(local_symbol="ESH5 C5400"), NOW) == [call]
    assert U.match(ContractSpec(symbol="ES", sec_type="FOP", last_trade_date="202503", strike=5400, right="CALL"),
                   NOW) == [call]
    put = U.resolve_one(ContractSpec(symbol="ES", sec_type="FOP", last_trade_date="20250321", strike=5400, right="P"),
                        NOW)
    assert put.con_id == call.con_id + 1 and put.local_symbol == "ESH5 P5400"
    assert U.match(ContractSpec(symbol="ES", sec_type="FOP", last_trade_date="20250919", strike=5400), NOW) == [], \
        "the third future has no options on the chain"
    assert U.match(ContractSpec(symbol="ES", sec_type="FOP", last_trade_date="20250321", strike=5410), NOW) == []


@pytest.fixture(scope="module", params=SERVER_VERSIONS)
def ib(request: pytest.FixtureRequest) -> Iterator[RecordingClient]:
    with client_of_frozen_sim(SimOptions(port=0, max_version=request.param), NOW) as client:
        yield client


def test_details_of_an_fop_by_expiry_strike_and_right_con_id_or_local_symbol(ib: RecordingClient) -> None:
    (call,) = details(ib, fop("20250620", 5450.0, "C"))
    assert (call["local_symbol"], call["strike"], call["right"], call["multiplier"], call["trading_class"],
            call["under_con_id"], call["sec_type"], call["last_trade_date"], call["contract_month"],
            call["exchange"], call["time_zone"], call["min_tick"]) == (
        "ESM5 C5450", 5450.0, "C", "50", "ES", ESM5, "FOP", "20250620", "202506", "CME", "US/Central", 0.05)
    assert details(ib, fop(conId=call["con_id"])) == [call]
    assert details(ib, fop(localSymbol="ESM5 C5450")) == [call]
    every = details(ib, fop("20250321"))
    assert isinstance(every, list) and len(every) == 22
    assert {(d["strike"], d["right"]) for d in every} == {(5275.0 + 25 * k, r) for k in range(11) for r in "CP"}


def test_an_expired_fop_answers_only_with_include_expired(ib: RecordingClient) -> None:
    assert details(ib, fop("20241220", 5350.0, "P")) == (200, NO_DEFINITION)
    (esz4,) = details(ib, fop("20241220", 5350.0, "P", includeExpired=True))
    assert (esz4["local_symbol"], esz4["under_con_id"]) == ("ESZ4 P5350", ESZ4)
    assert details(ib, fop(conId=esz4["con_id"])) == (200, NO_DEFINITION)


# ---- bars -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bars_ib() -> Iterator[RecordingClient]:
    with client_of_frozen_sim(SimOptions(port=0, pacing=False), NOW) as client:
        yield client


_req_ids = iter(range(1, 10**6))


def daily(ib: RecordingClient, contract: Contract, what: str = "TRADES") -> dict[str, dict[str, Any]]:
    req_id = next(_req_ids)
    request(ib, req_id, contract=contract, end="", duration="1 M", bar="1 day", what=what)
    return {b["date"]: b for b in ib.history(req_id)[0]}


def test_fop_bars_follow_the_future_with_bid_below_ask(bars_ib: RecordingClient) -> None:
    call, put = daily(bars_ib, fop("20250321", 5400.0, "C")), daily(bars_ib, fop("20250321", 5400.0, "P"))
    future = Contract()
    future.symbol, future.secType, future.exchange, future.lastTradeDateOrContractMonth = "ES", "FUT", "CME", "202503"
    esh5 = daily(bars_ib, future)
    bid, mid, ask = (daily(bars_ib, fop("20250321", 5400.0, "C"), what) for what in ("BID", "MIDPOINT", "ASK"))
    assert len(call) >= 15 and sorted(call) == sorted(put) == sorted(bid) and set(call) <= set(esh5)
    for day in call:
        assert call[day]["volume"] > 0 and call[day]["count"] > 0 and bid[day]["volume"] == -1
        assert bid[day]["close"] < mid[day]["close"] < ask[day]["close"]
        # put-call parity without rates, on the future's path: C - P = F - K, up to the ticks of both
        assert call[day]["close"] - put[day]["close"] == pytest.approx(esh5[day]["close"] - 5400, abs=0.35), day
    assert call != daily(bars_ib, fop("20250620", 5400.0, "C")), "another future, another option"


def test_an_expired_fop_has_no_history(bars_ib: RecordingClient) -> None:
    req_id = next(_req_ids)
    request(bars_ib, req_id, contract=fop("20241220", 5350.0, "C", includeExpired=True), end="", bar="1 day",
            duration="1 M")
    err = bars_ib.wait_error(req_id)
    assert (err.data["code"], err.data["message"]) == (
        162, "Historical Market Data Service error message:HMDS query returned no data: ESZ4 C5350@CME Trades")
