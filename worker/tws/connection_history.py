"""The TWS connection's recent history, for operators (/health `connection_history`, the status page at /).

The last `HISTORY_LIMIT` transitions, oldest first: when the connection entered a state, whether IB was reachable
behind TWS then (TWS's 1100/2110 say it is not while the socket stays up; 1101/1102 say it is again), and why, with
TWS's error code when one caused it (326 client id in use, 502 TWS not listening, 1100 ...). Bounded, so a TWS that
refuses every attempt for days keeps the last few dozen, never an ever-growing list.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Transition:
    time: float  # epoch seconds, the worker's clock
    state: str  # a ConnectionState value
    ib_reachable: bool  # connected and IB reachable behind TWS (health's `ib_reachable`)
    reason: str | None
    tws_code: int | None


class ConnectionHistory:
    """Owned by the connection manager (the worker's thread); a repeat of the current state is no transition."""

    def __init__(self, limit: int = HISTORY_LIMIT, clock: Callable[[], float] = time.time) -> None:
        self._transitions: deque[Transition] = deque(maxlen=limit)
        self._clock = clock

    def record(self, state: str, ib_reachable: bool, reason: str | None = None, tws_code: int | None = None) -> None:
        last = self._transitions[-1] if self._transitions else None
        if last is not None and (last.state, last.ib_reachable) == (state, ib_reachable):
            return
        self._transitions.append(Transition(round(self._clock(), 3), state, ib_reachable, reason, tws_code))

    def report(self) -> list[dict[str, Any]]:
        """Oldest first, as JSON-ready dicts."""
        return [asdict(t) for t in self._transitions]
