"""Owns the TWS connection: connect with a deadline, notice its loss, reconnect with back-off and jitter.

Runs on the worker's owner thread. Each attempt gets a fresh `TwsClient` on its own thread and a generation number;
events from older generations are ignored. ibapi's connect() waits forever for a silent TWS, so the attempt has a
deadline after which its socket is closed.
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
from worker.tws_client import TwsClient
from worker.tws_errors import CLIENT_ID_IN_USE, CLIENT_ID_REMEDY, FARM_CODES

log = logging.getLogger("tws.connection_manager")


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
                 client_factory: Callable[[Mailbox, int], TwsClient] = TwsClient) -> None:
        self._config = config
        self._mailbox = mailbox
        self._timers = timers
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._client_factory = client_factory
        self.client: TwsClient | None = None
        self.generation = 0
        self.state = ConnectionState.WAITING
        self.server_version: int | None = None
        self.reconnect_attempts = 0  # attempts since the last successful connection
        self.reconnects = 0  # successful connections after the first
        self.last_error: LastError | None = None
        self.farms: dict[str, str] = {}
        self.connected_since: float | None = None
        self._ever_connected = False
        self._delay = config.reconnect_initial_delay
        self.client_id = config.tws_client_id
        self.last_heard = 0.0  # time.monotonic() of the last event from the current connection
        self._retry: Timer | None = None
        self._deadline: Timer | None = None

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

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
        self.state = ConnectionState.STOPPED
        self._close_client("disconnected on request")

    def _attempt(self) -> None:
        self.generation += 1
        self.reconnect_attempts += 1
        self.state = ConnectionState.CONNECTING
        self.server_version = None
        client = self._client_factory(self._mailbox, self.generation)
        self.client = client
        c = self._config
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
        was_up = self.state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING)
        self.client = None
        self.generation += 1  # whatever the old client still posts is stale now
        self.last_heard = 0.0
        if self._deadline is not None:
            self._deadline.cancel()
        if self.state is not ConnectionState.STOPPED:
            self.state = ConnectionState.WAITING
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
            return kind != "error" or event[2] == -1  # stale: swallow everything but request errors
        self.last_heard = time.monotonic()
        if kind == "handshake":
            self.server_version = int(event[2])
            log.info("handshake done, server version %d", self.server_version)
            return True
        if kind == "ready":
            if self._deadline is not None:
                self._deadline.cancel()
            self.state = ConnectionState.CONNECTED
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

    def _record_error(self, code: int, message: str) -> None:
        self.last_error = LastError(code, message, time.time())
