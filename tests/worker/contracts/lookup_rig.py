"""A rig for the contract look-ups' unit tests: a real outbox (a roomy message budget) on timers of an injected clock,
to a client that records what it is sent."""

from __future__ import annotations

import itertools
from typing import Any

from tests.worker.fakes import LIMITS, Clock, FakeConnection, roomy_budget
from worker.timers import Timers
from worker.tws.message_budget import MessageBudget
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingRules


class LookupClient:
    """Records reqContractDetails and reqMatchingSymbols as sent: (reqId, Contract) and (reqId, pattern, when)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.details: list[tuple[int, Any]] = []
        self.searches: list[tuple[int, str, float]] = []

    def reqContractDetails(self, req_id: int, contract: Any) -> None:  # noqa: N802 - ibapi's name
        self.details.append((req_id, contract))

    def reqMatchingSymbols(self, req_id: int, pattern: str) -> None:  # noqa: N802
        self.searches.append((req_id, pattern, self._clock()))


class LookupRig:
    def __init__(self, rate: float | None = None) -> None:
        """`rate`: the message budget's messages a second, a burst of one (default: one no test runs out of)."""
        self.clock = Clock()
        self.budget = roomy_budget(self.clock) if rate is None else MessageBudget(rate, 1, self.clock)
        self.timers = Timers(self.clock)
        self.tws = LookupClient(self.clock)
        self.connection = FakeConnection(self.tws)
        self.outbox = Outbox(self.budget, PacingRules(LIMITS, lambda: 0, self.clock),
                             self.timers, self.connection, self.clock)
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def deadline(self, seconds: float = 30.0) -> float:
        return self.clock.now + seconds

    def advance(self, seconds: float) -> None:
        """Move the clock in steps of 0.1 s, running the timers due on the way (as the poll loop does)."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = min(end, self.clock.now + 0.1)
            self.timers.run_due()
