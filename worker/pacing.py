"""IB's historical-data pacing rules, kept by waiting instead of violating them.

IB's rules (docs/tws-protocol.md): no identical request within 15 s; fewer than 6 requests for the same contract,
exchange and whatToShow within 2 s; at most 60 requests in any 10 minutes for bars of 30 s or less (BID_ASK counts
twice); at most 50 historical requests open at once, keepUpToDate subscriptions included. Every upstream historical
request passes `PacingScheduler`: it goes at once when it may, waits otherwise, and is refused at once (429 with
Retry-After) when the wait would pass its deadline. Owned by the worker's thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from worker.timers import Timer, Timers

log = logging.getLogger("tws.pacing")


@dataclass(frozen=True)
class PacingLimits:
    identical_window: float = 15.0
    group_window: float = 2.0
    group_max: int = 5  # "fewer than 6" within group_window
    small_bar_window: float = 600.0
    small_bar_max: int = 60
    small_bar_seconds: int = 30
    max_open: int = 50
    # TWS stamps a request when it arrives, a little after we stamp it when we send: keep this much clear of every
    # window edge so that network and scheduling jitter can never turn a legal request into a violation.
    margin: float = 0.25


@dataclass(frozen=True)
class PacingKey:
    """What the rules look at in one request."""

    identity: tuple[object, ...]  # identical requests share it
    group: tuple[object, ...]  # contract, exchange, whatToShow
    bar_seconds: int
    bid_ask: bool = False

    @property
    def weight(self) -> int:
        return 2 if self.bid_ask else 1


@dataclass(eq=False)
class _Waiting:
    key: PacingKey
    deadline: float
    go: Callable[[], None]
    refuse: Callable[[float], None]  # retry_after seconds
    timer: Timer | None = None


@dataclass
class PacingScheduler:
    limits: PacingLimits
    timers: Timers
    open_requests: Callable[[], int]  # upstream historical requests open now, subscriptions included
    clock: Callable[[], float] = time.monotonic
    _identical: dict[tuple[object, ...], float] = field(default_factory=dict)
    _groups: dict[tuple[object, ...], deque[float]] = field(default_factory=dict)
    _small: deque[float] = field(default_factory=deque)
    _queue: list[_Waiting] = field(default_factory=list)
    _wakeup: Timer | None = None
    waited: int = 0
    refused: int = 0

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    def submit(self, key: PacingKey, deadline: float, go: Callable[[], None],
               refuse: Callable[[float], None]) -> object:
        """Send now (`go`), later, or never (`refuse(retry_after)`) when the wait would pass `deadline`.

        Returns a ticket for `withdraw`, for a request nobody wants any more while it waits."""
        item = _Waiting(key, deadline, go, refuse)
        self._queue.append(item)
        self.pump()
        if item in self._queue:
            self.waited += 1
            item.timer = self.timers.call_later(deadline - self.clock(), lambda: self._expire(item))
        return item

    def withdraw(self, ticket: object) -> bool:
        """Take a waiting request out of the queue; False when it already went (or was refused)."""
        if not isinstance(ticket, _Waiting) or ticket not in self._queue:
            return False
        self._queue.remove(ticket)
        if ticket.timer is not None:
            ticket.timer.cancel()
        return True

    def pump(self) -> None:
        """Send whatever may go now; refuse what cannot go before its deadline; wake up when the next may go."""
        now = self.clock()
        next_time: float | None = None
        for item in list(self._queue):
            if self.open_requests() >= self.limits.max_open:
                break  # nothing may go until a request closes; pump() runs again then
            when = self._earliest(item.key, now)
            if now >= item.deadline:  # nobody waits for it any more: never send it
                when = max(when, now + 1.0)
            if when <= now:
                self._queue.remove(item)
                if item.timer is not None:
                    item.timer.cancel()
                self._record(item.key, now)
                item.go()
            elif when > item.deadline:
                self._queue.remove(item)
                if item.timer is not None:
                    item.timer.cancel()
                self.refused += 1
                item.refuse(when - now)
            else:
                next_time = when if next_time is None else min(next_time, when)
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        if next_time is not None:
            self._wakeup = self.timers.call_later(next_time - now, self.pump)

    def _expire(self, item: _Waiting) -> None:
        if item in self._queue:  # still blocked (by the open-request limit) at its deadline
            self._queue.remove(item)
            self.refused += 1
            item.refuse(1.0)

    def _earliest(self, key: PacingKey, now: float) -> float:
        lim = self.limits
        when = now
        last = self._identical.get(key.identity)
        if last is not None:
            when = max(when, last + lim.identical_window + lim.margin)
        group = self._groups.get(key.group)
        if group:
            _expire_before(group, now - lim.group_window - lim.margin)
            if len(group) + key.weight > lim.group_max:
                when = max(when, group[len(group) + key.weight - lim.group_max - 1] + lim.group_window + lim.margin)
        if key.bar_seconds <= lim.small_bar_seconds:
            _expire_before(self._small, now - lim.small_bar_window - lim.margin)
            if len(self._small) + key.weight > lim.small_bar_max:
                when = max(when, self._small[len(self._small) + key.weight - lim.small_bar_max - 1]
                           + lim.small_bar_window + lim.margin)
        return when

    def _record(self, key: PacingKey, now: float) -> None:
        self._identical[key.identity] = now
        self._groups.setdefault(key.group, deque()).extend([now] * key.weight)
        if key.bar_seconds <= self.limits.small_bar_seconds:
            self._small.extend([now] * key.weight)
        if len(self._identical) > 1024:  # bounded memory on long runs
            lim = self.limits
            horizon = now - lim.identical_window - lim.margin
            self._identical = {k: t for k, t in self._identical.items() if t > horizon}
            self._groups = {k: g for k, g in self._groups.items()
                            if g and g[-1] > now - lim.group_window - lim.margin}

    def budget(self) -> dict[str, int]:
        """What is left now, for /health."""
        now = self.clock()
        # counted, not expired: budget() must not move the window edges _earliest keeps its margin from
        horizon = now - self.limits.small_bar_window - self.limits.margin
        used = sum(1 for t in self._small if t > horizon)
        return {"small_bar_requests_left": max(0, self.limits.small_bar_max - used),
                "open_requests_left": max(0, self.limits.max_open - self.open_requests()),
                "queued": len(self._queue)}


def _expire_before(times: deque[float], horizon: float) -> None:
    while times and times[0] <= horizon:
        times.popleft()
