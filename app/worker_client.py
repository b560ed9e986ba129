"""The HTTP side's ZeroMQ client for the TWS worker: the "Lazy Pirate" pattern over REQ sockets.

One REQ socket per thread (gunicorn threads share nothing here). A REQ socket that sent a request and never got its
reply is stuck (it refuses to send again), so after a timeout the socket is closed with linger 0 and a fresh one is
made for the next request. Every wait has a deadline: the caller gets a reply or `BridgeFailure(worker_unavailable)`.

Sockets use ZMQ_IMMEDIATE, so a request is only queued on a live connection: when the worker process is down the
send itself cannot complete, and the caller learns that within `connect_timeout` (the worker timeout, 2 s) even for a
bar request whose reply may legitimately take `bar_timeout`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from shared.config import BridgeConfig
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.protocol import ProtocolError, WorkerReply, WorkerRequest, decode_reply


class WorkerClient:
    """Sends `WorkerRequest`s to the worker's ROUTER socket and waits for the matching `WorkerReply`."""

    def __init__(self, endpoint: str, connect_timeout: float = 2.0) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._pid = -1
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self._local = threading.local()
        self._sockets: set[zmq.Socket[bytes]] = set()

    @classmethod
    def from_config(cls, config: BridgeConfig) -> WorkerClient:
        return cls(config.endpoint, connect_timeout=config.worker_timeout)

    @staticmethod
    def bars_timeout(config: BridgeConfig) -> float:
        """How long a bar request waits: the worker itself answers tws_timeout at bar_timeout, so this adds a margin
        (the worker timeout) for the reply's way back; reaching it means the worker, not TWS, failed."""
        return config.bar_timeout + config.worker_timeout

    def request(self, op: str, body: dict[str, Any], timeout: float) -> WorkerReply:
        """Send one request and wait at most `timeout` seconds in all for its reply.

        Raises `BridgeFailure` with worker_unavailable when the worker does not take the request within
        `connect_timeout` or does not answer within `timeout`, internal_error when the reply is not a valid envelope.
        A reply carrying an error is returned as is: what it means for the caller is the caller's business.
        """
        started = time.monotonic()
        deadline = started + timeout
        envelope = WorkerRequest.new(op, body, time.time() + timeout)
        sock = self._socket()
        try:
            if not _wait(self._local.out_poller, min(deadline, started + self.connect_timeout)):
                raise _unavailable(f"the TWS worker is not running (no connection within "
                                   f"{min(timeout, self.connect_timeout):g} s)")
            monitor = self._local.monitor
            _drain(monitor)  # forget disconnects from before this request: it goes to the worker alive now
            sock.send(envelope.encode(), zmq.NOBLOCK)
            if not self._wait_reply(sock, monitor, self._local.in_poller, deadline):
                raise _unavailable(f"the TWS worker did not answer within {timeout:g} s")
            data = sock.recv(zmq.NOBLOCK)
        except BridgeFailure:
            self._discard(sock)
            raise
        except zmq.ZMQError as exc:
            self._discard(sock)
            raise _unavailable(f"the TWS worker connection failed: {exc}") from None
        try:
            reply = decode_reply(data)
        except ProtocolError as exc:
            self._discard(sock)
            raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR,
                                            f"the TWS worker sent an invalid reply: {exc}")) from None
        if reply.id != envelope.id:  # cannot happen with a fresh REQ socket per timeout; never trust it blindly
            self._discard(sock)
            raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, "the TWS worker answered another request"))
        return reply

    def close(self) -> None:
        """Close every socket this client made and its context (tests, shutdown)."""
        with self._lock:
            for sock in self._sockets:
                sock.close(linger=0)
            self._sockets.clear()
            if self._context is not None and self._pid == os.getpid():
                self._context.term()
            self._context = None
            self._local = threading.local()

    # -- sockets ------------------------------------------------------------------------------------------------------

    def _socket(self) -> zmq.Socket[bytes]:
        self._check_fork()
        sock: zmq.Socket[bytes] | None = getattr(self._local, "socket", None)
        if sock is None:
            with self._lock:
                if self._context is None:
                    self._context = zmq.Context()
                sock = self._context.socket(zmq.REQ)
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only on a live connection: a dead worker fails the send
                sock.setsockopt(zmq.RECONNECT_IVL, 100)
                sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
                # the monitor tells a waiting request that the worker process went away (killed, restarting),
                # so it fails at once instead of at its deadline
                self._local.monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
                sock.connect(self.endpoint)
                self._sockets.update((sock, self._local.monitor))
            # pollers made once per socket: building them per request was a measurable share of a cache hit
            self._local.out_poller = zmq.Poller()
            self._local.out_poller.register(sock, zmq.POLLOUT)
            self._local.in_poller = zmq.Poller()
            self._local.in_poller.register(sock, zmq.POLLIN)
            self._local.in_poller.register(self._local.monitor, zmq.POLLIN)
            self._local.socket = sock
        return sock

    def _discard(self, sock: zmq.Socket[bytes]) -> None:
        """Close a socket whose request/reply cycle broke; the next request in this thread makes a new one."""
        monitor = getattr(self._local, "monitor", None)
        with self._lock:
            self._sockets.discard(sock)
            self._sockets.discard(monitor)
        if monitor is not None:
            sock.disable_monitor()
            monitor.close(linger=0)
            self._local.monitor = None
        sock.close(linger=0)
        self._local.socket = None

    def _check_fork(self) -> None:
        """A ZeroMQ context must not cross fork(): a forked child (gunicorn with preload) starts its own."""
        pid = os.getpid()
        if pid != self._pid:
            with self._lock:
                if pid != self._pid:
                    self._pid = pid
                    self._context = None  # the parent's context belongs to the parent; never term it here
                    self._sockets = set()
                    self._local = threading.local()

    @staticmethod
    def _wait_reply(sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes], poller: zmq.Poller,
                    deadline: float) -> bool:
        """Wait for the reply; raise worker_unavailable at once if the worker's connection drops meanwhile."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready = dict(poller.poll(max(1, int(remaining * 1000))))
            if sock in ready:
                return True
            if monitor in ready:
                event = recv_monitor_message(monitor)
                if event["event"] == zmq.EVENT_DISCONNECTED:
                    raise _unavailable("the TWS worker went away while answering; it is being restarted")



def _wait(poller: zmq.Poller, deadline: float) -> bool:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if poller.poll(max(1, int(remaining * 1000))):
            return True


def _drain(monitor: zmq.Socket[bytes]) -> None:
    while monitor.poll(0):
        recv_monitor_message(monitor)


def _unavailable(message: str) -> BridgeFailure:
    return BridgeFailure(BridgeError(ErrorCode.WORKER_UNAVAILABLE, message, retry_after=1.0))
