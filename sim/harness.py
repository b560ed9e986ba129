"""Run the simulator in a background thread of the current process: what tests and benchmarks use.

The server's state belongs to its event loop thread; every call here is handed to that loop and waited for.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sim.clock import SimClock
from sim.control import perform
from sim.faults import FaultPlan
from sim.options import SimOptions
from sim.request_log import RequestLog
from sim.server import SimServer

START_TIMEOUT_S = 10.0


class SimulatedTws:
    """A simulated TWS on loopback. Use as a context manager; `port` is set once started."""

    def __init__(self, options: SimOptions | None = None, clock: SimClock | None = None,
                 faults: FaultPlan | None = None) -> None:
        self.options = options or SimOptions(port=0)
        self.clock = clock or SimClock()
        self.server = SimServer(self.options, self.clock, faults)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="simulated-tws", daemon=True)
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def host(self) -> str:
        return self.options.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def request_log(self) -> RequestLog:
        return self.server.request_log

    @property
    def max_version(self) -> int:
        return self.server.max_version

    def start(self) -> SimulatedTws:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("simulated TWS did not start in time")
        if self._error is not None:
            raise RuntimeError("simulated TWS failed to start") from self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.server.stop()

    def stop(self) -> None:
        if self._thread.is_alive() and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(START_TIMEOUT_S)

    def __enter__(self) -> SimulatedTws:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- control (see sim.control.OPERATIONS) -------------------------------------------------------------------

    def control(self, op: str, **args: Any) -> Any:
        """Run a named operation on the server's loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(perform(self.server, op, args), self._loop)
        return future.result(START_TIMEOUT_S)

    def call(self, func: Any, *args: Any) -> Any:
        """Run `func(*args)` on the server's loop (to read its state consistently) and return its result."""
        async def run() -> Any:
            return func(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(START_TIMEOUT_S)

    def client_ids(self) -> list[int]:
        return self.control("client_ids")

    def connection_count(self) -> int:
        return self.call(lambda: len(self.server.connections))

    def open_requests(self) -> int:
        return self.call(lambda: sum(c.open_requests for c in self.server.connections.values()))
