"""A stream client's whole life against a real ZeroMQ feed and a stub of the worker's ops: `retry:` before anything
is asked of the worker, the snapshot, live events, heartbeats, an `error` event for every failure, a re-open after a
gap that sends each bar once, and a client too slow to keep closed without slowing the others."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from app.streams.fanout import Fanout
from app.streams.request import StreamRequest
from app.streams.session import StreamSession
from shared.bars import BarRequest
from shared.contract_fields import CONTRACT_DEFAULTS
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from tests.app.streams.conftest import SERIES, T0, A, Feed, Ops, bar, green_wait_until
from tests.sse import Event, SseParser

LIVE = {"status": "live", "reason": None}


def snapshot(bars: list[dict[str, Any]], seq: int, forming: dict[str, Any] | None = None,
             incarnation: str = A) -> dict[str, Any]:
    return {"series": SERIES, "incarnation": incarnation, "seq": seq, "bars": bars, "forming": forming,
            "status": LIVE}


class Client:
    """Reads a session's chunks as the HTTP server would write them, with a deadline on each."""

    def __init__(self, session: StreamSession) -> None:
        self.session = session
        self.chunks: Iterator[bytes] = session.events()
        self.reader = SseParser()
        self.events: list[Event] = []
        self.ended = False

    def read(self, timeout: float = 5.0) -> list[Event]:
        with gevent.Timeout(timeout, AssertionError(f"no chunk within {timeout} s")):
            try:
                chunk = next(self.chunks)
            except StopIteration:
                self.ended = True
                return []
        new = self.reader.feed(chunk)
        self.events += new
        return new

    def read_until(self, condition: Any, timeout: float = 5.0) -> list[Event]:
        while not condition(self.events):
            assert not self.ended, f"the stream ended: {self.events}"
            self.read(timeout)
        return self.events

    def close(self) -> None:
        self.chunks.close()  # what the HTTP server does when the client goes away


def session(fanout: Fanout, ops: Ops, backfill: int = 0, after: int | None = None, limit: int = 100,
            connection: socket.socket | None = None) -> StreamSession:
    request = StreamRequest(BarRequest("AAPL", "1 min", "1 D", include_forming=True), backfill, after)
    return StreamSession(request, fanout, ops.request, open_timeout=1.0, buffer_limit=limit, connection=connection)


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def bar_ids(events: list[Event]) -> list[str | None]:
    return [e.id for e in events if e.kind == "bar"]


def test_retry_comes_first_before_the_worker_is_asked(fanout: Fanout, ops: Ops) -> None:
    ops.open_results = [snapshot([bar(0)], 0)]
    client = Client(session(fanout, ops))
    assert client.read() == [] and client.reader.retry == 3000
    assert ops.calls == []
    client.close()


def test_the_snapshot_then_live_events_in_order(fanout: Fanout, feed: Feed, ops: Ops) -> None:
    ops.open_results = [snapshot([bar(0), bar(1)], 7, forming=bar(2, 1.0))]
    client = Client(session(fanout, ops, backfill=2))
    client.read_until(lambda events: "status" in kinds(events))
    assert kinds(client.events) == ["bar", "bar", "update", "status"]
    assert ops.bodies("stream_open") == [{"request": {"symbol": "AAPL", "bar_size": "1 min", "what_to_show": "TRADES",
                                                      "use_rth": True, "sec_type": "STK", "exchange": "SMART",
                                                      "currency": "USD", **CONTRACT_DEFAULTS}, "after": None,
                                         "backfill": 2}]
    feed.wait_subscribed()
    feed.publish(8, "update", bar(2, 2.0))
    feed.publish(9, "bar", bar(2))
    client.read_until(lambda events: len(bar_ids(events)) == 3)
    assert bar_ids(client.events) == [str(T0), str(T0 + 60), str(T0 + 120)]
    client.close()
    assert fanout.receivers == 0, "a client that went away is forgotten"


@pytest.mark.parametrize(("failure", "code"), [
    (BridgeFailure(BridgeError(ErrorCode.WORKER_UNAVAILABLE, "down")), "worker_unavailable"),
    (BridgeError(ErrorCode.SYMBOL_NOT_FOUND, "no such contract"), "symbol_not_found"),
    (BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS is not connected"), "tws_unavailable"),
    ({"series": "", "incarnation": A, "seq": 0, "bars": []}, "internal_error"),
    ({"series": SERIES, "incarnation": A, "seq": 0, "bars": [{"time": None}]}, "internal_error"),
])
def test_a_failure_at_open_is_an_error_event_and_the_end_of_the_stream(
        fanout: Fanout, ops: Ops, failure: Any, code: str) -> None:
    ops.open_results = [failure]
    client = Client(session(fanout, ops))
    client.read_until(lambda events: events)
    assert [(e.kind, e.data["code"]) for e in client.events] == [("error", code)]
    client.read()
    assert client.ended and fanout.receivers == 0


def test_a_heartbeat_comment_comes_every_interval(fanout: Fanout, ops: Ops) -> None:
    fanout.heartbeat = 0.05
    ops.open_results = [snapshot([bar(0)], 0)]
    client = Client(session(fanout, ops))
    green_wait_until(lambda: (client.read(), client.reader.comments.count("heartbeat") >= 3)[1], what="heartbeats")
    client.close()


def test_a_gap_reopens_after_the_last_bar_sent_and_every_bar_arrives_once(
        fanout: Fanout, feed: Feed, ops: Ops) -> None:
    ops.open_results = [snapshot([bar(0)], 3), snapshot([bar(1), bar(2), bar(3)], 12)]
    client = Client(session(fanout, ops, backfill=1))
    client.read_until(lambda events: "status" in kinds(events))
    feed.wait_subscribed()
    feed.publish(4, "bar", bar(1))
    client.read_until(lambda events: len(bar_ids(events)) == 2)
    feed.publish(11, "bar", bar(3))  # seq 5-10 never arrived
    feed.publish(13, "update", bar(4, 1.0))
    client.read_until(lambda events: "update" in kinds(events[3:]))
    assert [body["after"] for body in ops.bodies("stream_open")] == [None, T0 + 60]
    assert bar_ids(client.events) == [str(T0 + 60 * n) for n in range(4)]
    client.close()


def test_a_second_client_is_attached_before_it_opens_so_nothing_published_meanwhile_is_lost(
        fanout: Fanout, feed: Feed, ops: Ops) -> None:
    ops.open_results = [snapshot([bar(0)], 3)]
    first = Client(session(fanout, ops))
    first.read_until(lambda events: "status" in kinds(events))
    feed.wait_subscribed()

    def open_while_a_bar_is_published(op: str, body: dict[str, Any], timeout: float) -> Any:
        if op == "stream_open":  # the bar with seq 4 is published after the worker took the snapshot (seq 3)
            feed.publish(4, "bar", bar(1))
            green_wait_until(lambda: bar_ids(first.events) or len(first.session.receiver.buffer), what="published")
            ops.open_results = [snapshot([bar(0)], 3)]
        return ops.request(op, body, timeout)

    second = Client(StreamSession(first.session.request, fanout, open_while_a_bar_is_published, 1.0, 100))
    second.read_until(lambda events: bar_ids(events) == [str(T0 + 60)])
    assert len(ops.bodies("stream_open")) == 2, "no re-open was needed"
    first.close()
    second.close()


def test_a_client_that_does_not_read_overflows_is_closed_and_slows_nobody(
        fanout: Fanout, feed: Feed, ops: Ops) -> None:
    ops.open_results = [snapshot([bar(0)], 0), snapshot([bar(0)], 0)]
    server_side, client_side = socket.socketpair()
    slow = Client(session(fanout, ops, limit=5, connection=server_side))
    fast = Client(session(fanout, ops, limit=5))
    for client in (slow, fast):
        client.read_until(lambda events: "status" in kinds(events))
    feed.wait_subscribed()
    for n in range(1, 21):  # `fast` reads every bar as it comes; `slow` reads none of them
        feed.publish(n, "bar", bar(n))
        fast.read_until(lambda events, n=n: len(bar_ids(events)) == n)
    assert client_side.recv(1) == b"", "the slow client's connection was shut down"
    assert fanout.receivers == 1
    slow.read()
    assert slow.ended and bar_ids(slow.events) == [], "nothing more for it: it resumes by Last-Event-ID"
    fast.close()
    server_side.close()
    client_side.close()
