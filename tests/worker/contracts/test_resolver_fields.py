"""Contract fields in resolution: a con_id alone, a future by its expiry, an option by expiry/strike/right, each field
in the lookup sent and in the cache key, and several matches answered with their candidates."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.bars import BarRequest
from shared.contract_lookup import CONTRACT_KEYS
from shared.errors import ErrorCode
from tests.worker.contracts.test_resolver import Harness, Outcomes, details
from worker.contracts.choice import MAX_CANDIDATES
from worker.contracts.query import ContractKey, contract_key, key_text, parse_key_text
from worker.history.memory_store import MemoryStore

MINUTE = BarRequest(symbol="ES", bar_size="1 min", duration="1 D", sec_type="FUT", exchange="CME")


def future(con_id: int, expiry: str) -> dict[str, Any]:
    found = details("ES", con_id, sec_type="FUT", exchange="CME", primary="", last_trade_date=expiry,
                    time_zone="US/Central")
    return found | {"local_symbol": f"ES{expiry[4:6]}", "multiplier": "50", "trading_class": "ES"}


def option(con_id: int, expiry: str, strike: float, right: str) -> dict[str, Any]:
    return details("AAPL", con_id, sec_type="OPT", primary="", last_trade_date=expiry) | {
        "strike": strike, "right": right, "multiplier": "100", "trading_class": "AAPL", "min_tick": 0.01,
        "local_symbol": f"AAPL  {expiry[2:]}{right}{int(strike * 1000):08d}"}


def test_a_con_id_alone_is_looked_up_by_its_con_id_only() -> None:
    h = Harness()
    request = BarRequest(symbol="", bar_size="1 min", duration="1 D", con_id=495512563, sec_type="FUT",
                         exchange="SMART", currency="EUR", last_trade_date="202503")
    key = contract_key(request)
    assert key == ContractKey("", "", "SMART", "", con_id=495512563), "every other field is ignored"
    done = Outcomes()
    h.resolver.resolve(key, done)
    sent = h.sent[0][1]
    assert sent.conId == 495512563
    assert (sent.symbol, sent.secType, sent.exchange, sent.currency, sent.lastTradeDateOrContractMonth) == (
        "", "", "", "", "")
    h.answer(future(495512563, "20250321"))
    contract = done.contract
    assert (contract.con_id, contract.sec_type, contract.last_trade_date) == (495512563, "FUT", "20250321")
    assert contract.route("SMART") == "CME", "its bars are asked where TWS says it trades"


def test_a_con_id_listed_on_several_exchanges_is_the_one_on_the_requests_exchange() -> None:
    h = Harness()
    done = Outcomes()
    h.resolver.resolve(ContractKey("", "", "ISLAND", "", con_id=265598), done)
    h.answer(details(exchange="SMART"), details(exchange="ISLAND"))
    assert done.contract.exchange == "ISLAND" and done.contract.route("ISLAND") == "ISLAND"


def test_a_future_by_expiry_sends_the_expiry_and_takes_that_contract_even_when_it_is_not_the_nearest() -> None:
    h = Harness(today="20250127")
    done = Outcomes()
    h.resolver.resolve(contract_key(replace(MINUTE, last_trade_date="202506")), done)
    assert h.sent[0][1].lastTradeDateOrContractMonth == "202506"
    h.answer(future(2, "20250620"))
    assert done.contract.con_id == 2
    ibapi = done.contract.to_ibapi("CME")
    assert (ibapi.conId, ibapi.secType, ibapi.lastTradeDateOrContractMonth) == (2, "FUT", "20250620")


def test_an_expired_future_with_include_expired_resolves_and_its_bars_say_include_expired() -> None:
    h = Harness(today="20250127")
    done = Outcomes()
    h.resolver.resolve(contract_key(replace(MINUTE, last_trade_date="20241220", include_expired=True)), done)
    assert h.sent[0][1].includeExpired is True
    h.answer(future(9, "20241220"))
    assert done.contract.to_ibapi("CME").includeExpired is True, "TWS has no history of it otherwise"


def test_a_future_without_expiry_still_resolves_to_the_nearest_unexpired_one() -> None:
    h = Harness(today="20250127")
    done = Outcomes()
    h.resolver.resolve(contract_key(MINUTE), done)
    h.answer(future(2, "20250620"), future(1, "20250321"), future(0, "20241220"))
    assert done.contract.con_id == 1


def test_an_option_is_looked_up_with_expiry_strike_right_and_sent_to_ibapi_with_them() -> None:
    h = Harness()
    request = BarRequest(symbol="AAPL", bar_size="1 hour", duration="1 W", sec_type="OPT", last_trade_date="20250221",
                         strike=230.0, right="C", multiplier="100", trading_class="AAPL")
    done = Outcomes()
    h.resolver.resolve(contract_key(request), done)
    sent = h.sent[0][1]
    assert (sent.secType, sent.lastTradeDateOrContractMonth, sent.strike, sent.right, sent.multiplier,
            sent.tradingClass) == ("OPT", "20250221", 230.0, "C", "100", "AAPL")
    h.answer(option(7001, "20250221", 230.0, "C"))
    ibapi = done.contract.to_ibapi("SMART")
    assert (ibapi.conId, ibapi.strike, ibapi.right, ibapi.multiplier, ibapi.lastTradeDateOrContractMonth) == (
        7001, 230.0, "C", "100", "20250221")


def test_every_contract_field_is_part_of_the_cache_key() -> None:
    base = BarRequest(symbol="AAPL", bar_size="1 hour", duration="1 W", sec_type="OPT", last_trade_date="20250221",
                      strike=230.0, right="C")
    variants = [replace(base, **change) for change in (
        {}, {"strike": 235.0}, {"right": "P"}, {"last_trade_date": "20250321"}, {"multiplier": "10"},
        {"trading_class": "AAPL7"}, {"primary_exchange": "CBOE"}, {"include_expired": True},
        {"local_symbol": "AAPL  250221C00230000"})]
    assert len({contract_key(r) for r in variants}) == len(variants)
    h = Harness()
    h.resolver.resolve(contract_key(base), Outcomes())
    h.answer(option(7001, "20250221", 230.0, "C"))
    h.resolver.resolve(contract_key(replace(base, strike=235.0)), Outcomes())
    assert len(h.sent) == 2, "another strike is another contract: looked up, not taken from the cache"


def test_several_option_matches_answer_ambiguous_with_the_candidates_as_contracts() -> None:
    h = Harness()
    done = Outcomes()
    request = BarRequest(symbol="AAPL", bar_size="1 hour", duration="1 W", sec_type="OPT", local_symbol="AAPL")
    h.resolver.resolve(contract_key(request), done)
    chain = [option(7000 + n, "20250221", 200.0 + 5 * (n // 2), "CP"[n % 2]) for n in range(30)]
    h.answer(*chain)
    error = done.error
    assert error.code is ErrorCode.AMBIGUOUS_SYMBOL and error.http_status == 400
    candidates = error.fields["candidates"]
    assert len(candidates) == MAX_CANDIDATES
    assert all(tuple(c) == CONTRACT_KEYS for c in candidates)
    assert candidates[0] == {
        "con_id": 7000, "symbol": "AAPL", "sec_type": "OPT", "local_symbol": "AAPL  250221C00200000",
        "last_trade_date": "20250221", "strike": 200.0, "right": "C", "multiplier": "100", "exchange": "SMART",
        "primary_exchange": "", "currency": "USD", "trading_class": "AAPL", "long_name": "AAPL",
        "time_zone": "US/Eastern", "trading_hours": "", "liquid_hours": "", "min_tick": 0.01}
    assert "30 contracts" in error.message
    assert error.to_wire()["fields"]["candidates"] == candidates, "the candidates cross the wire as they are"


def test_futures_of_one_expiry_on_two_exchanges_are_ambiguous_not_the_nearest() -> None:
    h = Harness()
    done = Outcomes()
    h.resolver.resolve(contract_key(replace(MINUTE, exchange="SMART", last_trade_date="202503")), done)
    h.answer(future(1, "20250321"), future(2, "20250321") | {"exchange": "QBALGO"})
    assert [c["con_id"] for c in done.error.fields["candidates"]] == [1, 2]


def test_the_key_text_round_trips_and_a_plain_key_keeps_its_old_form() -> None:
    plain = ContractKey("AAPL", "STK", "SMART", "USD")
    assert key_text(plain) == "AAPL|STK|SMART|USD"
    full = ContractKey("ES", "FUT", "CME", "USD", last_trade_date="202503", strike=0.0, include_expired=True,
                         local_symbol="ES H5")
    by_con_id = ContractKey("", "", "SMART", "", con_id=12)
    for key in (plain, full, by_con_id):
        assert parse_key_text(key_text(key)) == key
    assert parse_key_text("A|B") is None and parse_key_text("|".join(["x"] * 13)) is None


def test_a_missing_option_is_remembered_under_its_full_key_across_a_restart() -> None:
    store = MemoryStore(1 << 20)
    key = ContractKey("AAPL", "OPT", "SMART", "USD", last_trade_date="20250221", strike=999.0, right="C")
    dead = Harness(store=store)
    dead.resolver.resolve(key, Outcomes())
    dead.answer()
    restarted = Harness(store=store)
    known = Outcomes()
    restarted.resolver.resolve(key, known)
    assert known.error.code is ErrorCode.SYMBOL_NOT_FOUND and restarted.sent == []
    restarted.resolver.resolve(replace(key, strike=230.0), Outcomes())
    assert len(restarted.sent) == 1, "another strike is not the missing one"
