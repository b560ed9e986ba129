"""The worker's figures for GET /metrics: the "metrics" operation answers every figure the HTTP side names, TWS
errors are counted by code with a bounded set of codes, and every message sent is counted by its kind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ibapi.contract import Contract

from app.metrics.worker_figures import FIGURES, LABELLED_FIGURES
from shared.config import BridgeConfig
from shared.errors import BridgeError
from shared.protocol import OPERATIONS, WorkerRequest
from tests.worker.fakes import Clock, FakeConnection, roomy_budget
from tests.worker.tws.test_connection_manager import Harness as ConnectionHarness
from worker.service import WorkerService
from worker.timers import Timers
from worker.tws.error_counts import OTHER, TwsErrorCounts
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingLimits, PacingRules
from worker.tws.requests import (
    CancelHistoricalData,
    ContractDetailsRequest,
    CurrentTimeRequest,
    HeadTimestampRequest,
    HistoricalDataRequest,
    request_kind,
)


def ask_metrics(tmp_path: Path) -> dict[str, Any]:
    """The real service's answer to a "metrics" request, as its owner thread gives it (no TWS connection needed)."""
    service = WorkerService(BridgeConfig(worker_endpoint=f"ipc://{tmp_path}/w.sock", store_path=""))
    answers: list[tuple[dict[str, Any] | None, BridgeError | None]] = []
    service._dispatch(WorkerRequest.new("metrics", {}, time.time() + 5), lambda r, e: answers.append((r, e)))
    assert len(answers) == 1 and answers[0][1] is None
    result = answers[0][0]
    assert result is not None
    return result


def test_metrics_is_an_operation_of_the_protocol() -> None:
    assert "metrics" in OPERATIONS


def test_the_metrics_operation_answers_every_figure_the_http_side_names(tmp_path: Path) -> None:
    figures = ask_metrics(tmp_path)
    for key, *_ in FIGURES:
        assert isinstance(figures[key], int | float), key
    for key, *_ in LABELLED_FIGURES:
        assert isinstance(figures[key], dict), key
    assert figures["connection_state"] in figures["connection_states"]
    assert set(figures["jobs"]) == {"pending", "running", "done", "failed", "cancelled"}
    assert figures["connected"] is False and figures["tws_errors"] == {}


def test_every_tws_error_and_notice_of_the_current_connection_is_counted_by_code() -> None:
    h = ConnectionHarness()
    h.connect()
    h.event("error", -1, 2104, "Market data farm connection is OK:usfarm")
    h.event("error", 7, 200, "No security definition has been found for the request")
    h.event("error", 8, 200, "No security definition has been found for the request")
    h.conn.on_event(("error", h.conn.generation - 1, 9, 162, "from a connection that is gone"))
    assert h.conn.tws_errors.counts() == {"2104": 1, "200": 2}


def test_codes_past_the_bound_count_as_other() -> None:
    counts = TwsErrorCounts(max_codes=2)
    for code in (200, 162, 321, 200, 354):
        counts.count(code)
    assert counts.counts() == {"200": 2, "162": 1, OTHER: 2}


def test_each_message_sent_is_counted_by_its_kind() -> None:
    clock = Clock()
    sent: list[str] = []

    class Client:
        def __getattr__(self, name: str) -> Any:
            return lambda *args: sent.append(name)

    pacing = PacingRules(PacingLimits(), lambda: 0, clock)
    outbox = Outbox(roomy_budget(clock), pacing, Timers(clock), FakeConnection(Client()), clock)
    contract = Contract()
    outbox.send(CurrentTimeRequest())
    for message in (HistoricalDataRequest(1, contract, "", "1 D", "5 mins", "TRADES", 1, 2, False),
                    HistoricalDataRequest(2, contract, "", "1 D", "5 mins", "TRADES", 1, 2, True),
                    HistoricalDataRequest(3, contract, "", "1 D", "5 mins", "TRADES", 1, 2, False),
                    ContractDetailsRequest(4, contract)):
        outbox.request(lambda m=message: m, clock.now + 30, lambda error: None)
    outbox.send(CancelHistoricalData(2))
    assert outbox.sent_by_kind == {"current_time": 1, "historical": 2, "live_subscription": 1,
                                   "contract_details": 1, "cancel_historical": 1}
    assert len(sent) == 6


def test_a_message_kind_is_a_word_from_a_fixed_set() -> None:
    assert request_kind(HeadTimestampRequest(1, Contract(), "TRADES", 1)) == "head_timestamp"

    class Unknown:
        name = "reqSomethingNew"

        def send_to(self, client: Any) -> None:
            return None

    assert request_kind(Unknown()) == "other"
