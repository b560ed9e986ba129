"""The callers waiting for one look-up (identical ones share it), each answered once: with the look-up's answer, or
with a timeout at its own deadline when TWS is slower than the caller may wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.errors import BridgeError, ErrorCode
from worker.timers import Timer, Timers

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]


class Waiters:
    def __init__(self, timers: Timers, what: str) -> None:
        self._timers = timers
        self._what = what  # "the contract look-up": for the timeout's message
        self._waiting: list[tuple[Reply, Timer]] = []

    def add(self, reply: Reply, deadline: float) -> None:
        """Wait for the answer until `deadline` (the timers' clock); then 504 tws_timeout for this caller alone."""
        def too_late() -> None:
            mine = [w for w in self._waiting if w[0] is reply]
            if mine:
                self._waiting.remove(mine[0])
                reply(None, BridgeError(ErrorCode.TWS_TIMEOUT, f"TWS did not answer {self._what} in time",
                                        retry_after=5))

        self._waiting.append((reply, self._timers.call_later(deadline - self._timers.clock(), too_late)))

    def __len__(self) -> int:
        return len(self._waiting)

    def answer(self, result: dict[str, Any] | None, error: BridgeError | None) -> None:
        """Every caller still waiting gets this answer (once)."""
        waiting, self._waiting = self._waiting, []
        for reply, timer in waiting:
            timer.cancel()
            reply(result, error)
