"""Futures, the continuous future, options, the CME holiday session and symbol search through the official client,
at every layout version it reaches (contract data goes protobuf at 205, symbolSamples at 212)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ibapi.contract import Contract

from sim.harness import SimulatedTws
from sim.options import SimOptions
from tests.conftest import ny
from tests.sim.ib_client import RecordingClient, client_of_frozen_sim
from tests.sim.versions import SERVER_VERSIONS

NOW = ny("2025-01-15 11:00")  # a Wednesday: the hours cover MLK day (Monday 20th); January's options expire Friday
NO_DEFINITION = "No security definition has been found for the request"
_ids = iter(range(100, 10**6))


@pytest.fixture(scope="module", params=SERVER_VERSIONS)
def ib(request: pytest.FixtureRequest) -> Iterator[RecordingClient]:
    with client_of_frozen_sim(SimOptions(port=0, max_version=request.param), NOW) as client:
        yield client


def contract(symbol: str = "", sec_type: str = "", exchange: str = "", **fields: Any) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, sec_type, exchange, "USD" if symbol else ""
    for name, value in fields.items():
        setattr(c, name, value)
    return c


def details(ib: RecordingClient, c: Contract) -> list[dict[str, Any]] | tuple[int, str]:
    """Every contractDetails of one request, or (code, message) of its error."""
    req_id = next(_ids)
    ib.reqContractDetails(req_id, c)
    done = ib.wait_for(lambda ev: next((e for e in ev if e.req_id == req_id and e.name in ("contractDetailsEnd",
                                                                                          "error")), None))
    if done.name == "error":
        return done.data["code"], done.data["message"]
    return [e.data for e in ib.named("contractDetails", req_id)]


def test_es_lists_the_next_five_quarters_with_cme_fields(ib: RecordingClient) -> None:
    found = details(ib, contract("ES", "FUT", "CME"))
    assert isinstance(found, list)
    assert [(d["local_symbol"], d["last_trade_date"], d["contract_month"]) for d in found] == [
        ("ESH5", "20250321", "202503"), ("ESM5", "20250620", "202506"), ("ESU5", "20250919", "202509"),
        ("ESZ5", "20251219", "202512"), ("ESH6", "20260320", "202603")]
    esh5 = found[0]
    assert (esh5["con_id"], esh5["multiplier"], esh5["trading_class"], esh5["time_zone"], esh5["sec_type"]) == (
        620250321, "50", "ES", "US/Central", "FUT")
    assert details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202506"))[0]["con_id"] == 620250620
    assert len(details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="20250919"))) == 1


def test_es_trades_the_cme_holiday_session_on_mlk_day(ib: RecordingClient) -> None:
    (esh5,) = details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202503"))
    trading, liquid = esh5["trading_hours"].split(";"), esh5["liquid_hours"].split(";")
    assert "20250119:1700-20250120:1200" in trading  # Sunday 17:00 to Monday 12:00 Chicago
    assert "20250120:1700-20250121:1600" in trading  # Tuesday's session opens Monday evening as usual
    assert "20250120:CLOSED" in liquid
    (aapl,) = details(ib, contract("AAPL", "STK", "SMART"))
    assert "20250120:CLOSED" in aapl["trading_hours"].split(";")  # the NYSE is closed


def test_expired_or_unknown_futures_get_200(ib: RecordingClient) -> None:
    assert details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202412")) == (200, NO_DEFINITION)
    (esz4,) = details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202412", includeExpired=True))
    assert esz4["local_symbol"] == "ESZ4" and esz4["last_trade_date"] == "20241220"
    assert details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202505")) == (200, NO_DEFINITION)
    assert details(ib, contract("ES", "FUT", "CME", lastTradeDateOrContractMonth="202903")) == (200, NO_DEFINITION)
    assert details(ib, contract(conId=620250320)) == (200, NO_DEFINITION)


def test_contfut_answers_the_front_future_as_continuous(ib: RecordingClient) -> None:
    (cont,) = details(ib, contract("ES", "CONTFUT", "CME"))
    assert (cont["sec_type"], cont["con_id"], cont["local_symbol"], cont["last_trade_date"]) == (
        "CONTFUT", 620250321, "ESH5", "20250321")
    assert details(ib, contract(conId=620250321, secType="CONTFUT")) == [cont]


def test_options_resolve_one_by_con_id_expiry_strike_right_or_local_symbol(ib: RecordingClient) -> None:
    (call,) = details(ib, contract("AAPL", "OPT", "SMART", lastTradeDateOrContractMonth="20250221", strike=190.0,
                                   right="C"))
    assert (call["local_symbol"], call["strike"], call["right"], call["multiplier"], call["trading_class"],
            call["under_con_id"], call["sec_type"]) == ("AAPL  250221C00190000", 190.0, "C", "100", "AAPL", 265598,
                                                        "OPT")
    assert details(ib, contract(conId=call["con_id"])) == [call]
    assert details(ib, contract(localSymbol="AAPL  250221C00190000", secType="OPT")) == [call]
    every = details(ib, contract("AAPL", "OPT", "SMART", lastTradeDateOrContractMonth="20250117"))
    assert len(every) == 22 and {d["strike"] for d in every} == {165.0 + 5 * k for k in range(11)}


def test_expired_or_unknown_options_get_200(ib: RecordingClient) -> None:
    december = contract("AAPL", "OPT", "SMART", lastTradeDateOrContractMonth="20241220", strike=190.0, right="P")
    assert details(ib, december) == (200, NO_DEFINITION)
    december.includeExpired = True
    assert [d["local_symbol"] for d in details(ib, december)] == ["AAPL  241220P00190000"]  # type: ignore[index]
    assert details(ib, contract("AAPL", "OPT", "SMART", lastTradeDateOrContractMonth="20250221", strike=500.0,
                                right="C")) == (200, NO_DEFINITION)


def test_matching_symbols_lists_stocks_first_with_their_derivative_kinds(ib: RecordingClient) -> None:
    ib.reqMatchingSymbols(7, "a")
    matches = ib.wait_event("symbolSamples", 7).data["matches"]
    assert matches[0] == {"con_id": 265598, "symbol": "AAPL", "sec_type": "STK", "primary_exchange": "NASDAQ",
                          "currency": "USD", "derivative_sec_types": ["CFD", "OPT", "IOPT", "WAR", "BAG"]}
    assert [m["symbol"] for m in matches[:3]] == ["AAPL", "AMD", "AMZN"] and len(matches) <= 16
    ib.reqMatchingSymbols(8, "ES")
    (es,) = ib.wait_event("symbolSamples", 8).data["matches"]
    assert (es["symbol"], es["sec_type"], es["primary_exchange"], es["derivative_sec_types"]) == (
        "ES", "IND", "CME", ["FUT", "FOP"])
    ib.reqMatchingSymbols(9, "zzzz")
    assert ib.wait_event("symbolSamples", 9).data["matches"] == []


def test_ib_async_reads_futures_options_and_symbol_samples() -> None:
    from ib_async import ContFuture, Future, Option, StartupFetchNONE

    from tests.sim.ib_async_client import ib_async_connected

    sim = SimulatedTws(SimOptions(port=0))
    sim.clock.freeze(NOW)
    sim.start()
    try:
        with ib_async_connected(sim.port, fetchFields=StartupFetchNONE) as ib:
            (esm5,) = ib.reqContractDetails(Future("ES", "202506", "CME"))
            assert (esm5.contract.conId, esm5.contract.localSymbol, esm5.contract.multiplier,
                    esm5.contract.lastTradeDateOrContractMonth, esm5.contractMonth, esm5.timeZoneId) == (
                620250620, "ESM5", "50", "20250620", "202506", "US/Central")
            (cont,) = ib.reqContractDetails(ContFuture("ES", "CME"))
            assert (cont.contract.secType, cont.contract.conId) == ("CONTFUT", 620250321)
            (call,) = ib.reqContractDetails(Option("AAPL", "20250221", 190, "C", "SMART"))
            assert (call.contract.localSymbol, call.contract.strike, call.contract.right, call.underConId) == (
                "AAPL  250221C00190000", 190.0, "C", 265598)
            assert len(ib.reqContractDetails(Option("AAPL", "20250221", exchange="SMART"))) == 22
            assert ib.reqContractDetails(Future("ES", "202412", "CME")) == []  # expired: error 200
            samples = ib.reqMatchingSymbols("aap")
            assert samples is not None and [(s.contract.symbol, s.contract.secType, s.derivativeSecTypes)
                                            for s in samples] == [("AAPL", "STK", ["CFD", "OPT", "IOPT", "WAR", "BAG"])]
    finally:
        sim.stop()
