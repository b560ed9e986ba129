"""The "symbol_search" operation: reqMatchingSymbols at most one a second (stamped as it leaves), a search whose turn
would come after its deadline refused at once with 429, answers kept an hour per text, identical searches shared."""

from __future__ import annotations

import itertools
from typing import Any

from shared.errors import BridgeError, ErrorCode
from tests.worker.contracts.lookup_rig import LookupRig
from tests.worker.fakes import Replies
from worker.contracts.symbol_search import SymbolSearches


def match(symbol: str, con_id: int = 1) -> dict[str, Any]:
    return {"con_id": con_id, "symbol": symbol, "sec_type": "STK", "primary_exchange": "NASDAQ", "currency": "USD",
            "derivative_sec_types": ["OPT", "WAR"]}


def make(rig: LookupRig) -> SymbolSearches:
    return SymbolSearches(rig.outbox, rig.timers, rig.next_id, timeout=30.0, clock=rig.clock)


def test_searches_leave_at_most_one_a_second() -> None:
    rig = LookupRig()
    searches = make(rig)
    replies = {text: Replies() for text in ("AP", "MS", "GO", "NV")}
    for text, reply in replies.items():
        searches.handle({"q": text}, rig.deadline(10), reply)
    assert [s[1] for s in rig.tws.searches] == ["AP"]
    rig.advance(3.05)
    assert [s[1] for s in rig.tws.searches] == ["AP", "MS", "GO", "NV"]
    times = [s[2] for s in rig.tws.searches]
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))
    for req_id, text, _ in rig.tws.searches:
        searches.on_samples(req_id, [match(text)])
    assert all(reply.result["matches"][0]["symbol"] == text for text, reply in replies.items())


def test_the_interval_is_counted_from_when_a_search_left_not_from_when_it_was_handed_over() -> None:
    rig = LookupRig(rate=2.0)  # a message every 0.5 s
    searches = make(rig)
    assert rig.budget.try_take()  # the token is spent: the first search waits 0.5 s for its own
    searches.handle({"q": "AP"}, rig.deadline(10), Replies())
    searches.handle({"q": "MS"}, rig.deadline(10), Replies())
    rig.advance(3)
    first, second = (s[2] for s in rig.tws.searches)
    assert second - first >= 1.0


def test_a_search_whose_turn_comes_after_its_deadline_is_refused_at_once_with_retry_after() -> None:
    rig = LookupRig()
    searches = make(rig)
    for text in ("AP", "MS", "GO"):
        searches.handle({"q": text}, rig.deadline(10), Replies())
    late = Replies()
    searches.handle({"q": "NV"}, rig.deadline(2.5), late)  # its turn: in 3 s
    error = late.error
    assert error.code is ErrorCode.PACING_LIMITED and error.http_status == 429
    assert error.retry_after is not None and 2.5 <= error.retry_after <= 3.5
    rig.advance(5)
    assert "NV" not in [s[1] for s in rig.tws.searches]


def test_an_answer_is_kept_an_hour_per_text_in_any_case() -> None:
    rig = LookupRig()
    searches = make(rig)
    first = Replies()
    searches.handle({"q": "app"}, rig.deadline(), first)
    (req_id, pattern, _), = rig.tws.searches
    assert pattern == "APP"
    searches.on_samples(req_id, [match("APP"), match("APPF", 2)])
    rig.advance(3599)
    again = Replies()
    searches.handle({"q": "APP"}, rig.deadline(), again)
    assert again.result == first.result and len(rig.tws.searches) == 1
    rig.advance(2)
    searches.handle({"q": "App"}, rig.deadline(), Replies())
    assert len(rig.tws.searches) == 2


def test_no_match_is_an_empty_answer_kept_too() -> None:
    rig = LookupRig()
    searches = make(rig)
    reply = Replies()
    searches.handle({"q": "ZZZZQ"}, rig.deadline(), reply)
    searches.on_samples(rig.tws.searches[-1][0], [])
    assert reply.result == {"matches": []}
    searches.handle({"q": "ZZZZQ"}, rig.deadline(), Replies())
    assert len(rig.tws.searches) == 1


def test_identical_searches_waiting_or_in_flight_share_one_request() -> None:
    rig = LookupRig()
    searches = make(rig)
    searches.handle({"q": "AP"}, rig.deadline(), Replies())
    waiting = [Replies() for _ in range(3)]
    for reply in waiting:
        searches.handle({"q": "MS"}, rig.deadline(), reply)  # in line behind AP
    in_flight = Replies()
    searches.handle({"q": "AP"}, rig.deadline(), in_flight)
    rig.advance(1.5)
    assert [s[1] for s in rig.tws.searches] == ["AP", "MS"]
    for req_id, text, _ in rig.tws.searches:
        searches.on_samples(req_id, [match(text)])
    assert in_flight.result["matches"][0]["symbol"] == "AP"
    assert all(reply.result["matches"][0]["symbol"] == "MS" for reply in waiting)


def test_at_most_16_matches_are_answered() -> None:
    rig = LookupRig()
    searches = make(rig)
    reply = Replies()
    searches.handle({"q": "A"}, rig.deadline(), reply)
    searches.on_samples(rig.tws.searches[-1][0], [match(f"A{n}", n) for n in range(20)])
    assert len(reply.result["matches"]) == 16


def test_an_invalid_text_is_refused_before_anything_is_sent() -> None:
    rig = LookupRig()
    searches = make(rig)
    for body in ({"q": ""}, {"q": "A,B"}, {"q": "A\x00"}, {"q": "A\n"}, {"q": " A"}, {"q": "A" * 33}, {"q": 5}, {}):
        reply = Replies()
        searches.handle(body, rig.deadline(), reply)
        assert reply.error.code is ErrorCode.INVALID_REQUEST, body
    assert rig.tws.searches == []


def test_a_lost_connection_fails_every_search_waiting_or_sent() -> None:
    rig = LookupRig()
    searches = make(rig)
    replies = [Replies() for _ in range(3)]
    for text, reply in zip(("AP", "MS", "GO"), replies, strict=True):
        searches.handle({"q": text}, rig.deadline(), reply)
    lost = BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS connection lost", retry_after=1.0)
    searches.fail_all(lost)
    assert [reply.error for reply in replies] == [lost, lost, lost]
    rig.advance(5)
    assert len(rig.tws.searches) == 1  # the one sent before; nothing after
