"""The worker's owner thread: a ZeroMQ ROUTER for the HTTP workers, the mailbox for ibapi's threads, and timers.

Everything the worker knows lives here and is touched only by this thread. Requests from any number of HTTP workers
are in flight at once; each is answered when its own data arrives.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from typing import Any

import zmq

from shared.bars import BarRequest, InvalidBarRequest
from shared.config import BridgeConfig
from shared.errors import BridgeError, ErrorCode
from shared.protocol import ProtocolError, WorkerReply, WorkerRequest, decode_request
from worker.bar_fetcher import BarFetcher
from worker.connection_manager import ConnectionManager
from worker.contract_resolver import ContractResolver
from worker.health import health_report
from worker.mailbox import Mailbox
from worker.timers import Timers

log = logging.getLogger("tws.worker")

VERSION = "0.1.0"


def bind_router(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    """Bind the ROUTER; an ipc:// endpoint lives in a private directory (mode 0700)."""
    if endpoint.startswith("ipc://"):
        directory = Path(endpoint[len("ipc://"):]).parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 0)  # a caller that went away: drop its late answer silently
    sock.bind(endpoint)
    return sock


class WorkerService:
    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.started = time.time()
        self.mailbox = Mailbox()
        self.timers = Timers()
        self._ids = itertools.count(1)
        self.connection = ConnectionManager(config, self.mailbox, self.timers, self._on_ready, self._on_lost)
        self.resolver = ContractResolver(self._send_contract_details, self._next_id)
        self.bars = BarFetcher(lambda: self.connection.client if self.connection.connected else None,
                               self.resolver, self.timers, self._next_id, self._unavailable)
        self._ctx: zmq.Context[Any] = zmq.Context()
        self._router: zmq.Socket[Any] | None = None
        self._running = False

    def _next_id(self) -> int:
        return next(self._ids)

    def _send_contract_details(self, req_id: int, contract: Any) -> None:
        client = self.connection.client
        if client is not None:
            client.reqContractDetails(req_id, contract)

    def _unavailable(self) -> BridgeError:
        state = self.connection.state.value
        return BridgeError(ErrorCode.TWS_UNAVAILABLE, f"TWS is not connected ({state})",
                           retry_after=round(self.connection.retry_in(), 1))

    def _on_ready(self) -> None:
        client = self.connection.client
        if client is not None:
            client.reqMarketDataType(self.config.tws_market_data_type)

    def _on_lost(self, reason: str) -> None:
        error = BridgeError(ErrorCode.TWS_UNAVAILABLE, f"TWS connection lost: {reason}",
                            retry_after=round(self.connection.retry_in(), 1))
        self.bars.fail_all(error)
        self.resolver.fail_all(error)

    # ---- loop -------------------------------------------------------------------------------------------------

    def run(self) -> None:
        self._router = bind_router(self._ctx, self.config.endpoint)
        log.info("worker listening on %s (pid %d)", self.config.endpoint, os.getpid())
        self.connection.start()
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self.mailbox.fileno(), zmq.POLLIN)
        self._running = True
        while self._running:
            ready = dict(poller.poll(self.timers.timeout_ms()))
            if self._router in ready:
                self._read_requests()
            if self.mailbox.fileno() in ready:
                for event in self.mailbox.drain():
                    self._on_event(event)
            self.timers.run_due()
        self._shutdown()

    def stop(self) -> None:
        """Ask the loop to end (from a signal handler on this thread)."""
        self._running = False

    def _shutdown(self) -> None:
        self.connection.stop()
        if self._router is not None:
            self._router.close(0)
        self._ctx.term()

    def _read_requests(self) -> None:
        assert self._router is not None
        while True:
            try:
                frames = self._router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 3 or frames[1] != b"":
                log.warning("dropped a message with %d frames", len(frames))
                continue
            identity, payload = frames[0], frames[2]
            try:
                request = decode_request(payload)
            except ProtocolError as exc:
                log.warning("dropped a bad envelope: %s", exc)
                self._send(identity, WorkerReply("invalid", error=BridgeError(ErrorCode.INVALID_REQUEST, str(exc))))
                continue
            self._handle(identity, request)

    def _send(self, identity: bytes, reply: WorkerReply) -> None:
        assert self._router is not None
        try:
            self._router.send_multipart([identity, b"", reply.encode()], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("could not answer %s: %s", reply.id, exc)

    def _handle(self, identity: bytes, request: WorkerRequest) -> None:
        def reply(result: dict[str, Any] | None, error: BridgeError | None = None) -> None:
            self._send(identity, WorkerReply(request.id, result=result if error is None else None, error=error))

        if request.op == "health":
            reply(health_report(self))
        elif request.op == "connect":
            self.connection.start()
            reply({"connected": self.connection.connected, "state": self.connection.state.value})
        elif request.op == "disconnect":
            self.connection.stop()
            reply({"connected": False, "state": self.connection.state.value})
        elif request.op == "bars":
            try:
                bar_request = BarRequest.from_wire(request.body)
            except InvalidBarRequest as exc:
                reply(None, BridgeError(ErrorCode.INVALID_REQUEST, str(exc), fields=exc.fields))
                return
            timeout = min(self.config.bar_timeout, request.deadline - time.time())
            self.bars.fetch(bar_request, timeout, reply)

    # ---- events from ibapi's threads --------------------------------------------------------------------------

    def _on_event(self, event: tuple[Any, ...]) -> None:
        if self.connection.on_event(event):
            return
        kind, generation = event[0], event[1]
        if generation != self.connection.generation:
            return
        req_id = event[2]
        if kind == "bar" and self.bars.owns(req_id):
            self.bars.on_bar(req_id, event[3])
        elif kind == "bars_end" and self.bars.owns(req_id):
            self.bars.on_end(req_id, event[3], event[4])
        elif kind == "contract_details" and self.resolver.owns(req_id):
            self.resolver.on_details(req_id, event[3])
        elif kind == "contract_details_end" and self.resolver.owns(req_id):
            self.resolver.on_end(req_id)
        elif kind == "error":
            code, message = event[3], event[4]
            if self.bars.owns(req_id):
                self.bars.on_error(req_id, code, message)
            elif self.resolver.owns(req_id):
                self.resolver.on_error(req_id, code, message)
            else:
                log.debug("TWS error %d for reqId %d (no longer waited for): %s", code, req_id, message)
