"""The head-timestamp book: one request per series, coalesced, remembered in the store, errors by the one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import AAPL
from worker.history.heads import HeadTimestamps, head_key, parse_head
from worker.tws.pacing import PacingKey
from worker.tws.requests import CancelHeadTimestamp, HeadTimestampRequest, TwsRequest

HEAD = 345479400  # 1980-12-12 14:30 UTC


class Sender:
    def __init__(self) -> None:
        self.waiting: list[tuple[Callable[[], TwsRequest], Callable[[BridgeError], None], PacingKey | None]] = []
        self.sent: list[TwsRequest] = []

    def request(self, prepare: Callable[[], TwsRequest], deadline: float, fail: Callable[[BridgeError], None],
                pacing: PacingKey | None = None) -> object:
        self.waiting.append((prepare, fail, pacing))
        return object()

    def send(self, message: TwsRequest) -> None:
        self.sent.append(message)

    def go(self) -> TwsRequest:
        prepare, _, _ = self.waiting.pop(0)
        message = prepare()
        self.sent.append(message)
        return message


class Memory:
    def __init__(self) -> None:
        self.saved: dict[str, int] = {}

    def heads(self) -> dict[str, int]:
        return dict(self.saved)

    def save_head(self, key: str, epoch: int) -> None:
        self.saved[key] = epoch


class Replies(list):
    def __call__(self, answer: dict[str, Any] | None, error: BridgeError | None) -> None:
        self.append((answer, error))


def book() -> tuple[HeadTimestamps, Sender, Memory]:
    ids = iter(range(100, 200))
    sender, memory = Sender(), Memory()
    return HeadTimestamps(sender, lambda: next(ids), memory), sender, memory


def test_a_lookup_asks_tws_once_and_remembers_the_answer_in_the_store() -> None:
    heads, sender, memory = book()
    first, second = Replies(), Replies()
    heads.lookup(AAPL, "TRADES", True, 10.0, first)
    heads.lookup(AAPL, "TRADES", True, 10.0, second)  # coalesced
    assert len(sender.waiting) == 1
    message = sender.go()
    assert isinstance(message, HeadTimestampRequest)
    assert (message.what_to_show, message.use_rth, message.format_date) == ("TRADES", 1, 2)
    assert heads.open_count == 1
    heads.on_head(message.req_id, str(HEAD))
    answer = {"time": HEAD, "date": "19801212 09:30:00"}
    assert first == second == [(answer, None)]
    assert memory.saved == {head_key(AAPL, "TRADES", True): HEAD}
    assert sender.sent[-1] == CancelHeadTimestamp(message.req_id)  # answered: cancelled, as IB's samples do
    assert heads.open_count == 0
    again = Replies()
    heads.lookup(AAPL, "TRADES", True, 10.0, again)
    assert again == [(answer, None)] and not sender.waiting  # from the store


def test_other_what_to_show_or_session_is_another_request() -> None:
    heads, sender, _ = book()
    heads.lookup(AAPL, "TRADES", True, 10.0, Replies())
    heads.lookup(AAPL, "TRADES", False, 10.0, Replies())
    heads.lookup(AAPL, "MIDPOINT", True, 10.0, Replies())
    assert len(sender.waiting) == 3
    keys = [pacing for _, _, pacing in sender.waiting]
    assert all(k is not None and k.bar_seconds > 30 for k in keys)  # paced, outside the small-bar budget
    assert len({k.identity for k in keys if k}) == 3


def test_both_forms_tws_sends_are_read() -> None:
    assert parse_head("345479400", "America/New_York") == HEAD
    assert parse_head("19801212-14:30:00", "America/New_York") == HEAD  # formatDate 1: UTC
    assert parse_head("19801212 09:30:00", "America/New_York") == HEAD  # local
    assert parse_head("19801212 09:30:00 US/Eastern", "Europe/London") == HEAD
    assert parse_head("garbage", "America/New_York") is None


def test_errors_map_through_the_one_table_and_end_the_lookup() -> None:
    heads, sender, memory = book()
    replies = Replies()
    heads.lookup(AAPL, "TRADES", True, 10.0, replies)
    message = sender.go()
    heads.on_error(message.req_id, 2106, "HMDS data farm connection is OK")  # a notice: goes on
    assert replies == []
    heads.on_error(message.req_id, 354, "Requested market data is not subscribed.")
    [(answer, error)] = replies
    assert answer is None and error is not None and error.code is ErrorCode.NOT_SUBSCRIBED
    assert not heads.owns(message.req_id) and memory.saved == {}
    assert not any(isinstance(m, CancelHeadTimestamp) for m in sender.sent)  # an error ended it in TWS


def test_an_unreadable_answer_fails_and_is_not_remembered() -> None:
    heads, sender, memory = book()
    replies = Replies()
    heads.lookup(AAPL, "TRADES", True, 10.0, replies)
    message = sender.go()
    heads.on_head(message.req_id, "tomorrow")
    assert replies[0][1] is not None and replies[0][1].code is ErrorCode.TWS_ERROR
    assert memory.saved == {}


def test_a_lookup_that_never_got_its_turn_fails_with_the_outboxs_error() -> None:
    heads, sender, _ = book()
    replies = Replies()
    heads.lookup(AAPL, "TRADES", True, 10.0, replies)
    _, fail, _ = sender.waiting.pop()
    fail(BridgeError(ErrorCode.PACING_LIMITED, "no turn", retry_after=3))
    assert replies[0][1] is not None and replies[0][1].code is ErrorCode.PACING_LIMITED
    heads.lookup(AAPL, "TRADES", True, 10.0, Replies())
    assert len(sender.waiting) == 1  # asked again


def test_a_lost_connection_fails_every_lookup_in_flight() -> None:
    heads, sender, _ = book()
    replies = Replies()
    heads.lookup(AAPL, "TRADES", True, 10.0, replies)
    sender.go()
    heads.connection_lost()
    assert replies[0][1] is not None and replies[0][1].code is ErrorCode.TWS_UNAVAILABLE
    assert heads.stats()["in_flight"] == 0
