"""A message the client could not decode fails the one request it belongs to with tws_undecodable (502), a stream is
cancelled at TWS, the same request is not sent again while the failure is remembered, and a message that belongs to
no request is counted and logged once. Everything else goes on."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

import worker.history.upstream
from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import AAPL, MINUTE, TWS_END, FakeClient, UpstreamHarness, minute_bar, use_clock
from worker.contracts.resolver import ContractKey, ContractResolver
from worker.history.upstream import UNDECODABLE_MEMORY_S, Upstream
from worker.tws.decoder import Undecodable
from worker.tws.undecodable import IBAPI_VERSION, UndecodableMessages, undecodable_error

BAD_VOLUME = Undecodable(17, 1, "ValueError: invalid literal for int() with base 10: '0.5'", "1,...,0.5,...")


class Handler:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def history_done(self, upstream: Upstream, bars: list[dict[str, Any]], end: str) -> None:
        self.events.append(("done", bars))

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        self.events.append(("failed", error))

    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None:
        self.events.append(("updated", bar))

    @property
    def error(self) -> BridgeError:
        assert len(self.events) == 1 and self.events[0][0] == "failed", self.events
        return self.events[0][1]


class LookupClient(FakeClient):
    """A fake ibapi client that also records contract lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[int] = []

    def reqContractDetails(self, req_id: int, contract: Any) -> None:  # noqa: N802 - ibapi's name
        self.lookups.append(req_id)


class Harness(UpstreamHarness):
    def __init__(self) -> None:
        super().__init__()
        self.tws = LookupClient()
        self.client = self.tws
        self.resolver = ContractResolver(self.outbox, lambda: 900 + len(self.tws.lookups),
                                         call_later=self.timers.call_later, clock=self.clock)
        self.undecodable = UndecodableMessages(self.up, self.resolver)

    @property
    def lookups(self) -> list[int]:
        return self.tws.lookups

    def start(self, keep_up_to_date: bool = False, timeout: float = 30.0) -> Handler:
        handler = Handler()
        request = replace(MINUTE, include_forming=keep_up_to_date)
        self.up.start(Upstream(request, AAPL, keep_up_to_date, handler), self.clock.now + timeout)
        return handler


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = Harness()
    use_clock(monkeypatch, harness.clock, worker.history.upstream)
    return harness


def test_the_request_a_message_belongs_to_fails_with_tws_undecodable(h: Harness) -> None:
    handler = h.start()
    h.undecodable.on_report(replace(BAD_VOLUME, req_id=h.last_id))
    error = handler.error
    assert error.code is ErrorCode.TWS_UNDECODABLE and error.http_status == 502
    assert "historical data (message id 17)" in error.message and "cannot read" in error.message
    assert "'0.5'" in error.message
    assert not h.up.owns(1) and h.up.open_count == 0
    assert h.tws.cancelled == []  # a plain answer is complete at TWS once sent: nothing to cancel
    assert h.undecodable.stats()["failed_requests"] == 1


def test_a_stream_whose_update_cannot_be_decoded_is_cancelled_at_tws(h: Harness) -> None:
    handler = h.start(keep_up_to_date=True)
    h.up.on_end(h.last_id, TWS_END, [minute_bar("11:02")])
    h.undecodable.on_report(Undecodable(90, h.last_id, "InvalidOperation: [<class 'decimal.ConversionSyntax'>]"))
    assert handler.events[-1][0] == "failed" and handler.events[-1][1].code is ErrorCode.TWS_UNDECODABLE
    assert h.tws.cancelled == [1] and h.up.open_count == 0


def test_the_same_request_is_not_sent_again_while_its_failure_is_remembered(h: Harness) -> None:
    h.start()
    h.undecodable.on_report(replace(BAD_VOLUME, req_id=h.last_id))
    h.advance(UNDECODABLE_MEMORY_S - 1)
    again = h.start()
    assert again.error.code is ErrorCode.TWS_UNDECODABLE
    assert len(h.tws.historical) == 1
    other = h.start(keep_up_to_date=True)  # another request of the same series is not condemned with it
    assert other.events == [] and len(h.tws.historical) == 2
    h.advance(1)
    later = h.start()
    assert later.events == [] and len(h.tws.historical) == 3


def test_a_failure_of_our_own_callback_is_an_internal_error() -> None:
    error = undecodable_error(Undecodable(17, 1, "historicalData: KeyError: 'x'", ours=True))
    assert error.code is ErrorCode.INTERNAL_ERROR and "worker's log" in error.message


def test_a_contract_lookup_whose_answer_cannot_be_decoded_fails_its_callers(h: Harness) -> None:
    outcomes: list[tuple[Any, Any]] = []
    key = ContractKey("AAPL", "STK", "SMART", "USD")
    h.resolver.resolve(key, lambda c, e: outcomes.append((c, e)))
    h.undecodable.on_report(Undecodable(10, h.lookups[-1], "ValueError: x"))
    assert len(outcomes) == 1 and outcomes[0][1].code is ErrorCode.TWS_UNDECODABLE
    assert not h.resolver.owns(h.lookups[-1]) and not h.resolver.cached(key)


def test_a_message_of_no_request_is_counted_and_logged_once_per_message_id(h: Harness,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    handler = h.start()
    caplog.set_level(logging.WARNING, "tws.undecodable")
    for _ in range(3):
        h.undecodable.on_report(Undecodable(49, None, "ValueError: x"))
    h.undecodable.on_report(Undecodable(17, 4242, "ValueError: y"))  # a request nobody waits for any more
    assert h.undecodable.stats() == {"failed_requests": 0, "unattributed": 4,
                                     "last": {"msg_id": 17, "req_id": 4242, "reason": "ValueError: y"}}
    assert [r.getMessage().split(" belongs")[0] for r in caplog.records] == [
        "an undecodable message id 49 (reqId None)", "an undecodable message id 17 (reqId 4242)"]
    assert handler.events == [] and h.up.owns(1)


def test_the_message_says_what_tws_sent_and_that_fractional_sizes_need_the_10_x_client() -> None:
    fraction = undecodable_error(Undecodable(17, 1, "ValueError: invalid literal for int() with base 10: b'0.5'",
                                             "1,20250127,...,0.5,1.6,12"))
    assert "ibapi " in fraction.message and "the message: 1,20250127,...,0.5,1.6,12" in fraction.message
    assert ("fractional sizes need ibapi 10.x" in fraction.message) == IBAPI_VERSION.startswith("9.")
    comma = undecodable_error(Undecodable(17, 1, "ValueError: invalid literal for int() with base 10: b'1,5'"))
    assert "fractional" not in comma.message
