"""Fixtures for the stream package: the worker's event feed as a real ZeroMQ XPUB socket (it also shows the test
which topics the fan-out subscribed), and a stub for the worker's stream ops, recording what it was asked."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gevent
import orjson
import pytest
import zmq.green as zmq

from app.streams.fanout import Fanout
from shared.errors import BridgeError, BridgeFailure
from shared.protocol import WorkerReply
from tests.waiting import wait_until

T = TypeVar("T")
SERIES = "265598|SMART|1 min|TRADES|rth"
A, B = "a1" * 8, "b2" * 8  # two incarnations of the worker
T0 = 1738080000  # 2025-01-28 11:00 New York


def bar(minute: int, close: float = 100.0) -> dict[str, Any]:
    return {"date": "d", "time": T0 + 60 * minute, "datetime": "d", "open": 100.0, "high": 101.0, "low": 99.0,
            "close": close,
            "volume": 10, "wap": 100.0, "count": 1}


def green_wait_until(condition: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
    """wait_until for code in greenlets: the wait yields to gevent's hub instead of blocking it."""
    return wait_until(condition, timeout, interval=0.005, what=what, sleep=gevent.sleep)


class Feed:
    """The worker's PUB side: publishes events in the protocol's two frames and sees the SUB's subscriptions."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._context = zmq.Context()
        self.socket = self._context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint)
        self.subscribed: set[bytes] = set()
        self.subscriptions: list[bytes] = []  # every (un)subscription message, in order

    def _drain(self) -> None:
        while self.socket.poll(0):
            message = self.socket.recv()
            self.subscriptions.append(message)
            (self.subscribed.add if message[:1] == b"\x01" else self.subscribed.discard)(message[1:])

    def wait_subscribed(self, series: str = SERIES, subscribed: bool = True) -> None:
        topic = series.encode() + b"\n"
        green_wait_until(lambda: (self._drain(), (topic in self.subscribed) == subscribed)[1],
                         what=f"{series} {'subscribed' if subscribed else 'unsubscribed'}")

    def publish(self, seq: int, kind: str, data: dict[str, Any], series: str = SERIES,
                incarnation: str = A) -> None:
        self.send(series.encode() + b"\n", orjson.dumps({"v": 1, "series": series, "incarnation": incarnation,
                                                         "seq": seq, "event": kind, "data": data}))

    def send(self, *frames: bytes) -> None:
        self.socket.send_multipart(list(frames))

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()


@dataclass
class Ops:
    """The worker's stream ops as the test decides: `open_results` answered in turn (a dict, a BridgeError, or a
    BridgeFailure to raise), interest answered with `unknown`."""

    open_results: list[Any] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def request(self, op: str, body: dict[str, Any], timeout: float) -> WorkerReply:
        self.calls.append((op, body))
        if op == "stream_interest":
            return WorkerReply("x", result={"unknown": self.unknown})
        assert op == "stream_open", op
        answer = self.open_results.pop(0)
        if isinstance(answer, BridgeFailure):
            raise answer
        if isinstance(answer, BridgeError):
            return WorkerReply("x", error=answer)
        return WorkerReply("x", result=answer)

    def bodies(self, op: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == op]


@pytest.fixture
def events_endpoint() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="twsb-") as short:  # ipc paths are limited to ~107 bytes
        yield f"ipc://{short}/events.sock"


@pytest.fixture
def feed(events_endpoint: str) -> Iterator[Feed]:
    publisher = Feed(events_endpoint)
    yield publisher
    publisher.close()


@pytest.fixture
def ops() -> Ops:
    return Ops()


@pytest.fixture
def fanout(feed: Feed, ops: Ops) -> Iterator[Fanout]:
    fan = Fanout(feed.endpoint, ops.request, interest_interval=0.05, interest_timeout=1.0)
    yield fan
    fan.close()
