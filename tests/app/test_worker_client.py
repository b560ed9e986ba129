"""The Lazy Pirate client: every wait has a deadline, and a socket that missed its reply is replaced."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from app.worker_client import WorkerClient
from shared.config import BridgeConfig
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.protocol import WorkerReply
from tests.app.conftest import CONNECTED_HEALTH, WorkerStub
from tests.waiting import wait_until


@pytest.fixture
def worker(endpoint: str) -> Iterator[WorkerClient]:
    client = WorkerClient(endpoint, connect_timeout=0.3)
    yield client
    client.close()


def failure_code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(BridgeFailure) as caught:
        call()
    return caught.value.error.code


class TestRoundTrip:
    def test_returns_the_workers_reply(self, worker: WorkerClient, stub: WorkerStub) -> None:
        reply = worker.request("health", {}, timeout=1.0)
        assert reply.ok and reply.result == CONNECTED_HEALTH
        (received,) = stub.requests
        assert (received.op, received.body, received.id) == ("health", {}, reply.id)

    def test_an_error_reply_is_returned_not_raised(self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: WorkerReply(request.id, error=BridgeError(ErrorCode.TWS_TIMEOUT, "slow"))
        reply = worker.request("bars", {}, timeout=1.0)
        assert reply.error is not None and reply.error.code is ErrorCode.TWS_TIMEOUT

    def test_one_socket_serves_many_requests_in_a_thread(self, worker: WorkerClient, stub: WorkerStub) -> None:
        for _ in range(3):
            worker.request("health", {}, timeout=1.0)
        assert len({r.identity for r in stub.received}) == 1

    def test_threads_have_their_own_sockets_and_requests_in_flight_together(
            self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None  # hold every request back
        replies: dict[str, WorkerReply] = {}

        def call(name: str) -> None:
            replies[name] = worker.request("health", {"who": name}, timeout=5.0)

        threads = [threading.Thread(target=call, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(stub.received) == 2, what="both requests at the worker")
        assert len({r.identity for r in stub.received}) == 2
        for received in reversed(stub.received):  # the later request is answered first: each caller gets its own
            stub.answer(received, WorkerReply(received.request.id, result={"echo": received.request.body["who"]}))
        for thread in threads:
            thread.join(5)
        assert {name: reply.result for name, reply in replies.items()} == {"a": {"echo": "a"}, "b": {"echo": "b"}}


class TestDeadlines:
    def test_a_silent_worker_is_unavailable_at_the_deadline(self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        started = time.monotonic()
        assert failure_code(lambda: worker.request("bars", {}, timeout=0.5)) is ErrorCode.WORKER_UNAVAILABLE
        assert 0.5 <= time.monotonic() - started < 1.5

    def test_the_socket_is_recreated_after_a_timeout(self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        assert failure_code(lambda: worker.request("health", {}, timeout=0.3)) is ErrorCode.WORKER_UNAVAILABLE
        stub.handler = lambda request: WorkerReply(request.id, result={"recovered": True})
        # A REQ socket that missed its reply would refuse to send; a fresh one (a new identity) just works.
        assert worker.request("health", {}, timeout=1.0).result == {"recovered": True}
        first, second = stub.received
        assert first.identity != second.identity

    def test_no_worker_is_reported_within_the_connect_timeout_not_the_request_timeout(
            self, worker: WorkerClient) -> None:
        started = time.monotonic()
        assert failure_code(lambda: worker.request("bars", {}, timeout=30.0)) is ErrorCode.WORKER_UNAVAILABLE
        assert time.monotonic() - started < 1.0  # connect_timeout is 0.3 s

    def test_a_worker_that_starts_late_is_found(self, worker: WorkerClient,
                                               stub_factory: Callable[[], WorkerStub]) -> None:
        assert failure_code(lambda: worker.request("health", {}, timeout=0.3)) is ErrorCode.WORKER_UNAVAILABLE
        stub_factory()
        assert worker.request("health", {}, timeout=2.0).ok

    def test_a_reply_that_is_not_an_envelope_is_an_internal_error(self, worker: WorkerClient,
                                                                  stub: WorkerStub) -> None:
        stub.handler = lambda request: b"not json"
        assert failure_code(lambda: worker.request("health", {}, timeout=1.0)) is ErrorCode.INTERNAL_ERROR
        stub.handler = lambda request: WorkerReply(request.id, result={})
        assert worker.request("health", {}, timeout=1.0).ok

    def test_a_reply_to_another_request_is_refused(self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: WorkerReply("someone-else", result={})
        assert failure_code(lambda: worker.request("health", {}, timeout=1.0)) is ErrorCode.INTERNAL_ERROR


class TestConfiguration:
    def test_takes_the_endpoint_and_worker_timeout_from_the_config(self, endpoint: str) -> None:
        client = WorkerClient.from_config(BridgeConfig(worker_endpoint=endpoint, worker_timeout=1.5))
        assert (client.endpoint, client.connect_timeout) == (endpoint, 1.5)

    def test_bar_requests_wait_the_bar_timeout_plus_the_worker_timeout(self) -> None:
        assert WorkerClient.bars_timeout(BridgeConfig(bar_timeout=30.0, worker_timeout=2.0)) == 32.0
