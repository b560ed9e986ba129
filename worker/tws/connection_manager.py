"""Owns the TWS connection: connect with a deadline, notice its loss, reconnect with back-off and jitter.

Runs on the worker's owner thread. Each attempt gets a fresh `TwsClient` on its own thread and a generation number;
events from older generations are ignored. ibapi's connect() waits forever for a silent TWS, so the attempt has a
deadline after which its socket is closed. ibapi sends two messages by itself at connect (the version handshake and
startApi): an attempt takes their two tokens from the message budget first, and waits for them when they are not there.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.config import BridgeConfig
from worker.mailbox import Mailbox
from worker.timers import Timer, Timers
from worker.tws.client import TwsClient
from worker.tws.connection_history import ConnectionHistory
from worker.tws.error_counts import TwsErrorCounts
from worker.tws.errors import (
    CLIENT_ID_IN_USE,
    CLIENT_ID_REMEDY,
    CONNECTIVITY_LOST,
    CONNECTIVITY_RESTORED_DATA_KEPT,
    CONNECTIVITY_RESTORED_DATA_LOST,
    FARM_CODES,
    NOTICES,
    SEND_FAILED,
)
from worker.tws.message_budget import MessageBudget

log = logging.getLogger("tws.connection_manager")

CONNECT_MESSAGES = 2  # what EClient.connect() sends by itself: "API\0" with the version range, then startApi


class ConnectionState(StrEnum):
    STOPPED = "stopped"  # /disconnect: stays down until /connect
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "disconnected"  # between attempts


@dataclass
class LastError:
    tws_code: int
    message: str
    time: float


class ConnectionManager:
    def __init__(self, config: BridgeConfig, mailbox: Mailbox, timers: Timers,
                 on_ready: Callable[[], None], on_lost: Callable[[str], None],
                 client_factory: Callable[[Mailbox, int], TwsClient] = TwsClient,
                 on_outage: Callable[[str], None] = lambda _: None,
                 on_data_lost: Callable[[], None] = lambda: None, budget: MessageBudget | None = None,
                 on_data_kept: Callable[[], None] = lambda: None) -> None:
        self._config = config
        self._budget = budget
        self._mailbox = mailbox
        self._timers = timers
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._on_outage = on_outage  # 1100/2110: IB unreachable behind a live socket; requests in flight fail now
        self._on_data_lost = on_data_lost  # 1101: restored, but TWS forgot every request (subscriptions)
        self._on_data_kept = on_data_kept  # 1102: restored, requests kept (updates missed meanwhile)
        self._client_factory = client_factory
        self.client: TwsClient | None = None
        self.generation = 0
        self.state = ConnectionState.WAITING
        self.server_version: int | None = None
        self.reconnect_attempts = 0  # attempts since the last successful connection
        self.reconnects = 0  # successful connections after the first
        self.last_error: LastError | None = None
        self.history = ConnectionHistory()  # the last transitions, for /health and the status page
        self._attempt_error: LastError | None = None  # what TWS reported while the current attempt was connecting
        self.farms: dict[str, str] = {}
        self.tws_errors = TwsErrorCounts()  # every error and notice TWS sent, by code (GET /metrics)
        self.connected_since: float | None = None
        self._ever_connected = False
        self._delay = config.reconnect_initial_delay
        self.client_id = config.tws_client_id
        self.last_heard = 0.0  # time.monotonic() of the last event from the current connection
        self._retry: Timer | None = None
        self._deadline: Timer | None = None
        self._grace: Timer | None = None  # set while TWS reports IB unreachable (1100/2110)

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    @property
    def usable(self) -> bool:
        """Connected and IB reachable behind TWS: new requests may go."""
        return self.connected and self._grace is None

    # ---- control ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect now (start-up and /connect); a connection that is up or under way is left alone."""
        if self.state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING):
            return
        self._cancel_retry()
        self._delay = self._config.reconnect_initial_delay
        self._attempt()

    def stop(self) -> None:
        """/disconnect: close and stay down until start()."""
        self._cancel_retry()
        self._enter(ConnectionState.STOPPED, "disconnected on request")
        self._close_client("disconnected on request")

    def _attempt(self) -> None:
        if self._budget is not None and not self._budget.try_take(CONNECT_MESSAGES):
            self._enter(ConnectionState.WAITING, "waiting for the message budget to connect")
            self._retry = self._timers.call_later(self._budget.wait_for(CONNECT_MESSAGES), self._attempt)
            return
        self.generation += 1
        self.reconnect_attempts += 1
        c = self._config
        self._attempt_error = None
        self._enter(ConnectionState.CONNECTING, f"attempt {self.reconnect_attempts} to {c.tws_host}:{c.tws_port} "
                                                f"as client id {self.client_id}")
        self.server_version = None
        client = self._client_factory(self._mailbox, self.generation)
        self.client = client
        log.info("connecting to TWS %s:%d as client id %d (attempt %d)", c.tws_host, c.tws_port, self.client_id,
                 self.reconnect_attempts)
        threading.Thread(target=client.run_connection, args=(c.tws_host, c.tws_port, self.client_id),
                         name=f"tws-connection-{self.generation}", daemon=True).start()
        generation = self.generation
        self._deadline = self._timers.call_later(c.tws_connect_timeout, lambda: self._connect_timed_out(generation))

    def _connect_timed_out(self, generation: int) -> None:
        if generation == self.generation and self.state is ConnectionState.CONNECTING:
            log.warning("TWS did not complete the handshake within %.1f s", self._config.tws_connect_timeout)
            self._record_error(502, "TWS did not answer the connection handshake in time")
            self.drop("handshake timeout")

    def drop(self, reason: str) -> None:
        """Close the connection and reconnect after the back-off (a silent TWS, lasting 1100)."""
        if self.state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING):
            log.warning("dropping the TWS connection: %s", reason)
            self._close_client(reason)

    def _close_client(self, reason: str) -> None:
        client = self.client
        if client is not None:
            # closing the socket ends the client's connect()/run() loop; its thread then posts a (stale) "closed"
            try:
                client.close_now()
            except Exception as exc:  # ibapi trips over its own half-closed state sometimes
                log.debug("disconnect: %s", exc)
        self._lost(reason)

    def _lost(self, reason: str) -> None:
        was_up = self.client is not None  # set exactly while connecting or connected (also for stop())
        self.client = None
        self.generation += 1  # whatever the old client still posts is stale now
        self.last_heard = 0.0
        for timer in (self._deadline, self._grace):
            if timer is not None:
                timer.cancel()
        self._grace = None
        if self.state is not ConnectionState.STOPPED:
            # an attempt that failed: what TWS said meanwhile (326, 502, ...) is why; a lost connection: the reason
            cause = self._attempt_error if self.state is ConnectionState.CONNECTING else None
            self._enter(ConnectionState.WAITING, cause.message if cause else reason, cause.tws_code if cause else None)
            self._schedule_retry()
        self.connected_since = None
        self.server_version = None
        if was_up:
            self._on_lost(reason)

    def _schedule_retry(self) -> None:
        self._cancel_retry()
        delay = self._delay * random.uniform(0.8, 1.2)  # jitter: many bridges must not reconnect in lockstep
        self._delay = min(self._delay * 2, self._config.reconnect_max_delay)
        log.info("reconnecting in %.1f s", delay)
        self._retry = self._timers.call_later(delay, self._attempt)

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def retry_in(self) -> float:
        """Seconds a client should wait before trying again (for Retry-After)."""
        if self._retry is None or self._retry.cancelled:
            return 1.0
        return max(1.0, self._retry.when - self._timers.clock())

    # ---- events from the client's threads ---------------------------------------------------------------------

    def on_event(self, event: tuple[Any, ...]) -> bool:
        """Handle connection-level events; False when the event belongs to a request."""
        kind, generation = event[0], event[1]
        if generation != self.generation:
            return True  # from a connection that is gone: nothing to do with it
        self.last_heard = time.monotonic()
        if kind == "error":  # every error passes here first, the connection's and the requests' alike
            self.tws_errors.count(int(event[3]))
        if kind == "handshake":
            self.server_version = int(event[2])
            log.info("handshake done, server version %d", self.server_version)
            return True
        if kind == "ready":
            if self._deadline is not None:
                self._deadline.cancel()
            self._enter(ConnectionState.CONNECTED, f"server version {self.server_version}")
            self.connected_since = time.time()
            if self._ever_connected:
                self.reconnects += 1
            self._ever_connected = True
            self.reconnect_attempts = 0
            self._delay = self._config.reconnect_initial_delay
            log.info("connected to TWS (server version %s)", self.server_version)
            self._on_ready()
            return True
        if kind == "closed":
            if self.state is not ConnectionState.STOPPED:
                log.warning("TWS connection closed")
            self._lost("connection to TWS lost")
            return True
        if kind == "error" and event[3] in SEND_FAILED:  # 10.x: a send raised inside the client
            self._record_error(int(event[3]), str(event[4]))
            self.drop(f"sending to TWS failed ({event[3]}): {event[4]}")
            return True
        if kind == "error" and event[2] == -1:
            self._on_connection_error(int(event[3]), str(event[4]))
            return True
        return False

    def _on_connection_error(self, code: int, message: str) -> None:
        if code in FARM_CODES:
            farm, status = FARM_CODES[code]
            self.farms[farm] = status
            log.info("farm status %d: %s", code, message)
            return
        if code in CONNECTIVITY_LOST:
            self._connectivity_lost(code, message)
            return
        if code in (CONNECTIVITY_RESTORED_DATA_LOST, CONNECTIVITY_RESTORED_DATA_KEPT):
            self._connectivity_restored(code, message)
            return
        if code in NOTICES:
            log.info("TWS notice %d: %s", code, message)
            return
        if code == CLIENT_ID_IN_USE:
            message = CLIENT_ID_REMEDY.format(client_id=self.client_id)
            log.error("TWS error 326: %s", message)
            fallbacks = self._config.client_id_fallbacks
            if fallbacks:  # try the next ids in turn, then start over at the configured one
                base = self._config.tws_client_id
                self.client_id = base + (self.client_id - base + 1) % (fallbacks + 1)
                log.info("next attempt uses client id %d", self.client_id)
        else:
            log.warning("TWS error %d: %s", code, message)
        self._record_error(code, message)

    def _connectivity_lost(self, code: int, message: str) -> None:
        """1100/2110: IB is unreachable behind a live socket. Requests fail at once; if TWS does not report 1101/1102
        within the grace period the connection is replaced (a short IB blip must not drop every subscription)."""
        self._record_error(code, message)
        if self._grace is None:
            log.warning("TWS error %d: %s; reconnecting in %.0f s unless restored", code, message,
                        self._config.connectivity_grace)
            self._grace = self._timers.call_later(self._config.connectivity_grace, self._grace_over)
            self.history.record(self.state.value, self.usable, message, code)
            self._on_outage(f"TWS reports IB unreachable ({code})")

    def _grace_over(self) -> None:
        self._grace = None
        self.drop("connectivity not restored after 1100/2110")

    def _connectivity_restored(self, code: int, message: str) -> None:
        log.warning("TWS %d: %s", code, message)
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.history.record(self.state.value, self.usable, message, code)
        if code == CONNECTIVITY_RESTORED_DATA_LOST:
            self._on_data_lost()
        else:
            log.info("connectivity restored, data kept (1102)")
            self._on_data_kept()

    def _record_error(self, code: int, message: str) -> None:
        self.last_error = LastError(code, message, time.time())
        if self.state is ConnectionState.CONNECTING:
            self._attempt_error = self.last_error

    def _enter(self, state: ConnectionState, reason: str | None, tws_code: int | None = None) -> None:
        self.state = state
        self.history.record(state.value, self.usable, reason, tws_code)
