"""Fakes shared by the worker's unit tests: a fake ibapi client that records what is sent, an injected clock (and a
stand-in `time` module whose monotonic() is that clock), a recorder of replies, bar builders, and a harness that wires
UpstreamRequests to them as the service does. Each test file builds its own module under test on top."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from worker.contracts.resolver import ResolvedContract
from worker.history.upstream import UpstreamRequests
from worker.timers import Timers
from worker.tws.message_budget import MessageBudget
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingLimits, PacingRules

NY = ZoneInfo("America/New_York")
T0 = 5000.0
LIMITS = PacingLimits()
ANSWER_TIMEOUT = 30.0  # once sent, TWS has at most this long (BAR_TIMEOUT)
AAPL = ResolvedContract(265598, "AAPL", "STK", "SMART", "NASDAQ", "USD", "AAPL", "", "America/New_York")
MINUTE = BarRequest(symbol="AAPL", bar_size="1 min", duration="1800 S")
TWS_END = "20250127 11:02:30 America/New_York"  # historicalDataEnd's end: TWS's "now"
NO_DATA = "Historical Market Data Service error message:HMDS query returned no data: AAPL@SMART Trades"
LOST = BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS connection lost: connection to TWS lost", retry_after=1.0)
BarValues = tuple[str, float, float, float, float, int, float, int]


def ny(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=NY).timestamp())


def minute_bar(hhmm: str, close: float = 100.0, day: str = "2025-01-27") -> BarValues:
    """A formatDate=2 intraday bar as TwsClient posts it: (epoch date, o, h, l, c, volume, wap, count)."""
    return (str(ny(f"{day} {hhmm}")), close - 1, close + 1, close - 2, close, 1000, close - 0.5, 10)


class Clock:
    """An injected monotonic clock: the test moves `now`, the code under test calls it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeTime:
    """Stands in for the `time` module inside the modules under test: monotonic() is the test's clock."""

    def __init__(self, clock: Clock) -> None:
        self.monotonic = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def use_clock(monkeypatch: pytest.MonkeyPatch, clock: Clock, *modules: ModuleType) -> None:
    """Make each module's time.monotonic read `clock` (they call time.monotonic() directly)."""
    fake = FakeTime(clock)
    for module in modules:
        monkeypatch.setattr(module, "time", fake)


class FakeClient:
    def __init__(self) -> None:
        self.historical: list[tuple[Any, ...]] = []
        self.cancelled: list[int] = []

    def reqHistoricalData(self, *args: Any) -> None:  # noqa: N802 - ibapi's name
        self.historical.append(args)

    def cancelHistoricalData(self, req_id: int) -> None:  # noqa: N802
        self.cancelled.append(req_id)


class FakeConnection:
    """What the outbox asks of the connection manager; `client` None is a lost connection."""

    def __init__(self, client: Any = None) -> None:
        self.client = client
        self.reachable = True  # False: 1100, IB unreachable behind a live socket
        self.dropped: list[str] = []

    @property
    def connected(self) -> bool:
        return self.client is not None

    @property
    def usable(self) -> bool:
        return self.connected and self.reachable

    def drop(self, reason: str) -> None:
        self.dropped.append(reason)
        self.client = None


def roomy_budget(clock: Clock) -> MessageBudget:
    """A message budget no unit test of pacing or upstream requests runs out of (the budget has its own tests)."""
    return MessageBudget(1e6, 10**6, clock)


class Replies:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any] | None, BridgeError | None]] = []

    def __call__(self, result: dict[str, Any] | None, error: BridgeError | None) -> None:
        self.calls.append((result, error))

    @property
    def result(self) -> dict[str, Any]:
        assert len(self.calls) == 1, self.calls
        result, error = self.calls[0]
        assert error is None and result is not None
        return result

    @property
    def error(self) -> BridgeError:
        assert len(self.calls) == 1, self.calls
        result, error = self.calls[0]
        assert result is None and error is not None
        return error


class UpstreamHarness:
    """UpstreamRequests sent through an Outbox (a roomy message budget, PacingRules) on Timers, all on one Clock, to a
    FakeClient. Setting `client` to None is a lost connection."""

    def __init__(self, limits: PacingLimits = LIMITS,
                 upstreams: type[UpstreamRequests] = UpstreamRequests) -> None:
        self.tws = FakeClient()
        self.connection = FakeConnection(self.tws)
        self.clock = Clock()
        self.timers = Timers(self.clock)
        ids = itertools.count(1)
        self.pacing = PacingRules(limits, lambda: self.up.open_count, self.clock)
        self.outbox = Outbox(roomy_budget(self.clock), self.pacing, self.timers, self.connection, self.clock)
        self.up = upstreams(self.outbox, self.timers, lambda: next(ids), ANSWER_TIMEOUT)

    @property
    def client(self) -> FakeClient | None:
        return self.connection.client

    @client.setter
    def client(self, client: FakeClient | None) -> None:
        self.connection.client = client

    @property
    def last_id(self) -> int:
        return int(self.tws.historical[-1][0])

    def answer(self, bars: list[BarValues], end: str = TWS_END, req_id: int | None = None) -> None:
        """TWS answers the last request sent (or `req_id`) with these bars."""
        req_id = self.last_id if req_id is None else req_id
        self.up.on_end(req_id, end, list(bars))  # the client posts an answer's bars with its end

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.timers.run_due()
