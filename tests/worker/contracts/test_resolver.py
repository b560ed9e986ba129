"""Contract resolution: one reqContractDetails per key however many wait, a cache, the choice among matches, and "no
such contract" remembered for a while. Lookups go through a real outbox (roomy budget unless a test says otherwise)
to a recording client; timers run on an injected clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from ibapi.contract import Contract

import worker.contracts.resolver
from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import LIMITS, T0, Clock, FakeConnection, roomy_budget
from worker.contracts.resolver import ContractKey, ContractResolver, ResolvedContract, contract_key
from worker.history.memory_store import MemoryStore
from worker.timers import Timers
from worker.tws.message_budget import MessageBudget
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingRules

AAPL = ContractKey("AAPL", "STK", "SMART", "USD")
ES = ContractKey("ES", "FUT", "CME", "USD")


def details(symbol: str = "AAPL", con_id: int = 265598, sec_type: str = "STK", exchange: str = "SMART",
            primary: str = "NASDAQ", currency: str = "USD", last_trade_date: str = "",
            time_zone: str = "US/Eastern") -> dict[str, Any]:
    """What TwsClient.contractDetails posts."""
    return {"con_id": con_id, "symbol": symbol, "sec_type": sec_type, "exchange": exchange,
            "primary_exchange": primary, "currency": currency, "local_symbol": symbol, "trading_class": symbol,
            "last_trade_date": last_trade_date, "multiplier": "", "time_zone": time_zone, "long_name": symbol}


class Outcomes:
    """A `done` callback that records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[ResolvedContract | None, BridgeError | None]] = []

    def __call__(self, contract: ResolvedContract | None, error: BridgeError | None) -> None:
        self.calls.append((contract, error))

    @property
    def error(self) -> BridgeError:
        assert len(self.calls) == 1
        contract, error = self.calls[0]
        assert contract is None and error is not None
        return error

    @property
    def contract(self) -> ResolvedContract:
        assert len(self.calls) == 1
        contract, error = self.calls[0]
        assert error is None and contract is not None
        return contract


class LookupClient:
    """Records what the outbox sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Contract]] = []

    def reqContractDetails(self, req_id: int, contract: Contract) -> None:  # noqa: N802 - ibapi's name
        self.sent.append((req_id, contract))


class Harness:
    def __init__(self, today: str = "20250127", not_found_ttl: float = 300.0,
                 budget: tuple[float, int] | None = None, store: MemoryStore | None = None,
                 wall: float = 1.7e9) -> None:
        self.clock = Clock()
        self.timers = Timers(self.clock)
        self.tws = LookupClient()
        self.connection = FakeConnection(self.tws)
        rate = MessageBudget(*budget, self.clock) if budget else roomy_budget(self.clock)  # (rate, burst)
        self.outbox = Outbox(rate, PacingRules(LIMITS, lambda: 0, self.clock),
                             self.timers, self.connection, self.clock)
        ids = itertools.count(50)
        self.resolver = ContractResolver(self.outbox, lambda: next(ids), today=lambda: today,
                                         call_later=self.timers.call_later, timeout=30.0,
                                         not_found_ttl=not_found_ttl, clock=self.clock, store=store,
                                         wall=lambda: wall + self.clock.now)

    @property
    def sent(self) -> list[tuple[int, Contract]]:
        return self.tws.sent

    @property
    def last_req_id(self) -> int:
        return self.sent[-1][0]

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.timers.run_due()

    def answer(self, *matches: dict[str, Any]) -> None:
        req_id = self.last_req_id
        for m in matches:
            self.resolver.on_details(req_id, m)
        self.resolver.on_end(req_id)


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_resolve_sends_one_query_for_the_key(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(AAPL, done)
    assert len(h.sent) == 1
    req_id, query = h.sent[0]
    assert req_id == 50 and h.resolver.owns(50)
    assert (query.symbol, query.secType, query.exchange, query.currency) == ("AAPL", "STK", "SMART", "USD")
    assert done.calls == []


def test_a_single_match_resolves_with_its_con_id_and_time_zone(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(AAPL, done)
    h.answer(details())
    assert done.contract == ResolvedContract(265598, "AAPL", "STK", "SMART", "NASDAQ", "USD", "AAPL", "",
                                             "US/Eastern", trading_class="AAPL")
    assert not h.resolver.owns(50)


def test_a_missing_time_zone_defaults_to_new_york(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(AAPL, done)
    h.answer(details(time_zone=""))
    assert done.contract.time_zone == "America/New_York"


def test_concurrent_resolves_of_one_key_share_one_request(h: Harness) -> None:
    waiters = [Outcomes() for _ in range(5)]
    for done in waiters:
        h.resolver.resolve(AAPL, done)
    assert len(h.sent) == 1
    h.answer(details())
    assert all(done.contract.con_id == 265598 for done in waiters)


def test_different_keys_get_their_own_requests(h: Harness) -> None:
    h.resolver.resolve(AAPL, Outcomes())
    h.resolver.resolve(ContractKey("MSFT", "STK", "SMART", "USD"), Outcomes())
    h.resolver.resolve(ContractKey("AAPL", "STK", "SMART", "EUR"), Outcomes())
    assert [req_id for req_id, _ in h.sent] == [50, 51, 52]


def test_a_resolved_contract_is_cached_and_costs_no_request(h: Harness) -> None:
    h.resolver.resolve(AAPL, Outcomes())
    h.answer(details())
    again = Outcomes()
    h.resolver.resolve(AAPL, again)
    assert len(h.sent) == 1
    assert again.contract.con_id == 265598  # answered at once, synchronously


def test_the_key_is_case_insensitive_but_keeps_the_exchange_and_currency() -> None:
    request = BarRequest(symbol="brk b", bar_size="1 min", duration="1 D", exchange="smart", currency="usd")
    assert contract_key(request) == ContractKey("BRK B", "STK", "SMART", "USD")


def test_zero_matches_is_symbol_not_found(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(ContractKey("ZZZZ", "STK", "SMART", "USD"), done)
    h.answer()
    assert done.error.code is ErrorCode.SYMBOL_NOT_FOUND
    assert done.error.tws_code == 200
    assert "ZZZZ" in done.error.message


def test_failures_are_not_cached(h: Harness) -> None:
    h.resolver.resolve(AAPL, Outcomes())
    h.resolver.on_error(h.last_req_id, 354, "Requested market data is not subscribed.")
    h.resolver.resolve(AAPL, Outcomes())
    assert len(h.sent) == 2


def test_several_stock_matches_are_ambiguous_and_name_the_places(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(ContractKey("SHOP", "STK", "SMART", "USD"), done)
    h.answer(details("SHOP", 1, primary="NYSE"), details("SHOP", 2, primary="TSE"))
    assert done.error.code is ErrorCode.AMBIGUOUS_SYMBOL
    assert done.error.tws_code == 200
    assert "NYSE/USD" in done.error.message and "TSE/USD" in done.error.message


def future(con_id: int, expiry: str) -> dict[str, Any]:
    return details("ES", con_id, sec_type="FUT", exchange="CME", primary="", last_trade_date=expiry,
                   time_zone="US/Central")


def test_a_future_resolves_to_the_nearest_unexpired_expiry(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(ES, done)
    h.answer(future(1, "20250620"), future(2, "20241220"), future(3, "20250321"), future(4, "20250919"))
    assert done.contract.con_id == 3
    assert done.contract.last_trade_date == "20250321"


def test_a_future_expiring_today_is_still_live() -> None:
    h = Harness(today="20250321")
    done = Outcomes()
    h.resolver.resolve(ES, done)
    h.answer(future(3, "20250321"), future(1, "20250620"))
    assert done.contract.con_id == 3


def test_a_future_with_only_expired_contracts_is_not_found(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(ES, done)
    h.answer(future(1, "20241220"), future(2, "20240920"))
    assert done.error.code is ErrorCode.SYMBOL_NOT_FOUND


def test_the_resolved_future_carries_its_expiry_to_ibapi(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(ES, done)
    h.answer(future(3, "20250321"))
    contract = done.contract.to_ibapi("CME")
    assert (contract.conId, contract.secType, contract.exchange) == (3, "FUT", "CME")
    assert contract.lastTradeDateOrContractMonth == "20250321"
    assert contract.primaryExchange == ""


def test_a_stock_goes_to_ibapi_with_its_primary_exchange(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(AAPL, done)
    h.answer(details())
    contract = done.contract.to_ibapi("SMART")
    assert (contract.conId, contract.symbol, contract.exchange, contract.primaryExchange) == (265598, "AAPL",
                                                                                             "SMART", "NASDAQ")


def test_an_error_event_fails_every_waiter() -> None:
    h = Harness(not_found_ttl=0.0)  # nothing remembered: the key is free again at once
    waiters = [Outcomes() for _ in range(3)]
    for done in waiters:
        h.resolver.resolve(AAPL, done)
    h.resolver.on_error(h.last_req_id, 200, "No security definition has been found for the request")
    for done in waiters:
        assert done.error.code is ErrorCode.SYMBOL_NOT_FOUND and done.error.tws_code == 200
    assert not h.resolver.owns(50)
    h.resolver.resolve(AAPL, Outcomes())  # the key is free for a new query
    assert len(h.sent) == 2


def test_other_error_events_keep_their_classification(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(AAPL, done)
    h.resolver.on_error(h.last_req_id, 354, "Requested market data is not subscribed.")
    assert done.error.code is ErrorCode.NOT_SUBSCRIBED


def test_a_notice_does_not_end_the_resolution(h: Harness) -> None:
    done = Outcomes()
    h.resolver.resolve(AAPL, done)
    h.resolver.on_error(h.last_req_id, 2158, "Sec-def data farm connection is OK:secdefnj")
    assert done.calls == [] and h.resolver.owns(50)
    h.answer(details())
    assert done.contract.con_id == 265598


def test_fail_all_answers_every_waiter_of_every_key(h: Harness) -> None:
    a, a2, b = Outcomes(), Outcomes(), Outcomes()
    h.resolver.resolve(AAPL, a)
    h.resolver.resolve(AAPL, a2)
    h.resolver.resolve(ContractKey("MSFT", "STK", "SMART", "USD"), b)
    lost = BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS connection lost", retry_after=1.0)
    h.resolver.fail_all(lost)
    assert a.error is lost and a2.error is lost and b.error is lost
    assert not h.resolver.owns(50) and not h.resolver.owns(51)
    h.resolver.fail_all(lost)  # nothing left: no second answer
    assert len(a.calls) == 1
    h.resolver.resolve(AAPL, Outcomes())
    assert len(h.sent) == 3  # a fresh query after the failure


def test_a_lookup_tws_never_answers_expires_and_the_next_request_asks_again(h: Harness) -> None:
    first = Outcomes()
    h.resolver.resolve(AAPL, first)
    h.advance(30.0)
    assert first.error.code is ErrorCode.TWS_TIMEOUT
    h.resolver.resolve(AAPL, Outcomes())
    assert [req_id for req_id, _ in h.sent] == [50, 51]
    assert h.resolver.stats()["not_found_remembered"] == 0, "a timeout is not a missing contract"


# ---- "no such contract" remembered ----------------------------------------------------------------------------------

UNKNOWN = ContractKey("ZZZZ", "STK", "SMART", "USD")
NO_DEFINITION = "No security definition has been found for the request"


def test_no_such_contract_is_answered_from_memory_at_once_without_a_lookup(h: Harness) -> None:
    first = Outcomes()
    h.resolver.resolve(UNKNOWN, first)
    h.resolver.on_error(h.last_req_id, 200, NO_DEFINITION)
    assert first.error.code is ErrorCode.SYMBOL_NOT_FOUND
    again = Outcomes()
    h.resolver.resolve(UNKNOWN, again)
    assert again.error == first.error  # synchronously, the same answer TWS gave
    assert len(h.sent) == 1
    assert h.resolver.stats() == {"cached": 0, "not_found_remembered": 1, "not_found_hits": 1, "lookups_sent": 1,
                                  "coalesced": 0, "in_flight": 0}


def test_zero_matches_are_remembered_too(h: Harness) -> None:
    h.resolver.resolve(UNKNOWN, Outcomes())
    h.answer()
    again = Outcomes()
    h.resolver.resolve(UNKNOWN, again)
    assert again.error.code is ErrorCode.SYMBOL_NOT_FOUND and len(h.sent) == 1


def test_no_such_contract_is_asked_again_after_the_ttl() -> None:
    h = Harness(not_found_ttl=300.0)
    h.resolver.resolve(UNKNOWN, Outcomes())
    h.resolver.on_error(h.last_req_id, 200, NO_DEFINITION)
    h.advance(299.9)
    h.resolver.resolve(UNKNOWN, Outcomes())
    assert len(h.sent) == 1
    h.advance(0.1)
    listed = Outcomes()
    h.resolver.resolve(UNKNOWN, listed)
    assert len(h.sent) == 2, "remembered for the TTL only: the symbol may be listed by now"
    h.answer(details("ZZZZ", 77))
    assert listed.contract.con_id == 77


def test_no_such_contract_is_saved_in_the_store_and_a_new_worker_knows_it_for_the_rest_of_the_ttl() -> None:
    store = MemoryStore(1 << 20)
    dead = Harness(store=store, wall=1.7e9)
    dead.resolver.resolve(UNKNOWN, Outcomes())
    dead.resolver.on_error(dead.last_req_id, 200, NO_DEFINITION)
    until = 1.7e9 + dead.clock.now + 300
    assert store.not_found() == {"ZZZZ|STK|SMART|USD": pytest.approx(until)}
    restarted = Harness(store=store, wall=until - 100 - T0)  # a new process, started when 200 s of the 300 are gone
    known = Outcomes()
    restarted.resolver.resolve(UNKNOWN, known)
    assert known.error.code is ErrorCode.SYMBOL_NOT_FOUND and restarted.sent == [], "answered without TWS"
    restarted.advance(100.0)
    restarted.resolver.resolve(UNKNOWN, Outcomes())
    assert len(restarted.sent) == 1, "and asked again once the dead worker's TTL is over"


def test_an_expired_or_foreign_record_in_the_store_is_not_remembered() -> None:
    store = MemoryStore(1 << 20)
    store.save_not_found("ZZZZ|STK|SMART|USD", 1.0)
    store.save_not_found("not a key", 4e9)
    h = Harness(store=store)
    h.resolver.resolve(UNKNOWN, Outcomes())
    assert len(h.sent) == 1 and h.resolver.stats()["not_found_remembered"] == 0


def test_a_ttl_of_zero_remembers_nothing() -> None:
    h = Harness(not_found_ttl=0.0)
    h.resolver.resolve(UNKNOWN, Outcomes())
    h.answer()
    h.resolver.resolve(UNKNOWN, Outcomes())
    assert len(h.sent) == 2


@pytest.mark.parametrize(("code", "message"), [
    (200, "The contract description specified for SHOP is ambiguous"),
    (354, "Requested market data is not subscribed."),
    (502, "Couldn't connect to TWS."),
    (321, "Error validating request"),
])
def test_ambiguous_and_other_failures_are_not_remembered(h: Harness, code: int, message: str) -> None:
    h.resolver.resolve(UNKNOWN, Outcomes())
    h.resolver.on_error(h.last_req_id, code, message)
    h.resolver.resolve(UNKNOWN, Outcomes())
    assert len(h.sent) == 2


def test_several_matches_are_not_remembered_as_not_found(h: Harness) -> None:
    h.resolver.resolve(ContractKey("SHOP", "STK", "SMART", "USD"), Outcomes())
    h.answer(details("SHOP", 1, primary="NYSE"), details("SHOP", 2, primary="TSE"))
    h.resolver.resolve(ContractKey("SHOP", "STK", "SMART", "USD"), Outcomes())
    assert len(h.sent) == 2


def test_a_lost_connection_is_not_remembered_as_not_found(h: Harness) -> None:
    h.resolver.resolve(UNKNOWN, Outcomes())
    h.resolver.fail_all(BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS connection lost"))
    h.resolver.resolve(UNKNOWN, Outcomes())
    assert len(h.sent) == 2


def test_the_memory_is_bounded_and_forgets_the_oldest_first(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.contracts.resolver, "MAX_NOT_FOUND", 3)
    keys = [ContractKey(f"X{n}", "STK", "SMART", "USD") for n in range(4)]
    for key in keys:
        h.resolver.resolve(key, Outcomes())
        h.answer()
    assert h.resolver.stats()["not_found_remembered"] == 3
    h.resolver.resolve(keys[3], Outcomes())
    assert len(h.sent) == 4
    h.resolver.resolve(keys[0], Outcomes())
    assert len(h.sent) == 5, "the oldest was forgotten"


# ---- lookups and the message budget -------------------------------------------------------------------------------

def test_identical_lookups_in_flight_are_coalesced_and_counted(h: Harness) -> None:
    for _ in range(64):
        h.resolver.resolve(UNKNOWN, Outcomes())
    assert len(h.sent) == 1 and h.resolver.stats()["coalesced"] == 63


def test_a_lookup_whose_token_would_come_after_its_deadline_is_refused_at_once_with_429() -> None:
    h = Harness(budget=(10, 2))
    clock = h.clock
    symbols = [ContractKey(f"S{n}", "STK", "SMART", "USD") for n in range(4)]
    outcomes = [Outcomes() for _ in symbols]
    for key, done in zip(symbols, outcomes, strict=True):
        h.resolver.resolve(key, done, deadline=clock.now + 0.15)
    assert len(h.sent) == 2, "the burst of 2 goes at once"
    assert outcomes[2].calls == [], "the 3rd token comes in 0.1 s: it waits"
    error = outcomes[3].error  # its token would come in 0.2 s, after its deadline: refused now, never sent late
    assert error.code is ErrorCode.PACING_LIMITED and error.http_status == 429 and error.retry_after >= 1.0
    h.advance(0.1)
    assert len(h.sent) == 3 and h.resolver.stats()["in_flight"] == 3
    assert h.resolver.stats()["not_found_remembered"] == 0


def test_a_lookup_waiting_for_its_turn_is_never_sent_once_its_callers_failed() -> None:
    h = Harness(budget=(1, 2))
    clock = h.clock
    for n in range(3):
        h.resolver.resolve(ContractKey(f"S{n}", "STK", "SMART", "USD"), Outcomes(), deadline=clock.now + 10)
    assert len(h.sent) == 2 and h.outbox.queued == 1
    h.resolver.fail_all(BridgeError(ErrorCode.TWS_UNAVAILABLE, "IB is unreachable behind TWS (1100)"))
    assert h.outbox.queued == 0
    h.advance(5)
    assert len(h.sent) == 2
