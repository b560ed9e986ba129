"""Deadlines for slow clients, so that a slow-loris connection is closed without nginx in front.

A connection goes through three phases, each with its own deadline for reading from the client:
- header: from the connection's accept, or from a later request's first byte, the whole header section within
  BRIDGE_HEADER_TIMEOUT;
- body: from the end of the header section, the whole body within BRIDGE_BODY_TIMEOUT;
- idle: after an answer, a keep-alive connection waits GUNICORN_KEEPALIVE for its next request's first byte.
Past a deadline the connection is closed; a client that sent a request line first gets a 408 `request_timeout`
answer (the HTTP worker writes it for a header, the app for a body: app/request_body.py).

`SlowClientDeadlines` puts this into a gunicorn worker built on `AsyncWorker` (the gevent worker) without copying any
of its code. It relies on this behaviour of gunicorn 27 (workers/base_async.py, http/parser.py, http/unreader.py):
- `AsyncWorker.handle(listener, client, addr)` reads every request of the connection from the `client` it is given,
  through its parser, which reads only with `client.recv` (http/unreader.py); writes and close go to the same object;
- it calls `handle_request(listener_name, req, sock, addr)` once per request whose header section it has parsed,
  with that `client` as `sock`, and the app reads the body inside that call;
- an exception other than OSError raised while a request is parsed reaches `handle_error(req, client, addr, exc)`;
- `timeout_ctx()` is the context gunicorn wraps around parsing a request (the gevent worker's: the keep-alive
  time); it is replaced here by these deadlines.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

from gunicorn.workers.base import Worker

log = logging.getLogger("http.server")

HEADER, BODY, IDLE = "header", "body", "idle"


class ClientTimeout(Exception):
    """The client did not send its header section or body within its deadline (or its keep-alive ran out)."""

    def __init__(self, phase: str, seconds: float, answer: bool) -> None:
        what = {HEADER: "the request's header section", BODY: "the request body",
                IDLE: "a next request on the idle keep-alive connection"}[phase]
        super().__init__(f"{what} did not arrive within {seconds:g} s")
        self.phase = phase
        self.answer = answer  # a request line was received: the client gets a 408 before the connection closes


@dataclass(frozen=True)
class ClientTimeouts:
    header: float = 10.0  # BRIDGE_HEADER_TIMEOUT
    body: float = 10.0  # BRIDGE_BODY_TIMEOUT


class TimedConnection:
    """A client socket whose reads are bounded by the deadline of the connection's phase; everything else is the
    socket's own (attributes are looked up on it)."""

    def __init__(self, sock: socket.socket, timeouts: ClientTimeouts, keepalive: float) -> None:
        self._sock = sock
        self._timeouts = timeouts
        self._keepalive = keepalive
        self._phase = HEADER
        self._deadline = time.monotonic() + timeouts.header
        self._request_line = False  # a line end seen in the current request's header section
        self._closing = False
        self.sendall = sock.sendall  # the hot path of every answer, without a lookup through __getattr__
        self._held: bytes | None = None  # an answer's header section, sent with its first body write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    @property
    def idle(self) -> bool:
        return self._phase == IDLE

    def recv(self, size: int) -> bytes:
        if self._closing and self._phase == IDLE:
            return b""  # the worker is stopping: no next request on this connection
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        sock = self._sock
        sock.settimeout(remaining)
        try:
            data = sock.recv(size)
        except TimeoutError:  # socket.timeout: gevent's socket waited `remaining` without data
            raise self._timeout() from None
        except OSError:
            if self._closing:  # gevent cancels the wait of a socket shut down by close_when_idle
                return b""
            raise
        finally:
            sock.settimeout(None)
        if self._phase == IDLE and data:  # the next request's first byte: its header section's time starts
            self._phase = HEADER
            self._deadline = time.monotonic() + self._timeouts.header
        if self._phase == HEADER and not self._request_line and b"\n" in data:
            self._request_line = True
        return data

    def header_received(self) -> None:
        self._phase = BODY
        self._deadline = time.monotonic() + self._timeouts.body
        self._held = None
        self.sendall = self._hold_header_section

    def _hold_header_section(self, data: bytes) -> None:
        """The answer's first write is gunicorn's header section (http/wsgi.py send_headers), a write of its own: it
        waits for the body's first write, so an answer leaves in one send and reaches the client as one segment
        instead of waking it twice (a quarter of an HTTP worker's time on the hit path went to the header's send)."""
        if self._held is None:
            self._held = bytes(data)
            return
        data, self._held = self._held + data, None
        self.sendall = self._sock.sendall
        self._sock.sendall(data)

    def request_done(self) -> None:
        held, self._held = self._held, None
        self.sendall = self._sock.sendall
        if held is not None:  # an answer without a body (HEAD, 304), or one whose body write failed
            with contextlib.suppress(OSError):  # the client is gone: the connection ends on its next read
                self._sock.sendall(held)
        self._phase = IDLE
        self._deadline = time.monotonic() + self._keepalive
        self._request_line = False

    def close_when_idle(self) -> None:
        """For a stopping worker: an idle connection is closed now, a busy one after its answer."""
        self._closing = True
        if self._phase == IDLE:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # the waiting recv returns b"": the connection ends

    def _timeout(self) -> ClientTimeout:
        seconds = {HEADER: self._timeouts.header, BODY: self._timeouts.body, IDLE: self._keepalive}[self._phase]
        return ClientTimeout(self._phase, seconds, answer=self._phase == BODY or self._request_line)


class SlowClientDeadlines(Worker):
    """A mixin for gunicorn's AsyncWorker-based workers: every connection's reads have the deadlines above.

    `client_timeouts` is set by gunicorn.conf.py's post_fork hook from the bridge's configuration."""

    client_timeouts = ClientTimeouts()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[TimedConnection] = set()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        connection = TimedConnection(client, self.client_timeouts, float(self.cfg.keepalive))
        self._connections.add(connection)
        try:
            super().handle(listener, connection, addr)  # type: ignore[misc]
        finally:
            self._connections.discard(connection)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        if isinstance(sock, TimedConnection):
            sock.header_received()
        try:
            return super().handle_request(listener_name, req, sock, addr)  # type: ignore[misc]
        finally:
            if isinstance(sock, TimedConnection):
                sock.request_done()

    def timeout_ctx(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # the connection's own deadlines bound every read instead

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: idle keep-alive connections end now instead of holding the graceful stop for its whole time."""
        super().handle_exit(sig, frame)
        for connection in list(self._connections):
            connection.close_when_idle()
