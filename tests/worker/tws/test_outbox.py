"""The outbox: the one line every message to TWS waits in, under one message budget, with IB's pacing rules as a rule
of that line. Real MessageBudget, PacingRules and Timers on one injected clock; a recording client; nothing sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import LIMITS, T0, Clock, FakeConnection
from worker.timers import Timers
from worker.tws.message_budget import MessageBudget
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingKey, PacingRules
from worker.tws.pacing_ledger import SentRequest
from worker.tws.requests import CancelHistoricalData, ContractDetailsRequest, CurrentTimeRequest, TwsRequest

MARGIN = LIMITS.margin


class RecordingClient:
    """Records every ibapi call with the clock's time; raises `fail_with` instead when it is set."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[tuple[float, str, tuple[Any, ...]]] = []
        self.fail_with: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> None:
            if self.fail_with is not None:
                raise self.fail_with
            self.calls.append((self.clock.now, name, args))
        return call

    @property
    def names(self) -> list[str]:
        return [name for _, name, _ in self.calls]


class Ledger:
    """A pacing ledger in memory that shows what was written when."""

    location = "test"

    def __init__(self) -> None:
        self.appended: list[SentRequest] = []

    def load(self) -> list[SentRequest]:
        return []

    def append(self, sent: SentRequest) -> None:
        self.appended.append(sent)

    def rewrite(self, keep: Any) -> None:
        return None

    def close(self) -> None:
        return None


class Harness:
    def __init__(self, rate: float = 10.0, burst: int = 2) -> None:
        self.clock = Clock()
        self.timers = Timers(self.clock)
        self.budget = MessageBudget(rate, burst, self.clock)
        self.client = RecordingClient(self.clock)
        self.connection = FakeConnection(self.client)
        self.ledger = Ledger()
        self.open = 0
        self.pacing = PacingRules(LIMITS, lambda: self.open, self.clock, self.ledger, wall=lambda: 1e9 + self.clock.now)
        self.outbox = Outbox(self.budget, self.pacing, self.timers, self.connection, self.clock)
        self.failures: dict[str, BridgeError] = {}
        self._n = 0

    def request(self, label: str = "", within: float = 30.0, pacing: PacingKey | None = None) -> str:
        """A lookup (or, with `pacing`, a historical request) labelled `label`; its failure lands in failures."""
        self._n += 1
        label = label or f"r{self._n}"
        message: TwsRequest = ContractDetailsRequest(self._n, label)  # type: ignore[arg-type]
        self.outbox.request(lambda: message, self.clock.now + within,
                            lambda error: self.failures.__setitem__(label, error), pacing)
        return label

    def sent_labels(self) -> list[str]:
        return [args[1] if name == "reqContractDetails" else name for _, name, args in self.client.calls]

    def sent_at(self, label: str) -> float:
        return next(t for t, name, args in self.client.calls if name == "reqContractDetails" and args[1] == label)

    def exhaust(self) -> None:
        while self.budget.try_take():
            pass

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.timers.run_due()


@pytest.fixture
def h() -> Harness:
    return Harness()


def historical(identity: str) -> PacingKey:
    return PacingKey(identity=(identity,), group=(identity, "SMART", "TRADES"), bar_seconds=60)


# ---- one budget for everything ---------------------------------------------------------------------------------

def test_every_message_takes_a_token_and_waits_in_order_for_one(h: Harness) -> None:
    labels = [h.request() for _ in range(4)]
    assert h.sent_labels() == labels[:2], "the burst of 2 goes at once"
    h.advance(0.1)
    assert h.sent_labels() == labels[:3]
    h.advance(0.1)
    assert h.sent_labels() == labels
    assert h.failures == {} and h.outbox.queued == 0 and h.outbox.waited == 2


def test_control_messages_go_first_but_still_inside_the_budget(h: Harness) -> None:
    h.exhaust()
    first, second = h.request(), h.request()
    h.outbox.send(CancelHistoricalData(7))
    h.outbox.send(CurrentTimeRequest())
    assert h.client.calls == [], "no token: nothing goes, not even a cancel"
    h.advance(0.1)
    assert h.sent_labels() == ["cancelHistoricalData"]
    h.advance(0.1)
    assert h.sent_labels() == ["cancelHistoricalData", "reqCurrentTime"]
    h.advance(0.2)
    assert h.sent_labels() == ["cancelHistoricalData", "reqCurrentTime", first, second]


def test_a_cancel_is_never_refused_however_long_it_waits() -> None:
    h = Harness(rate=1.0, burst=2)
    h.exhaust()
    for req_id in range(10):
        h.outbox.send(CancelHistoricalData(req_id))
    for _ in range(9):
        h.advance(1.0)
    assert len(h.client.calls) == 9
    h.advance(1.0)
    assert [args[0] for _, _, args in h.client.calls] == list(range(10))
    assert h.outbox.refused == 0


def test_a_request_whose_token_would_come_after_its_deadline_is_refused_at_once_with_429(h: Harness) -> None:
    h.exhaust()
    waits = h.request(within=0.15)  # its token comes in 0.1 s
    late = h.request(within=0.15)  # its token would come in 0.2 s
    error = h.failures[late]
    assert error.code is ErrorCode.PACING_LIMITED and error.http_status == 429
    assert error.retry_after == 1.0 and "10 messages a second" in error.message
    assert waits not in h.failures and h.outbox.refused == 1
    h.advance(0.1)
    assert h.sent_labels() == [waits]
    h.advance(5)
    assert h.sent_labels() == [waits], "a refused request is never sent later"


def test_a_request_still_waiting_at_its_deadline_is_refused_never_sent_late() -> None:
    h = Harness(rate=10.0, burst=1)
    h.exhaust()
    waits = h.request(within=0.1)  # the estimate says its token comes just in time ...
    h.outbox.send(CancelHistoricalData(1))  # ... but a cancel jumps ahead
    h.advance(0.1)
    assert h.sent_labels() == ["cancelHistoricalData"]
    assert h.failures[waits].code is ErrorCode.PACING_LIMITED
    h.advance(1)
    assert h.sent_labels() == ["cancelHistoricalData"]


def test_no_input_makes_the_outbox_exceed_its_rate(h: Harness) -> None:
    """10 a second with a burst of 2: 200 lookups, 50 cancels and 50 probes handed in at once, sent over 30 s."""
    for _ in range(200):
        h.request(within=60)
    for req_id in range(50):
        h.outbox.send(CancelHistoricalData(req_id))
        h.outbox.send(CurrentTimeRequest())
    for _ in range(300):
        h.advance(0.1)
    times = [t for t, _, _ in h.client.calls]
    assert len(times) == 300 and h.failures == {}
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 10 + 2


# ---- pacing is a rule of the same line ----------------------------------------------------------------------------

def test_a_historical_request_is_stamped_when_it_is_sent_not_when_it_was_queued() -> None:
    """IB's 15-s rule counts from when TWS got the first request: a request that waited for its token must be
    recorded at the moment it left, or an identical one could follow it within 15 s."""
    h = Harness(rate=1.0, burst=1)
    h.exhaust()
    first = h.request("first", within=60, pacing=historical("AAPL"))
    h.advance(1.0)
    assert h.sent_labels() == ["first"]
    sent = h.sent_at(first)
    assert sent == T0 + 1.0
    assert [r.wall for r in h.ledger.appended] == [1e9 + sent], "the ledger holds the real send time"
    again = h.request("again", within=60, pacing=historical("AAPL"))
    h.advance(15 + MARGIN - 1.0 - 0.01)
    assert h.sent_labels() == ["first"], "not 15 s after it was queued"
    h.advance(0.01 + 1.0)
    assert h.sent_at(again) == sent + 15 + MARGIN


def test_a_request_held_by_pacing_does_not_hold_a_lookup_behind_it(h: Harness) -> None:
    h.request("first", pacing=historical("AAPL"))
    held = h.request("held", pacing=historical("AAPL"))
    lookup = h.request("lookup")
    assert h.sent_labels() == ["first", "lookup"]
    assert held not in h.failures and lookup not in h.failures


def test_a_pacing_wait_past_the_deadline_is_refused_at_once_and_named_for_pacing(h: Harness) -> None:
    h.request("first", pacing=historical("AAPL"))
    again = h.request("again", within=10, pacing=historical("AAPL"))
    error = h.failures[again]
    assert error.code is ErrorCode.PACING_LIMITED and error.retry_after == pytest.approx(15.2, abs=0.1)
    assert "pacing" in error.message and h.outbox.pacing_refused == 1 and h.outbox.refused == 0


def test_a_historical_request_refused_for_its_token_is_never_recorded_as_sent() -> None:
    h = Harness(rate=1.0, burst=1)
    h.exhaust()
    refused = h.request("refused", within=0.5, pacing=historical("AAPL"))
    assert refused in h.failures and h.ledger.appended == []
    h.request("later", within=60, pacing=historical("AAPL"))
    h.advance(1.0)
    assert h.sent_labels() == ["later"], "the refused one left no 15-s window behind"


# ---- the connection ---------------------------------------------------------------------------------------------

def test_an_exception_from_a_send_is_a_lost_connection(h: Harness) -> None:
    h.client.fail_with = BrokenPipeError(32, "Broken pipe")
    failed = h.request()
    assert h.connection.dropped == ["sending reqContractDetails failed: BrokenPipeError: [Errno 32] Broken pipe"]
    assert h.outbox.send_failures == 1 and h.outbox.sent == 0
    assert failed not in h.failures, "the request's owner fails it with the connection (503), not the outbox"


def test_requests_behind_a_failed_send_fail_as_unavailable(h: Harness) -> None:
    h.exhaust()
    first, second = h.request(), h.request()
    h.client.fail_with = OSError("socket closed")
    h.advance(0.1)
    assert len(h.connection.dropped) == 1
    assert h.failures[second].code is ErrorCode.TWS_UNAVAILABLE and h.failures[second].http_status == 503
    assert first not in h.failures and h.outbox.queued == 0


def test_a_request_while_ib_is_unreachable_fails_at_once_with_503_without_a_token(h: Harness) -> None:
    h.connection.reachable = False  # 1100
    label = h.request()
    assert h.failures[label].code is ErrorCode.TWS_UNAVAILABLE
    assert h.budget.tokens() == 2 and h.client.calls == []


def test_a_cancel_still_goes_while_ib_is_unreachable(h: Harness) -> None:
    h.connection.reachable = False
    h.outbox.send(CancelHistoricalData(3))
    assert h.sent_labels() == ["cancelHistoricalData"]


def test_a_lost_connection_drops_control_messages_and_fails_what_is_left_in_line(h: Harness) -> None:
    h.exhaust()
    h.outbox.send(CancelHistoricalData(3))
    left = h.request()
    h.connection.client = None
    h.outbox.connection_lost()
    assert h.failures[left].code is ErrorCode.TWS_UNAVAILABLE and h.outbox.queued == 0
    h.advance(1)
    assert h.client.calls == []


def test_a_withdrawn_request_is_never_sent(h: Harness) -> None:
    h.exhaust()
    ticket = h.outbox.request(lambda: CurrentTimeRequest(), h.clock.now + 30, lambda e: None)
    assert h.outbox.withdraw(ticket) and not h.outbox.withdraw(ticket)
    h.advance(1)
    assert h.client.calls == [] and h.outbox.queued == 0


def test_stats_show_the_budget(h: Harness) -> None:
    h.exhaust()
    h.request(within=0.05)
    h.request()
    stats = h.outbox.stats()
    assert stats == {"max_per_second": 10.0, "burst": 2, "messages_sent": 2, "queued": 1, "tokens_left": 0.0,
                     "waited": 1, "refused": 1, "send_failures": 0}
