"""Fixtures for the HTTP side: a stand-in TWS worker (a ROUTER socket in a thread) and the Flask app wired to it.

The stub speaks the real envelope protocol (shared.protocol) on an ipc:// endpoint in a private temporary directory;
each test decides what it answers. The real worker is exercised only by the end-to-end tests.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import zmq
from flask import Flask
from flask.testing import FlaskClient

from app import bridge_state, create_app
from shared.config import BridgeConfig
from shared.errors import BridgeError
from shared.protocol import WorkerReply, WorkerRequest, decode_request

CONNECTED_HEALTH: dict[str, Any] = {
    "connected": True, "state": "connected", "tws_host": "127.0.0.1", "tws_port": 7497, "client_id": 100,
    "server_version": 157, "last_error": None, "reconnect_attempts": 0, "farms": {"usfarm": "ok"},
    "worker_pid": 4242, "worker_uptime_seconds": 12.5, "in_flight": 0,
}
BAR = {"date": "20250127 09:30:00", "open": 100.0, "high": 101.0, "low": 99.5, "close": 100.5, "volume": 1200,
       "wap": 100.2, "count": 57, "time": 1737988200, "datetime": "2025-01-27T09:30:00-05:00"}

# What the stub answers: a reply, raw bytes (a broken peer), or None (say nothing, like a hung worker).
Answer = WorkerReply | bytes | None
Handler = Callable[[WorkerRequest], Answer]


@dataclass
class Received:
    identity: bytes  # the REQ socket's identity as the ROUTER sees it: a new socket has a new one
    request: WorkerRequest


def default_handler(request: WorkerRequest) -> Answer:
    results: dict[str, dict[str, Any]] = {
        "health": CONNECTED_HEALTH,
        "bars": {"bars": [BAR], "notice": None},
        "connect": {"connected": True, "state": "connected"},
        "disconnect": {"connected": False, "state": "stopped"},
    }
    return WorkerReply(request.id, result=results[request.op])


def result(value: dict[str, Any]) -> Handler:
    return lambda request: WorkerReply(request.id, result=value)


def error(value: BridgeError) -> Handler:
    return lambda request: WorkerReply(request.id, error=value)


class WorkerStub:
    """A ROUTER socket served by a thread: records every request and answers it with `handler`."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.handler: Handler = default_handler
        self.received: list[Received] = []
        self._outbox: queue.Queue[tuple[bytes, bytes]] = queue.Queue()
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="worker-stub", daemon=True)

    @property
    def requests(self) -> list[WorkerRequest]:
        return [r.request for r in self.received]

    def start(self) -> WorkerStub:
        self._thread.start()
        if not self._bound.wait(5):
            raise RuntimeError("worker stub did not bind")
        return self

    def answer(self, received: Received, reply: WorkerReply) -> None:
        """Answer a request later (one the handler held back by returning None), from the stub's own thread."""
        self._outbox.put((received.identity, reply.encode()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _serve(self) -> None:
        context = zmq.Context()
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.endpoint)
        self._bound.set()
        try:
            while not self._stop.is_set():
                while not self._outbox.empty():
                    identity, data = self._outbox.get()
                    sock.send_multipart([identity, b"", data])
                if not sock.poll(20):
                    continue
                identity, empty, payload = sock.recv_multipart()
                request = decode_request(payload)
                self.received.append(Received(identity, request))
                answer = self.handler(request)
                if answer is not None:
                    data = answer if isinstance(answer, bytes) else answer.encode()
                    sock.send_multipart([identity, empty, data])
        finally:
            sock.close(linger=0)
            context.term()


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """An ipc:// endpoint in a private directory; ipc paths are limited to ~107 bytes, so long tmp paths fall back."""
    path = tmp_path / "worker.sock"
    if len(str(path)) < 100:
        yield f"ipc://{path}"
        return
    with tempfile.TemporaryDirectory(prefix="twsb-") as short:
        yield f"ipc://{short}/worker.sock"


@pytest.fixture
def stub_factory(endpoint: str) -> Iterator[Callable[[], WorkerStub]]:
    started: list[WorkerStub] = []

    def make() -> WorkerStub:
        stub = WorkerStub(endpoint).start()
        started.append(stub)
        return stub

    yield make
    for stub in started:
        stub.stop()


@pytest.fixture
def stub(stub_factory: Callable[[], WorkerStub]) -> WorkerStub:
    return stub_factory()


@pytest.fixture
def config(endpoint: str) -> BridgeConfig:
    """Short deadlines so that timeouts are quick to observe; tests that need other settings use `replace`."""
    return BridgeConfig(worker_endpoint=endpoint, worker_timeout=0.3, bar_timeout=1.0, env_file="/nonexistent")


@pytest.fixture
def app_factory(config: BridgeConfig) -> Iterator[Callable[..., Flask]]:
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app(replace(config, **overrides))
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        bridge_state(app).worker.close()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
