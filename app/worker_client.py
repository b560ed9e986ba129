"""The HTTP side's ZeroMQ client for the TWS worker: the "Lazy Pirate" pattern over pooled green REQ sockets.

The HTTP workers are gevent workers (app/gunicorn_worker.py): every request runs in a greenlet, and pyzmq's green
sockets (`zmq.green`) block only the greenlet that waits, never the process. This client is for the greenlets of one
OS thread (gevent's); it is not shared between OS threads.

Sockets come from bounded pools per process, not one per greenlet (under gevent `threading.local` is greenlet-local,
so a socket per thread would become a socket per connection). A socket is taken for one request/reply and given back;
a REQ socket that sent a request and never got its reply is stuck (it refuses to send again), so after a timeout, a
broken reply or a worker that went away, the socket is closed with linger 0 and never given back: the pool makes a
fresh one when it is needed. Every wait has a deadline: the caller gets a reply or a `BridgeFailure`.

The pool for requests that wait on TWS (bars, stream snapshots) holds `max_waiting` sockets: its size is the bound on
waiting requests per HTTP worker (BRIDGE_MAX_WAITING_REQUESTS). When every one is in use, the request is refused at
once with 503 `overloaded` and Retry-After, never queued. Health and control requests have their own small pool, so
they get through while bar requests fill the bound; the worker answers them at once, so a burst of them waits its
turn for a socket (within the worker timeout) instead of being refused.

Sockets use ZMQ_IMMEDIATE, so a request is only queued on a live connection: when the worker process is down the
send itself cannot complete, and the caller learns that within `connect_timeout` (the worker timeout, 2 s) even for a
bar request whose reply may legitimately take `bar_timeout`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import zmq.green as zmq
from gevent.event import Event
from gevent.hub import get_hub
from gevent.lock import Semaphore
from zmq.utils.monitor import recv_monitor_message

from shared.config import BridgeConfig
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.protocol import ProtocolError, WorkerReply, WorkerRequest, decode_reply

# operations that answer at once and must get through when the bar requests fill their bound: their own pool
# (a job's progress and its cancellation are the worker's own state: answered at once too)
RESERVED_OPS = frozenset({"health", "connect", "disconnect", "stream_interest", "job", "job_cancel", "metrics"})
RESERVED_SOCKETS = 16
ZMQ_SOCKETS_PER_CHANNEL = 3  # the REQ socket, libzmq's monitor PAIR and ours
MAX_SLEEP = 1.0  # seconds: look at a socket's events at least this often, should a wake-up ever be missed


@dataclass(eq=False)
class _Channel:
    """One REQ socket with its disconnect monitor, and the event loop's watchers of their file descriptors.

    Not zmq.green.Poller: it waits with select(), which refuses a descriptor above 1023, and an HTTP worker with
    thousands of connections has those; gevent's watchers have no such limit, and two made once per channel cost
    less per wait than a poll object. A ZeroMQ socket's descriptor only says "look at ZMQ_EVENTS again"
    (edge-triggered), so every wait checks the events first and after each wake-up."""

    socket: zmq.Socket[bytes]
    monitor: zmq.Socket[bytes]  # tells a waiting request that the worker process went away (killed, restarting)
    woken: Event = field(default_factory=Event)
    watchers: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        loop = get_hub().loop
        self.watchers = tuple(loop.io(sock.getsockopt(zmq.FD), 1) for sock in (self.socket, self.monitor))  # 1: read

    @staticmethod
    def ready(sock: zmq.Socket[bytes], event: int) -> bool:
        return bool(sock.getsockopt(zmq.EVENTS) & event)

    def sleep(self, deadline: float) -> bool:
        """Wait until either socket's state may have changed or `deadline`; False when the deadline has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.woken.clear()
        for watcher in self.watchers:
            watcher.start(self.woken.set)
        try:
            self.woken.wait(min(remaining, MAX_SLEEP))
        finally:
            for watcher in self.watchers:
                watcher.stop()
        return True

    def close(self) -> None:
        for watcher in self.watchers:
            watcher.close()
        self.socket.disable_monitor()
        self.monitor.close(linger=0)
        self.socket.close(linger=0)


@dataclass(eq=False)
class _Pool:
    """At most `size` channels in use at once; idle ones are reused (the most recent first)."""

    size: int
    wait: bool  # wait for a free channel (within the connect timeout) rather than refuse at once
    idle: list[_Channel] = field(default_factory=list)
    slots: Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = Semaphore(self.size)

    @property
    def in_use(self) -> int:
        return self.size - self.slots.counter


class WorkerClient:
    """Sends `WorkerRequest`s to the worker's ROUTER socket and waits for the matching `WorkerReply`."""

    def __init__(self, endpoint: str, connect_timeout: float = 2.0, max_waiting: int = 500,
                 reserved: int = RESERVED_SOCKETS) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.max_waiting = max_waiting
        self._pid = -1
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self._waiting = _Pool(max_waiting, wait=False)
        self._reserved = _Pool(reserved, wait=True)

    @classmethod
    def from_config(cls, config: BridgeConfig) -> WorkerClient:
        return cls(config.endpoint, connect_timeout=config.worker_timeout, max_waiting=config.max_waiting_requests)

    @staticmethod
    def bars_timeout(config: BridgeConfig) -> float:
        """How long a bar request waits: the worker itself answers tws_timeout at bar_timeout, so this adds a margin
        (the worker timeout) for the reply's way back; reaching it means the worker, not TWS, failed."""
        return config.bar_timeout + config.worker_timeout

    @property
    def waiting(self) -> int:
        """Requests of the bounded pool waiting for the worker now."""
        return self._waiting.in_use

    def request(self, op: str, body: dict[str, Any], timeout: float) -> WorkerReply:
        """Send one request and wait at most `timeout` seconds in all for its reply.

        Raises `BridgeFailure` with overloaded when the request's pool has no socket free (at once), with
        worker_unavailable when the worker does not take the request within `connect_timeout` or does not answer
        within `timeout`, internal_error when the reply is not a valid envelope. A reply carrying an error is
        returned as is: what it means for the caller is the caller's business.
        """
        started = time.monotonic()
        deadline = started + timeout
        self._check_fork()
        pool = self._reserved if op in RESERVED_OPS else self._waiting
        channel = self._take(pool, min(deadline, started + self.connect_timeout) - started)
        envelope = WorkerRequest.new(op, body, time.time() + timeout)
        try:
            if not _wait_writable(channel, min(deadline, started + self.connect_timeout)):
                raise _unavailable(f"the TWS worker is not running (no connection within "
                                   f"{min(timeout, self.connect_timeout):g} s)")
            _drain(channel.monitor)  # forget disconnects from before this request: it goes to the worker alive now
            channel.socket.send(envelope.encode(), zmq.NOBLOCK)
            if not _wait_reply(channel, deadline):
                raise _unavailable(f"the TWS worker did not answer within {timeout:g} s")
            reply = decode_reply(channel.socket.recv_multipart(zmq.NOBLOCK))
            if reply.id != envelope.id:  # cannot happen with a fresh REQ socket per timeout; never trust it blindly
                raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, "the TWS worker answered another request"))
        except BridgeFailure:
            self._discard(pool, channel)
            raise
        except ProtocolError as exc:
            self._discard(pool, channel)
            raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR,
                                            f"the TWS worker sent an invalid reply: {exc}")) from None
        except zmq.ZMQError as exc:
            self._discard(pool, channel)
            raise _unavailable(f"the TWS worker connection failed: {exc}") from None
        except BaseException:  # the greenlet was killed or timed out from outside: the socket's state is unknown
            self._discard(pool, channel)
            raise
        self._give_back(pool, channel)
        return reply

    def close(self) -> None:
        """Close every socket this client made, also one a request still waits on, and its context (tests,
        shutdown)."""
        for pool in (self._waiting, self._reserved):
            for channel in pool.idle:
                channel.close()
            pool.idle.clear()
        if self._context is not None and self._pid == os.getpid():
            self._context.destroy(linger=0)
        self._context = None

    # -- pools --------------------------------------------------------------------------------------------------------

    def _take(self, pool: _Pool, wait: float) -> _Channel:
        if not pool.slots.acquire(blocking=pool.wait, timeout=max(0.0, wait) if pool.wait else None):
            what = ("requests waiting for the TWS worker (BRIDGE_MAX_WAITING_REQUESTS)" if pool is self._waiting
                    else "health and control requests in flight")
            raise BridgeFailure(BridgeError(ErrorCode.OVERLOADED, f"this HTTP worker has {pool.size} {what} "
                                            f"already; try again shortly", retry_after=1.0))
        try:
            return pool.idle.pop() if pool.idle else self._open()
        except BaseException:
            pool.slots.release()
            raise

    def _give_back(self, pool: _Pool, channel: _Channel) -> None:
        pool.idle.append(channel)
        pool.slots.release()

    def _discard(self, pool: _Pool, channel: _Channel) -> None:
        """Close a channel whose request/reply cycle broke; its pool makes a new one when it needs one."""
        channel.close()
        pool.slots.release()

    def _open(self) -> _Channel:
        if self._context is None:
            self._context = zmq.Context()
            sockets = ZMQ_SOCKETS_PER_CHANNEL * (self._waiting.size + self._reserved.size) + 64
            self._context.set(zmq.MAX_SOCKETS, max(1023, sockets))  # libzmq's default, 1023, fits 340 channels
        sock = self._context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only on a live connection: a dead worker fails the send
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        sock.connect(self.endpoint)
        return _Channel(sock, monitor)

    def _check_fork(self) -> None:
        """A ZeroMQ context must not cross fork(): a forked child (gunicorn with preload) starts its own."""
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            self._context = None  # the parent's context belongs to the parent; never term it here
            self._waiting = _Pool(self._waiting.size, wait=False)
            self._reserved = _Pool(self._reserved.size, wait=True)


def _wait_writable(channel: _Channel, deadline: float) -> bool:
    """Wait until the REQ socket may send: with ZMQ_IMMEDIATE, once it is connected to a live worker."""
    while not channel.ready(channel.socket, zmq.POLLOUT):
        if not channel.sleep(deadline):
            return False
    return True


def _wait_reply(channel: _Channel, deadline: float) -> bool:
    """Wait for the reply; raise worker_unavailable at once if the worker's connection drops meanwhile."""
    while not channel.ready(channel.socket, zmq.POLLIN):
        while channel.ready(channel.monitor, zmq.POLLIN):
            if recv_monitor_message(channel.monitor)["event"] == zmq.EVENT_DISCONNECTED:
                raise _unavailable("the TWS worker went away while answering; it is being restarted")
        if not channel.sleep(deadline):
            return False
    return True


def _drain(monitor: zmq.Socket[bytes]) -> None:
    while monitor.getsockopt(zmq.EVENTS) & zmq.POLLIN:
        recv_monitor_message(monitor)


def _unavailable(message: str) -> BridgeFailure:
    return BridgeFailure(BridgeError(ErrorCode.WORKER_UNAVAILABLE, message, retry_after=1.0))
