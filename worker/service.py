"""The worker's owner thread: a ZeroMQ ROUTER for the HTTP workers, the mailbox for ibapi's threads, and timers.

Everything the worker knows lives here and is touched only by this thread. Requests from any number of HTTP workers
are in flight at once; each is answered when its own data arrives, from the cache, or from a live subscription.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import zmq

from shared.bars import BarRequest, InvalidBarRequest
from shared.config import BridgeConfig
from shared.errors import BridgeError, ErrorCode
from shared.protocol import ProtocolError, WorkerReply, WorkerRequest, decode_request
from worker.contracts.operations import LOOKUP_OPS, LookupOperations
from worker.contracts.resolver import ContractResolver, ResolvedContract, contract_key
from worker.health import health_report
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import BarFetcher
from worker.history.operations import HISTORY_OPS, HistoryOperations
from worker.history.store_files import open_store
from worker.history.upstream import UpstreamRequests
from worker.live.publisher import Publisher
from worker.live.streams import STREAM_OPS, StreamDesk
from worker.live.subscriptions import SubscriptionBook
from worker.mailbox import Mailbox
from worker.metrics import metrics_report
from worker.sockets import bind_publisher, bind_router
from worker.timers import Timers
from worker.tws.client import TwsClient
from worker.tws.connection_manager import ConnectionManager
from worker.tws.dates import TwsClock
from worker.tws.message_budget import MessageBudget
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingLimits, PacingRules
from worker.tws.requests import CurrentTimeRequest, MarketDataTypeRequest
from worker.tws.undecodable import UndecodableMessages

log = logging.getLogger("tws.worker")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]


class WorkerService:
    def __init__(self, config: BridgeConfig, client_factory: Callable[[Mailbox, int], TwsClient] = TwsClient) -> None:
        self.config = config
        self.started = time.time()
        self.mailbox = Mailbox()
        self.timers = Timers()
        self._ids = itertools.count(1)
        # the one message budget: the connection manager takes ibapi's connect messages from it, the outbox the rest
        self.budget = MessageBudget(config.tws_max_messages_per_second, config.tws_message_burst)
        self.connection = ConnectionManager(config, self.mailbox, self.timers, self._on_ready, self._on_lost,
                                            client_factory=client_factory, on_outage=self._on_outage,
                                            on_data_lost=self._on_data_lost, on_data_kept=self._on_data_kept,
                                            budget=self.budget)
        self.store = open_store(config)  # bars, coverage, the pacing ledger, "no such contract" (BRIDGE_STORE_PATH)
        self.pacing = PacingRules(
            PacingLimits(identical_window=config.pacing_identical_window, small_bar_max=config.pacing_small_bar_max,
                         max_open=config.pacing_max_open).scaled(config.pacing_scale),
            lambda: self.upstream.open_count + self.history.heads.open_count, ledger=self.store.pacing_ledger)
        self.outbox = Outbox(self.budget, self.pacing, self.timers, self.connection)
        self.resolver = ContractResolver(self.outbox, self._next_id, today=self._tws_today,
                                         call_later=self.timers.call_later,
                                         timeout=config.bar_timeout, not_found_ttl=config.contract_not_found_ttl,
                                         store=self.store)
        self.lookups = LookupOperations(config, self.outbox, self.timers, self._next_id,  # GET /api/v1/contracts
                                        lambda: self.tws_clock.now())
        self.upstream = UpstreamRequests(self.outbox, self.timers, self._next_id, config.bar_timeout)
        self.cache = BarCache(int(config.cache_max_mb * 1024 * 1024))
        self.undecodable = UndecodableMessages(self.upstream, self.resolver, self.lookups)
        self.tws_clock = TwsClock()  # TWS's time: the latest reading (currentTime, answers ending now) advanced
        self.bars = BarFetcher(self.upstream, self.cache, self.tws_clock, config.cache_now_ttl)
        # plain requests of any range: the store, the planner, jobs, head timestamps (worker/history/)
        self.history = HistoryOperations(config, self.bars, self.cache, self.store, self.tws_clock, self.outbox,
                                         self.pacing, self.timers, self._next_id, self._with_contract,
                                         lambda: self.upstream.open_count)
        self._ctx: zmq.Context[Any] = zmq.Context()
        self._router: zmq.Socket[Any] | None = None
        self._events: zmq.Socket[Any] | None = None  # the PUB socket for live series (shared/streams.py)
        self.publisher = Publisher(self._publish)
        self.subscriptions = SubscriptionBook(self.upstream, self.timers, config.subscription_idle_ttl,
                                              config.max_subscriptions, self.cache, self.bars.ttl_for,
                                              self.tws_clock, self.publisher,
                                              probe=lambda: self.outbox.send(CurrentTimeRequest()))
        self.streams = StreamDesk(self.subscriptions, config.bar_timeout)
        self._probe_sent = 0.0
        self._running = False
        self.requests = 0

    def _next_id(self) -> int:
        return next(self._ids)

    def _publish(self, frames: list[bytes]) -> None:
        if self._events is not None:
            self._events.send_multipart(frames, zmq.NOBLOCK)  # past the high-water mark ZeroMQ drops, never blocks

    def _unavailable(self, message: str | None = None) -> BridgeError:
        text = message or ("IB is unreachable behind TWS (1100)" if self.connection.connected
                           else f"TWS is not connected ({self.connection.state.value})")
        return BridgeError(ErrorCode.TWS_UNAVAILABLE, text, retry_after=round(self.connection.retry_in(), 1))

    # ---- connection -------------------------------------------------------------------------------------------

    def _on_ready(self) -> None:
        self.outbox.send(MarketDataTypeRequest(self.config.tws_market_data_type))
        self.outbox.send(CurrentTimeRequest())
        self.subscriptions.resubscribe_all("reconnect")
        self.history.on_ready()

    def _on_lost(self, reason: str) -> None:
        error = self._unavailable(f"TWS connection lost: {reason}")
        self.upstream.forget_all()
        self.bars.fail_all(error)
        self.history.on_lost()
        self.subscriptions.connection_lost(error)
        self.resolver.fail_all(error)
        self.lookups.fail_all(error)
        self.outbox.connection_lost()
        self.outbox.pump()

    def _on_outage(self, reason: str) -> None:
        """1100/2110: plain requests in flight fail at once; live subscriptions wait for 1101/1102 or a reconnect
        (their streams hear that they are interrupted)."""
        error = self._unavailable(reason)
        self.bars.fail_all(error)
        self.resolver.fail_all(error)
        self.lookups.fail_all(error)
        self.subscriptions.outage(reason)

    def _on_data_lost(self) -> None:
        """1101: TWS dropped every request: plain ones in flight fail, subscriptions are requested again."""
        self.bars.fail_all(self._unavailable("TWS lost the request (1101)"))
        self.subscriptions.resubscribe_all("TWS lost the live subscriptions (1101)")
        self.history.on_ready()  # jobs whose windows failed in the outage go on: no reconnect will resume them

    def _on_data_kept(self) -> None:
        """1102: TWS kept the subscriptions; interrupted series are requested again, for what the outage hid."""
        self.subscriptions.data_kept()
        self.history.on_ready()  # jobs whose windows failed in the outage (1100) go on

    def _watchdog(self) -> None:
        """A connection that looks alive but says nothing is probed with reqCurrentTime, and dropped if silent."""
        interval = self.config.watchdog_interval
        conn = self.connection
        now = time.monotonic()
        if conn.usable:
            if self._probe_sent and conn.last_heard < self._probe_sent and now - self._probe_sent >= interval:
                self._probe_sent = 0.0
                conn.drop(f"TWS did not answer a reqCurrentTime probe within {interval:.0f} s")
            elif now - conn.last_heard >= interval and not self._probe_sent:
                self._probe_sent = now
                self.outbox.send(CurrentTimeRequest())
            elif conn.last_heard >= self._probe_sent:
                self._probe_sent = 0.0
        else:
            self._probe_sent = 0.0
        self.timers.call_later(max(0.1, interval / 4), self._watchdog)

    # ---- loop -------------------------------------------------------------------------------------------------

    def run(self) -> None:
        self._router = bind_router(self._ctx, self.config.endpoint)
        self._events = bind_publisher(self._ctx, self.config.events_endpoint)
        log.info("worker listening on %s, publishing live series on %s (pid %d)", self.config.endpoint,
                 self.config.events_endpoint, os.getpid())
        self.connection.start()
        self._watchdog()
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
                    self._guarded(self._on_event, event)
            self.timers.run_due()
        self._shutdown()

    def stop(self) -> None:
        """Ask the loop to end (from a signal handler on this thread)."""
        self._running = False

    def _shutdown(self) -> None:
        self.connection.stop()
        self.store.close()  # what the writer still holds goes to disk first
        for sock in (self._router, self._events):
            if sock is not None:
                sock.close(0)
        self._ctx.term()

    @staticmethod
    def _guarded(func: Callable[..., None], *args: Any) -> None:
        try:
            func(*args)
        except Exception:  # one bad message or event must never end the loop that serves everyone
            log.exception("failed to handle %s", args[0] if args else "")

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
            self._guarded(self._handle, identity, request)

    def _send(self, identity: bytes, reply: WorkerReply) -> None:
        assert self._router is not None
        try:
            self._router.send_multipart([identity, b"", *reply.frames()], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("could not answer %s: %s", reply.id, exc)

    def _handle(self, identity: bytes, request: WorkerRequest) -> None:
        answered = False

        def reply(result: dict[str, Any] | None, error: BridgeError | None = None) -> None:
            nonlocal answered
            if answered:  # a deadline and a late answer may both try: the first one wins
                return
            answered = True
            self._send(identity, WorkerReply(request.id, result=result if error is None else None, error=error))

        try:
            self._dispatch(request, reply)
        except Exception:
            log.exception("request %s failed", request.op)
            reply(None, BridgeError(ErrorCode.INTERNAL_ERROR, "the TWS worker failed to handle the request"))

    def _dispatch(self, request: WorkerRequest, reply: Reply) -> None:
        if request.op == "health":
            reply(health_report(self), None)
        elif request.op == "metrics":
            reply(metrics_report(self), None)
        elif request.op == "connect":
            self.connection.start()
            reply({"connected": self.connection.connected, "state": self.connection.state.value}, None)
        elif request.op == "disconnect":
            self.connection.stop()
            reply({"connected": False, "state": self.connection.state.value}, None)
        elif request.op == "bars":
            try:
                bar_request = BarRequest.from_wire(request.body)
            except InvalidBarRequest as exc:
                reply(None, BridgeError(ErrorCode.INVALID_REQUEST, str(exc), fields=exc.fields))
                return
            self.requests += 1
            timeout = min(self.config.bar_timeout, request.deadline - time.time())
            if timeout <= 0:
                reply(None, BridgeError(ErrorCode.TWS_TIMEOUT, "the request's deadline passed before it arrived"))
                return
            self._bars(bar_request, time.monotonic() + timeout, reply)
        elif request.op in HISTORY_OPS:
            if not self.connection.usable and request.op == "head":
                reply(None, self._unavailable())
                return
            self.history.handle(request.op, request.body, time.monotonic() + max(0.0, min(
                self.config.bar_timeout, request.deadline - time.time())), reply)
        elif request.op in LOOKUP_OPS:
            if not self.connection.usable:
                reply(None, self._unavailable())
                return
            self.lookups.handle(request.op, request.body, time.monotonic() + max(0.0, min(
                self.config.bar_timeout, request.deadline - time.time())), reply)
        elif request.op in STREAM_OPS:
            self.streams.handle(request.op, request.body, request.deadline, reply, self._with_contract)

    def _tws_today(self) -> str:
        """TWS's date (a simulator's clock may be set anywhere): a future without an expiry is the nearest one not
        expired by it."""
        return datetime.fromtimestamp(self.tws_clock.now() or time.time(), UTC).strftime("%Y%m%d")

    def _bars(self, request: BarRequest, deadline: float, reply: Reply) -> None:
        if not self.connection.usable:
            reply(None, self._unavailable())
            return
        fetch = self.subscriptions.fetch if request.include_forming else self.history.desk.fetch
        self._with_contract(request, deadline, reply, lambda contract: fetch(request, contract, deadline, reply))

    def _with_contract(self, request: BarRequest, deadline: float, reply: Reply,
                       then: Callable[[ResolvedContract], None]) -> None:
        """Resolve the request's contract (at once when cached), then go on with it before the deadline."""
        timer: Any = None
        answered = False

        def resolved(contract: ResolvedContract | None, error: BridgeError | None) -> None:
            nonlocal answered
            answered = True
            if timer is not None:
                timer.cancel()
            if time.monotonic() >= deadline:
                return  # the caller already has its 504; nothing may be sent for it now
            if error is not None or contract is None:
                reply(None, error)
            else:
                then(contract)

        self.resolver.resolve(contract_key(request), resolved, deadline)
        if not answered:  # cached, or remembered as not found: answered at once, no timer needed
            timer = self.timers.call_later(deadline - time.monotonic(), lambda: reply(None, BridgeError(
                ErrorCode.TWS_TIMEOUT, "TWS did not answer the contract lookup in time", retry_after=5)))

    # ---- events from ibapi's threads --------------------------------------------------------------------------

    def _on_event(self, event: tuple[Any, ...]) -> None:
        if self.connection.on_event(event):
            return
        kind = event[0]
        if kind == "current_time":
            self.tws_clock.observe(float(event[2]))
            self.subscriptions.clock_reading(float(event[2]))
            return
        if kind == "undecodable":  # a message ibapi could not decode: its request fails, the connection stays
            self.undecodable.on_report(event[2])
            return
        req_id = event[2]
        if self.lookups.on_event(kind, req_id, event):
            return
        up = self.upstream
        if kind == "bars_end" and up.owns(req_id):
            up.on_end(req_id, event[4], event[5])
        elif kind == "bar_update" and up.owns(req_id):
            up.on_update(req_id, event[3])
        elif kind == "contract_details" and self.resolver.owns(req_id):
            self.resolver.on_details(req_id, event[3])
        elif kind == "contract_details_end" and self.resolver.owns(req_id):
            self.resolver.on_end(req_id)
        elif kind == "head_timestamp" and self.history.heads.owns(req_id):
            self.history.heads.on_head(req_id, event[3])
        elif kind == "error":
            code, message = event[3], event[4]
            if up.owns(req_id):
                up.on_error(req_id, code, message)
            elif self.resolver.owns(req_id):
                self.resolver.on_error(req_id, code, message)
            elif self.history.heads.owns(req_id):
                self.history.heads.on_error(req_id, code, message)
            else:
                log.debug("TWS error %d for reqId %d (no longer waited for): %s", code, req_id, message)
