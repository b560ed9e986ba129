"""The "contracts" operation: every match of reqContractDetails as the bridge's contract objects, one request however
many ask at once, a listing kept until an expiry in it has passed, "no such contract" remembered for a while."""

from __future__ import annotations

from typing import Any

from shared.errors import ErrorCode
from tests.worker.contracts.lookup_rig import LookupRig
from tests.worker.fakes import Replies
from worker.contracts.lookup import ContractLookups

ES = {"symbol": "ES", "sec_type": "FUT", "exchange": "CME"}


def future(month: str, con_id: int) -> dict[str, Any]:
    """A contract object as TwsClient posts it (worker/contracts/contract_json.py)."""
    return {"con_id": con_id, "symbol": "ES", "sec_type": "FUT", "local_symbol": f"ES{month}",
            "last_trade_date": {"H5": "20250321", "M5": "20250620", "U5": "20250919"}[month], "strike": 0.0,
            "right": "", "multiplier": "50", "exchange": "CME", "primary_exchange": "", "currency": "USD",
            "trading_class": "ES", "long_name": "E-mini S&P 500", "time_zone": "US/Central", "trading_hours": "",
            "liquid_hours": "", "min_tick": 0.25}


def make(rig: LookupRig, today: str = "20250128", not_found_ttl: float = 300.0) -> tuple[ContractLookups, list[str]]:
    day = [today]
    return ContractLookups(rig.outbox, rig.timers, rig.next_id, timeout=30.0, not_found_ttl=not_found_ttl,
                           today=lambda: day[0], clock=rig.clock), day


def answer(lookups: ContractLookups, req_id: int, *contracts: dict[str, Any]) -> None:
    for contract in contracts:
        lookups.on_details(req_id, contract)
    lookups.on_end(req_id)


def test_every_match_is_answered_in_expiry_order_and_a_repeat_sends_nothing() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    first = Replies()
    lookups.handle(ES, rig.deadline(), first)
    (req_id, contract), = rig.tws.details
    assert (contract.symbol, contract.secType, contract.exchange, contract.currency) == ("ES", "FUT", "CME", "USD")
    assert (contract.conId, contract.lastTradeDateOrContractMonth, contract.includeExpired) == (0, "", False)
    answer(lookups, req_id, future("U5", 3), future("H5", 1), future("M5", 2))
    assert [c["local_symbol"] for c in first.result["contracts"]] == ["ESH5", "ESM5", "ESU5"]
    again = Replies()
    lookups.handle(ES, rig.deadline(), again)
    assert again.result == first.result
    assert len(rig.tws.details) == 1


def test_identical_lookups_in_flight_share_one_request() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    callers = [Replies() for _ in range(5)]
    for reply in callers:
        lookups.handle(ES, rig.deadline(), reply)
    assert len(rig.tws.details) == 1
    answer(lookups, rig.tws.details[0][0], future("H5", 1))
    assert all(reply.result["contracts"][0]["con_id"] == 1 for reply in callers)


def test_a_listing_is_asked_for_again_once_an_expiry_in_it_has_passed() -> None:
    rig = LookupRig()
    lookups, day = make(rig)
    lookups.handle(ES, rig.deadline(), Replies())
    answer(lookups, rig.tws.details[-1][0], future("H5", 1), future("M5", 2))
    day[0] = "20250321"  # the front contract's last day: still listed
    lookups.handle(ES, rig.deadline(), Replies())
    assert len(rig.tws.details) == 1
    day[0] = "20250322"
    later = Replies()
    lookups.handle(ES, rig.deadline(), later)
    assert len(rig.tws.details) == 2
    answer(lookups, rig.tws.details[-1][0], future("M5", 2), future("U5", 3))
    assert [c["con_id"] for c in later.result["contracts"]] == [2, 3]


def test_no_match_is_404_and_remembered_for_the_ttl_without_asking_tws_again() -> None:
    rig = LookupRig()
    lookups, _ = make(rig, not_found_ttl=300.0)
    first = Replies()
    query = {"symbol": "NOPE"}
    lookups.handle(query, rig.deadline(), first)
    answer(lookups, rig.tws.details[-1][0])
    assert first.error.code is ErrorCode.SYMBOL_NOT_FOUND and first.error.http_status == 404
    rig.advance(299)
    remembered = Replies()
    lookups.handle(query, rig.deadline(), remembered)
    assert remembered.error.code is ErrorCode.SYMBOL_NOT_FOUND
    assert len(rig.tws.details) == 1
    rig.advance(2)
    lookups.handle(query, rig.deadline(), Replies())
    assert len(rig.tws.details) == 2


def test_tws_error_200_is_404_and_remembered() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    first = Replies()
    lookups.handle({"con_id": 999}, rig.deadline(), first)
    lookups.on_error(rig.tws.details[-1][0], 200, "No security definition has been found for the request")
    assert first.error.code is ErrorCode.SYMBOL_NOT_FOUND and first.error.tws_code == 200
    lookups.handle({"con_id": 999, "sec_type": "FUT"}, rig.deadline(), Replies())  # con_id alone names it
    assert len(rig.tws.details) == 1


def test_a_con_id_is_sent_alone() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    lookups.handle({"con_id": 495512563, "symbol": "ES", "sec_type": "FUT", "exchange": "CME",
                    "include_expired": True}, rig.deadline(), Replies())
    (_, contract), = rig.tws.details
    assert (contract.conId, contract.symbol, contract.secType, contract.exchange, contract.includeExpired) == \
        (495512563, "", "", "", True)


def test_the_contract_fields_narrow_the_request() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    lookups.handle({"symbol": "AAPL", "sec_type": "OPT", "last_trade_date": "202502", "strike": 230.0,
                    "right": "C", "multiplier": "100", "trading_class": "AAPL"}, rig.deadline(), Replies())
    (_, c), = rig.tws.details
    assert (c.secType, c.lastTradeDateOrContractMonth, c.strike, c.right, c.multiplier, c.tradingClass) == \
        ("OPT", "202502", 230.0, "C", "100", "AAPL")


def test_an_option_chain_may_be_listed_without_expiry_strike_or_right() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    reply = Replies()
    lookups.handle({"symbol": "AAPL", "sec_type": "OPT"}, rig.deadline(), reply)
    assert not reply.calls and len(rig.tws.details) == 1


def test_an_invalid_query_is_refused_before_anything_is_sent() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    for body in ({"symbol": "ES,NQ"}, {"symbol": "ES\x00"}, {"symbol": "ES", "right": "X"}, {"q": "ES"}, []):
        reply = Replies()
        lookups.handle(body, rig.deadline(), reply)
        assert reply.error.code is ErrorCode.INVALID_REQUEST, body
    assert rig.tws.details == []


def test_a_caller_whose_deadline_passes_gets_a_timeout_and_the_others_their_answer() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    hasty, patient = Replies(), Replies()
    lookups.handle(ES, rig.deadline(2), hasty)
    lookups.handle(ES, rig.deadline(20), patient)
    rig.advance(3)
    assert hasty.error.code is ErrorCode.TWS_TIMEOUT
    answer(lookups, rig.tws.details[-1][0], future("H5", 1))
    assert patient.result["contracts"][0]["con_id"] == 1


def test_a_lookup_tws_never_answers_fails_and_is_not_remembered() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    reply = Replies()
    lookups.handle(ES, rig.deadline(60), reply)
    rig.advance(31)
    assert reply.error.code is ErrorCode.TWS_TIMEOUT
    assert not lookups.owns(rig.tws.details[-1][0])
    lookups.handle(ES, rig.deadline(), Replies())
    assert len(rig.tws.details) == 2


def test_more_matches_than_an_answer_holds_is_400_asking_to_narrow_it_and_not_kept() -> None:
    rig = LookupRig()
    lookups, _ = make(rig)
    chain = {"symbol": "AAPL", "sec_type": "OPT"}
    reply = Replies()
    lookups.handle(chain, rig.deadline(), reply)
    answer(lookups, rig.tws.details[-1][0], *({**future("H5", n), "strike": float(n)} for n in range(1, 1002)))
    assert reply.error.code is ErrorCode.INVALID_REQUEST and "last_trade_date" in reply.error.fields["symbol"]
    lookups.handle(chain, rig.deadline(), Replies())
    assert len(rig.tws.details) == 2
