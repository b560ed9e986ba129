"""The simulated TWS server: listens, tracks connections and client ids, and applies server-wide faults.

Everything here runs on one asyncio event loop; other threads reach it only through `sim.harness.SimulatedTws`,
which hands calls to the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sim import codec
from sim.clock import SimClock
from sim.connection import ClientConnection
from sim.faults import FaultPlan
from sim.instruments import Universe
from sim.message_rate import check_limit
from sim.messages import RequestHistoricalData
from sim.options import SimOptions
from sim.pacing import PacingRules, PacingVerdict
from sim.request_log import RequestLog

log = logging.getLogger("sim.server")

CONNECTIVITY = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
}
FARMS = {
    ("market", False): (2103, "Market data farm connection is broken:usfarm"),
    ("market", True): (2104, "Market data farm connection is OK:usfarm"),
    ("hmds", False): (2105, "HMDS data farm connection is broken:ushmds"),
    ("hmds", True): (2106, "HMDS data farm connection is OK:ushmds"),
}


class SimServer:
    def __init__(self, options: SimOptions, clock: SimClock | None = None, faults: FaultPlan | None = None) -> None:
        self.options = options
        self.clock = clock or SimClock()
        self.faults = faults or FaultPlan()
        self.universe = Universe.load(options.instruments)
        self.pacing = PacingRules(enabled=options.pacing, scale=options.pacing_scale)
        self.request_log = RequestLog(options.log_requests)
        supported = codec.max_supported_version()
        if options.max_version is not None and not codec.MIN_VERSION <= options.max_version <= supported:
            raise ValueError(f"max version must be {codec.MIN_VERSION}..{supported}, got {options.max_version}")
        self.max_version = options.max_version or supported
        self.connectivity_lost = False
        self.lenient_durations = options.lenient_durations  # durations past IB's table (sim.duration_limits)
        # TWS's message rate limit and, optionally, dropping a client that keeps exceeding it (sim.message_rate)
        self.max_message_rate = options.max_message_rate
        self.drop_after_rate_violations = options.drop_after_rate_violations
        self.connections: dict[int, ClientConnection] = {}
        self._client_ids: dict[int, ClientConnection] = {}
        self._listener: asyncio.Server | None = None
        self._count = 0
        self._refusing_until = 0.0
        self._reopen: asyncio.Task[None] | None = None
        self.port = options.port

    # ---- listening --------------------------------------------------------------------------------------------

    async def start(self) -> int:
        await self._listen()
        log.info("simulated TWS listening on %s:%d (max server version %d)", self.options.host, self.port,
                 self.max_version)
        return self.port

    async def _listen(self) -> None:
        self._listener = await asyncio.start_server(self._accept, self.options.host, self.port, reuse_address=True)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        conns = list(self.connections.values())
        for conn in conns:  # first: from Python 3.12.1 wait_closed() waits for every open connection
            conn.abort()
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        if conns:
            await asyncio.wait([asyncio.create_task(c.closed.wait()) for c in conns], timeout=2.0)
        self.request_log.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count += 1
        conn = ClientConnection(self, self._count, reader, writer)
        self.connections[conn.number] = conn
        log.info("conn %d: accepted from %s", conn.number, writer.get_extra_info("peername"))
        await conn.run()

    def forget(self, conn: ClientConnection) -> None:
        self.connections.pop(conn.number, None)
        if conn.client_id is not None and self._client_ids.get(conn.client_id) is conn:
            del self._client_ids[conn.client_id]
        log.info("conn %d: closed (client id %s)", conn.number, conn.client_id)

    def claim_client_id(self, client_id: int, conn: ClientConnection) -> bool:
        if client_id in self._client_ids:
            return False
        self._client_ids[client_id] = conn
        return True

    @property
    def client_ids(self) -> list[int]:
        return sorted(self._client_ids)

    # ---- pacing -----------------------------------------------------------------------------------------------

    def pacing_check(self, request: RequestHistoricalData) -> PacingVerdict:
        open_requests = sum(c.open_requests for c in self.connections.values())
        return self.pacing.check(request, open_requests, time.monotonic())

    def set_message_rate(self, value: int | None = None, drop_after: int | None = None) -> dict[str, int]:
        """Change the message rate limit (0 = off) and the violations before a drop (0 = never); returns both."""
        if value is not None:
            self.max_message_rate = check_limit(value, "max_message_rate")
        if drop_after is not None:
            self.drop_after_rate_violations = check_limit(drop_after, "drop_after_rate_violations")
        return {"max_message_rate": self.max_message_rate,
                "drop_after_rate_violations": self.drop_after_rate_violations}

    # ---- faults -----------------------------------------------------------------------------------------------

    def drop_all(self) -> None:
        """Drop every connection now."""
        log.info("fault: dropping %d connection(s)", len(self.connections))
        for conn in list(self.connections.values()):
            conn.abort()

    def after_history_sent(self) -> None:
        if self.faults.drop_after_next_history:
            self.faults.drop_after_next_history = False
            log.info("fault: dropping every connection after the bars just sent")
            for conn in list(self.connections.values()):
                conn.close_after_flush()

    def after_stream_update(self) -> None:
        left = self.faults.drop_after_updates
        if left is None:
            return
        if left <= 1:
            self.faults.drop_after_updates = None
            log.info("fault: dropping every connection in the middle of a keepUpToDate stream")
            for conn in list(self.connections.values()):
                conn.close_after_flush()
        else:
            self.faults.drop_after_updates = left - 1

    async def refuse_connections(self, seconds: float) -> None:
        """Stop listening for `seconds` (connects are refused, as during TWS's nightly restart), then listen again.
        Open connections are left alone (drop_all drops them)."""
        if self._listener is not None:
            self._listener.close()  # not wait_closed(): from Python 3.12.1 it waits for the open connections too
            self._listener = None
        log.info("fault: refusing connections for %.1f s", seconds)
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = asyncio.create_task(self._listen_after(seconds))

    async def _listen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        try:
            await self._listen()
        except OSError:
            log.exception("could not listen again on port %d", self.port)
            return
        log.info("fault over: accepting connections again on port %d", self.port)

    def lose_connectivity(self) -> None:
        """1100: IB's servers are unreachable; keepUpToDate updates stop."""
        self.connectivity_lost = True
        self._broadcast(1100, CONNECTIVITY[1100])

    def restore_connectivity(self, data_kept: bool) -> None:
        """1102 (data kept: streams resume) or 1101 (data lost: every subscription is gone)."""
        self.connectivity_lost = False
        if not data_kept:
            for conn in self.connections.values():
                conn.drop_streams()
        code = 1102 if data_kept else 1101
        self._broadcast(code, CONNECTIVITY[code])

    def set_farm(self, farm: str, ok: bool) -> None:
        """Farm status notices: market data 2103/2104, historical data (HMDS) 2105/2106."""
        if (farm, ok) not in FARMS:
            raise ValueError(f"farm must be 'market' or 'hmds', got {farm!r}")
        self._broadcast(*FARMS[(farm, ok)])

    def _broadcast(self, code: int, text: str) -> None:
        for conn in self.connections.values():
            if conn.client_id is not None:
                conn.send_error(-1, code, text)
