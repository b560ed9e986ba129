"""The deadlines of a client connection's phases: the header section, the body, the idle keep-alive wait. A real
socket pair stands in for the client; the gunicorn worker that uses them is tested end to end
(tests/e2e/test_capacity.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from app.client_deadlines import ClientTimeout, ClientTimeouts, TimedConnection

TIMEOUTS = ClientTimeouts(header=0.3, body=0.2)
KEEPALIVE = 0.6


@pytest.fixture
def pair() -> Iterator[tuple[TimedConnection, socket.socket]]:
    server, client = socket.socketpair()
    with server, client:
        yield TimedConnection(server, TIMEOUTS, KEEPALIVE), client


def timeout_of(connection: TimedConnection) -> tuple[ClientTimeout, float]:
    started = time.monotonic()
    with pytest.raises(ClientTimeout) as caught:
        while connection.recv(1024):
            pass
    return caught.value, time.monotonic() - started


def test_the_header_section_has_its_deadline_from_the_start(pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, client = pair
    client.sendall(b"GET /api/v1/heal")  # no request line yet
    exc, elapsed = timeout_of(connection)
    assert 0.25 <= elapsed < 0.6
    assert (exc.phase, exc.answer) == ("header", False), "nothing that looks like a request: closed without answer"
    assert str(exc) == "the request's header section did not arrive within 0.3 s"


def test_a_header_trickling_after_its_request_line_is_answered(pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, client = pair
    client.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
    assert connection.recv(1024)
    for _ in range(3):  # a byte now and then never extends the deadline
        client.sendall(b"X")
        time.sleep(0.05)  # the client's trickle (the behaviour under test), not a synchronisation
        assert connection.recv(1024) == b"X"
    exc, elapsed = timeout_of(connection)
    assert (exc.phase, exc.answer) == ("header", True)
    assert elapsed < 0.3


def test_the_body_has_its_own_deadline_from_the_end_of_the_header(
        pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, client = pair
    client.sendall(b"POST /api/v1/bars HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")
    assert connection.recv(1024)
    connection.header_received()
    exc, elapsed = timeout_of(connection)
    assert (exc.phase, exc.answer) == ("body", True) and 0.15 <= elapsed < 0.5
    assert str(exc) == "the request body did not arrive within 0.2 s"


def test_an_idle_connection_waits_the_keepalive_then_the_next_header_its_own_time(
        pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, client = pair
    connection.header_received()
    connection.request_done()
    assert connection.idle
    started = time.monotonic()
    client.sendall(b"G")  # sent at once here; the deadline that matters is the one after it
    assert connection.recv(1024) == b"G"
    assert not connection.idle
    exc, _ = timeout_of(connection)
    assert exc.phase == "header" and 0.25 <= time.monotonic() - started < 0.6, "the header's 0.3 s, not 0.6 s"


def test_an_idle_connection_without_a_next_request_ends_at_the_keepalive(
        pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, _ = pair
    connection.request_done()
    exc, elapsed = timeout_of(connection)
    assert (exc.phase, exc.answer) == ("idle", False) and 0.55 <= elapsed < 1.0


def test_a_stopping_worker_ends_idle_connections_at_once_and_busy_ones_after_their_answer(
        pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, client = pair
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert connection.recv(1024)
    connection.header_received()
    connection.close_when_idle()  # busy: nothing happens to it yet
    client.sendall(b"more")
    assert connection.recv(1024) == b"more"
    connection.request_done()
    assert connection.recv(1024) == b"", "no next request on a stopping worker"


def test_everything_else_is_the_sockets_own(pair: tuple[TimedConnection, socket.socket]) -> None:
    connection, client = pair
    connection.sendall(b"answer")
    assert client.recv(1024) == b"answer"
    assert connection.fileno() == connection._sock.fileno() and connection.gettimeout() is None


class RecordingSocket:
    """A real socket whose sendall calls are counted: one call is one send, one segment on the wire."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))
        self._sock.sendall(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"


@pytest.fixture
def recorded() -> Iterator[tuple[TimedConnection, RecordingSocket, socket.socket]]:
    server, client = socket.socketpair()
    with server, client:
        sock = RecordingSocket(server)
        yield TimedConnection(sock, TIMEOUTS, KEEPALIVE), sock, client  # type: ignore[arg-type]


def test_an_answer_leaves_in_one_send_its_header_section_with_its_body(recorded) -> None:
    connection, sock, client = recorded
    connection.header_received()
    connection.sendall(HEADERS)  # gunicorn: send_headers, then each body write
    assert sock.sends == []
    connection.sendall(b"{}")
    connection.sendall(b"more")  # later writes of a streamed body go out as they come
    connection.request_done()
    assert sock.sends == [HEADERS + b"{}", b"more"]
    assert client.recv(1024) == HEADERS + b"{}more"


def test_an_answer_without_a_body_is_sent_when_its_request_is_done(recorded) -> None:
    connection, sock, _ = recorded
    connection.header_received()
    connection.sendall(HEADERS)
    connection.request_done()
    assert sock.sends == [HEADERS]
    connection.sendall(b"after")  # outside an answer (an error page of the HTTP worker): at once
    assert sock.sends == [HEADERS, b"after"]
