"""ConnectionManager as a unit: the connection's life cycle with a fake client and Timers on an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import BridgeConfig
from worker.mailbox import Mailbox
from worker.timers import Timers
from worker.tws.connection_manager import ConnectionManager, ConnectionState


class FakeClient:
    def __init__(self, _mailbox: Mailbox, generation: int) -> None:
        self.generation = generation
        self.closed = False

    def run_connection(self, host: str, port: int, client_id: int) -> None:
        return None  # the test posts the events TWS would cause

    def close_now(self) -> None:
        self.closed = True


class Harness:
    def __init__(self) -> None:
        self.now = 0.0
        self.timers = Timers(clock=lambda: self.now)
        self.calls: list[Any] = []
        self.mailbox = Mailbox()
        self.conn = ConnectionManager(
            BridgeConfig(connectivity_grace=30.0, reconnect_initial_delay=1.0), self.mailbox, self.timers,
            on_ready=lambda: self.calls.append("ready"), on_lost=lambda reason: self.calls.append(("lost", reason)),
            client_factory=FakeClient, on_outage=lambda reason: self.calls.append("outage"),
            on_data_lost=lambda: self.calls.append("data_lost"))

    def event(self, *event: Any) -> bool:
        return self.conn.on_event((event[0], self.conn.generation, *event[1:]))

    def connect(self) -> None:
        self.conn.start()
        self.event("handshake", 157)
        self.event("ready", 1)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.timers.run_due()


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_disconnect_on_request_fails_what_is_in_flight_and_stays_down(h: Harness) -> None:
    h.connect()
    h.conn.stop()
    assert ("lost", "disconnected on request") in h.calls
    assert h.conn.state is ConnectionState.STOPPED
    h.advance(60)
    assert h.conn.state is ConnectionState.STOPPED, "no automatic reconnect after /disconnect"


def test_1100_fails_requests_at_once_and_1102_restores_without_a_reconnect(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
    assert h.calls[-1] == "outage" and not h.conn.usable and h.conn.connected
    h.event("error", -1, 1102, "restored - data maintained")
    assert h.conn.usable and "data_lost" not in h.calls
    h.advance(60)
    assert h.conn.connected and h.conn.reconnects == 0


def test_1101_asks_for_everything_again(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 1100, "lost")
    h.event("error", -1, 1101, "restored - data lost")
    assert h.calls[-1] == "data_lost" and h.conn.usable


def test_1100_not_restored_within_the_grace_period_replaces_the_connection(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 2110, "Connectivity between TWS and server is broken.")
    h.advance(30)
    assert ("lost", "connectivity not restored after 1100/2110") in h.calls
    assert h.conn.state is ConnectionState.WAITING


def test_the_grace_period_ends_with_the_connection_it_belongs_to(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 1100, "lost")
    h.event("closed")
    h.advance(2)  # reconnect after the back-off
    h.event("handshake", 157)
    h.event("ready", 1)
    lost = sum(1 for c in h.calls if isinstance(c, tuple))
    h.advance(60)  # the old grace period must not drop the new connection
    assert h.conn.connected and sum(1 for c in h.calls if isinstance(c, tuple)) == lost


def test_notices_and_restorations_are_not_reported_as_the_last_error(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 2119, "Market data farm is connecting")
    h.event("error", -1, 1100, "lost")
    h.event("error", -1, 1102, "restored")
    assert h.conn.last_error is not None and h.conn.last_error.tws_code == 1100


def test_events_from_an_old_connection_are_ignored(h: Harness) -> None:
    h.connect()
    old = h.conn.generation
    h.event("closed")
    assert h.conn.on_event(("error", old, 5, 162, "late answer")) is True
    assert h.conn.on_event(("ready", old, 1)) is True and not h.conn.connected


# ---- what the connection costs in messages, and send failures ---------------------------------------------------

def test_a_connect_attempt_takes_the_two_tokens_ibapi_spends_by_itself() -> None:
    from worker.tws.message_budget import MessageBudget

    h = Harness()
    budget = MessageBudget(10, 3, clock=lambda: h.now)
    h.conn._budget = budget
    h.conn.start()
    assert h.conn.state is ConnectionState.CONNECTING and budget.taken == 2


def test_a_connect_attempt_without_its_tokens_waits_for_them() -> None:
    from worker.tws.message_budget import MessageBudget

    h = Harness()
    budget = MessageBudget(10, 3, clock=lambda: h.now)
    h.conn._budget = budget
    assert budget.try_take(3)
    h.conn.start()
    assert h.conn.state is ConnectionState.WAITING and h.conn.client is None and budget.taken == 3
    h.advance(0.19)
    assert h.conn.client is None
    h.advance(0.01)  # two tokens at 10 a second
    assert h.conn.state is ConnectionState.CONNECTING and budget.taken == 5


@pytest.mark.parametrize(("req_id", "code", "message"), [
    (-1, 527, "Request Historical Data Sending Error - [Errno 32] Broken pipe"),
    (-1, 531, "Request Current Time Sending Error - [Errno 104] Connection reset by peer"),
    (12, 518, "Request Contract Data Sending Error - [Errno 32] Broken pipe"),
])
def test_a_send_failure_reported_by_the_10x_client_drops_the_connection(h: Harness, req_id: int, code: int,
                                                                        message: str) -> None:
    h.connect()
    client = h.conn.client
    assert h.event("error", req_id, code, message) is True
    assert ("lost", f"sending to TWS failed ({code}): {message}") in h.calls
    assert client is not None and client.closed and h.conn.state is ConnectionState.WAITING
    assert h.conn.last_error is not None and h.conn.last_error.tws_code == code
    h.advance(2)
    h.event("handshake", 157)
    h.event("ready", 1)
    assert h.conn.connected and h.conn.reconnects == 1


# ---- the connection's history (health's connection_history) -----------------------------------------------------

def _history(h: Harness) -> list[tuple[str, bool, int | None]]:
    return [(t["state"], t["ib_reachable"], t["tws_code"]) for t in h.conn.history.report()]


def test_the_history_records_connecting_connected_the_loss_and_the_reconnect(h: Harness) -> None:
    h.connect()
    h.event("closed")
    h.advance(2)
    h.event("handshake", 157)
    h.event("ready", 1)
    assert _history(h) == [("connecting", False, None), ("connected", True, None),
                           ("disconnected", False, None), ("connecting", False, None), ("connected", True, None)]
    assert h.conn.history.report()[2]["reason"] == "connection to TWS lost"


def test_a_failed_attempt_is_recorded_with_what_tws_said_while_connecting(h: Harness) -> None:
    h.conn.start()
    h.event("error", -1, 326, "Unable to connect as the client id is already in use.")
    h.event("closed")
    last = h.conn.history.report()[-1]
    assert (last["state"], last["tws_code"]) == ("disconnected", 326)
    assert "client id" in last["reason"]


def test_ib_unreachable_and_restored_are_transitions_of_a_live_connection(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
    h.event("error", -1, 2110, "Connectivity between TWS and server is broken.")  # still unreachable: no transition
    h.event("error", -1, 1102, "Connectivity restored - data maintained.")
    assert _history(h) == [("connecting", False, None), ("connected", True, None), ("connected", False, 1100),
                           ("connected", True, 1102)]


def test_disconnect_on_request_is_recorded_as_stopped_and_an_earlier_warning_is_not_its_reason(h: Harness) -> None:
    h.connect()
    h.event("error", -1, 10197, "No market data during competing live session")
    h.conn.stop()
    last = h.conn.history.report()[-1]
    assert (last["state"], last["reason"], last["tws_code"]) == ("stopped", "disconnected on request", None)
    assert len(h.conn.history.report()) == 3
