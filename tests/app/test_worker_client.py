"""The Lazy Pirate client: every wait has a deadline, a socket that missed its reply is replaced, and requests
waiting for the worker are bounded per process (the sockets are pooled). Concurrent callers are greenlets, as under
gunicorn's gevent worker."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator

import gevent
import pytest

from app.open_files import raise_open_file_limit
from app.worker_client import WorkerClient
from shared.config import BridgeConfig
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.protocol import WorkerReply
from tests.app.conftest import CONNECTED_HEALTH, WorkerStub
from tests.waiting import wait_until

green_wait_until = functools.partial(wait_until, sleep=gevent.sleep)  # the greenlets under test run meanwhile


@pytest.fixture
def worker(endpoint: str) -> Iterator[WorkerClient]:
    client = WorkerClient(endpoint, connect_timeout=0.3)
    yield client
    client.close()


@pytest.fixture
def small_worker(endpoint: str) -> Iterator[WorkerClient]:
    """At most 2 requests waiting, 1 health or control request in flight."""
    client = WorkerClient(endpoint, connect_timeout=0.3, max_waiting=2, reserved=1)
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

    def test_one_socket_serves_many_requests_one_after_another(self, worker: WorkerClient, stub: WorkerStub) -> None:
        for _ in range(3):
            worker.request("health", {}, timeout=1.0)
        for _ in range(3):
            worker.request("bars", {}, timeout=1.0)
        assert len({r.identity for r in stub.received if r.request.op == "health"}) == 1
        assert len({r.identity for r in stub.received if r.request.op == "bars"}) == 1

    def test_greenlets_in_flight_together_have_their_own_sockets_and_replies(
            self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None  # hold every request back
        calls = {name: gevent.spawn(worker.request, "bars", {"who": name}, 5.0) for name in ("a", "b", "c")}
        green_wait_until(lambda: len(stub.received) == 3, what="all three requests at the worker")
        assert len({r.identity for r in stub.received}) == 3
        assert worker.waiting == 3
        for received in reversed(stub.received):  # the later request is answered first: each caller gets its own
            stub.answer(received, WorkerReply(received.request.id, result={"echo": received.request.body["who"]}))
        gevent.joinall(list(calls.values()), timeout=5, raise_error=True)
        assert {name: call.value.result for name, call in calls.items()} == {n: {"echo": n} for n in "abc"}
        assert worker.waiting == 0

    def test_a_waiting_request_blocks_only_its_greenlet(self, worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None if request.op == "bars" else WorkerReply(request.id, result={})
        held = gevent.spawn(worker.request, "bars", {}, 5.0)
        green_wait_until(lambda: stub.received, what="the bar request at the worker")
        started = time.monotonic()
        assert worker.request("health", {}, timeout=1.0).ok
        assert time.monotonic() - started < 0.5
        held.kill()


class TestManyConnections:
    def test_requests_work_with_file_descriptors_above_1023(self, endpoint: str, stub: WorkerStub) -> None:
        """An HTTP worker holding thousands of connections has its ZeroMQ sockets above select()'s limit."""
        assert raise_open_file_limit() > 1200, "this machine's hard limit leaves no room for the test"
        filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
        client = WorkerClient(endpoint, connect_timeout=0.3)
        try:
            stub.handler = lambda request: None if request.op == "bars" else WorkerReply(request.id, result={})
            assert client.request("health", {}, timeout=1.0).ok
            assert failure_code(lambda: client.request("bars", {}, timeout=0.3)) is ErrorCode.WORKER_UNAVAILABLE
        finally:
            client.close()
            for fd in filler:
                os.close(fd)


class TestBound:
    def test_past_the_bound_a_request_is_overloaded_at_once_with_retry_after(
            self, small_worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None if request.op == "bars" else WorkerReply(request.id, result={})
        held = [gevent.spawn(small_worker.request, "bars", {}, 5.0) for _ in range(2)]
        green_wait_until(lambda: len(stub.received) == 2, what="two bar requests waiting")
        started = time.monotonic()
        with pytest.raises(BridgeFailure) as caught:
            small_worker.request("bars", {}, timeout=5.0)
        assert time.monotonic() - started < 0.1, "refused at once, never queued"
        assert caught.value.error.code is ErrorCode.OVERLOADED and caught.value.error.http_status == 503
        assert caught.value.error.retry_after == 1.0
        assert len(stub.received) == 2, "the refused request never reached the worker"
        gevent.killall(held)

    def test_health_and_control_get_through_while_bar_requests_fill_the_bound(
            self, small_worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None if request.op == "bars" else WorkerReply(request.id, result={"ok": 1})
        held = [gevent.spawn(small_worker.request, "bars", {}, 5.0) for _ in range(2)]
        green_wait_until(lambda: len(stub.received) == 2, what="two bar requests waiting")
        for op in ("health", "connect", "disconnect", "health"):
            assert small_worker.request(op, {}, timeout=1.0).result == {"ok": 1}
        gevent.killall(held)

    def test_job_progress_and_cancellation_get_through_while_bar_requests_fill_the_bound(
            self, small_worker: WorkerClient, stub: WorkerStub) -> None:
        """A client polling its job while bar requests fill the bound is not refused: the worker answers a job
        from its own state at once, like health."""
        stub.handler = lambda request: None if request.op == "bars" else WorkerReply(request.id, result={"ok": 1})
        held = [gevent.spawn(small_worker.request, "bars", {}, 5.0) for _ in range(2)]
        green_wait_until(lambda: len(stub.received) == 2, what="two bar requests waiting")
        for op in ("job", "job_cancel"):
            assert small_worker.request(op, {"id": "0" * 32}, timeout=1.0).result == {"ok": 1}
        with pytest.raises(BridgeFailure) as caught:  # the head timestamp waits on TWS: bounded like bars
            small_worker.request("head", {}, timeout=1.0)
        assert caught.value.error.code is ErrorCode.OVERLOADED
        gevent.killall(held)

    def test_health_requests_past_their_pool_wait_their_turn(self, small_worker: WorkerClient,
                                                             stub: WorkerStub) -> None:
        stub.handler = lambda request: WorkerReply(request.id, result={})
        burst = [gevent.spawn(small_worker.request, "health", {}, 2.0) for _ in range(20)]  # 1 socket for them
        gevent.joinall(burst, timeout=5, raise_error=True)
        assert all(b.value.ok for b in burst) and len({r.identity for r in stub.received}) == 1

    def test_health_requests_are_bounded_by_their_own_pool(self, small_worker: WorkerClient,
                                                           stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        held = gevent.spawn(small_worker.request, "health", {}, 5.0)
        green_wait_until(lambda: stub.received, what="a health request waiting")
        started = time.monotonic()
        assert failure_code(lambda: small_worker.request("health", {}, timeout=1.0)) is ErrorCode.OVERLOADED
        assert 0.25 <= time.monotonic() - started < 1.0, "waited its turn up to the connect timeout (0.3 s)"
        held.kill()

    def test_the_bound_frees_as_replies_arrive_and_timed_out_sockets_are_replaced(
            self, small_worker: WorkerClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        held = [gevent.spawn(small_worker.request, "bars", {}, 0.5) for _ in range(2)]
        gevent.joinall(held, timeout=5)
        assert all(isinstance(h.exception, BridgeFailure) for h in held)  # worker_unavailable at their deadline
        stub.handler = lambda request: WorkerReply(request.id, result={"fresh": True})
        answers = [gevent.spawn(small_worker.request, "bars", {}, 2.0) for _ in range(2)]
        gevent.joinall(answers, timeout=5, raise_error=True)
        assert [a.value.result for a in answers] == [{"fresh": True}] * 2
        timed_out, fresh = stub.received[:2], stub.received[2:]
        assert not {r.identity for r in timed_out} & {r.identity for r in fresh}, "a timed-out socket is never reused"

    def test_a_killed_greenlet_gives_no_stuck_socket_back(self, small_worker: WorkerClient,
                                                          stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        held = gevent.spawn(small_worker.request, "bars", {}, 5.0)
        green_wait_until(lambda: stub.received, what="the bar request waiting")
        held.kill()  # e.g. a stream's client went away while its snapshot was asked for
        assert small_worker.waiting == 0
        stub.handler = lambda request: WorkerReply(request.id, result={})
        assert small_worker.request("bars", {}, timeout=1.0).ok
        assert stub.received[0].identity != stub.received[1].identity


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
    def test_takes_the_endpoint_worker_timeout_and_bound_from_the_config(self, endpoint: str) -> None:
        client = WorkerClient.from_config(BridgeConfig(worker_endpoint=endpoint, worker_timeout=1.5,
                                                       max_waiting_requests=64))
        assert (client.endpoint, client.connect_timeout, client.max_waiting) == (endpoint, 1.5, 64)

    def test_bar_requests_wait_the_bar_timeout_plus_the_worker_timeout(self) -> None:
        assert WorkerClient.bars_timeout(BridgeConfig(bar_timeout=30.0, worker_timeout=2.0)) == 32.0
