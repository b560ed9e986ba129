"""IB's historical-data pacing rules, as data and a history of what was sent, kept in a ledger that outlives the worker.

IB's rules (docs/tws-protocol.md): no identical request within 15 s; fewer than 6 requests for the same contract,
exchange and whatToShow within 2 s; at most 60 requests in any 10 minutes for bars of 30 s or less (BID_ASK counts
twice); at most 50 historical requests open at once, keepUpToDate subscriptions included.

`PacingRules` does not queue anything: it is a rule of the one line every message to TWS waits in
(worker/tws/outbox.py).
The outbox asks `earliest` and `open_full` for a historical request, and calls `record` in the same step in which it
sends it, after it took the request's message token. So the history holds the moment a request really left (a
request stamped while it still waited for a token could let an identical one go 15 s after the stamp but less than
15 s after TWS saw the first). `record` writes the ledger (worker/tws/pacing_ledger.py) before the message goes; a new
worker loads it, mapping each record's wall-clock time onto its own monotonic clock, and so keeps the windows the
dead worker opened. The ledger is compacted (records no window needs any more dropped) at load and every
`COMPACT_EVERY` records. Owned by the worker's thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from worker.tws.pacing_ledger import MemoryLedger, PacingLedger, SentRequest

log = logging.getLogger("tws.pacing")

COMPACT_EVERY = 1000  # records appended between compactions: the file stays a few hundred KB at most


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

    def scaled(self, scale: float) -> PacingLimits:
        """Every window times `scale` (BRIDGE_PACING_SCALE, against a simulator run with the same --pacing-scale),
        never a count. The margin stays: it absorbs network and scheduling jitter, which no scale shrinks."""
        if not 0 < scale <= 1:
            raise ValueError(f"pacing scale must be in (0, 1], got {scale}")
        return replace(self, identical_window=self.identical_window * scale, group_window=self.group_window * scale,
                       small_bar_window=self.small_bar_window * scale)


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


@dataclass
class PacingRules:
    limits: PacingLimits
    open_requests: Callable[[], int]  # upstream historical requests open now, subscriptions included
    clock: Callable[[], float] = time.monotonic
    ledger: PacingLedger = field(default_factory=MemoryLedger)
    wall: Callable[[], float] = time.time
    _identical: dict[tuple[object, ...], float] = field(default_factory=dict)
    _groups: dict[tuple[object, ...], deque[float]] = field(default_factory=dict)
    _small: deque[float] = field(default_factory=deque)
    _recent: deque[tuple[float, SentRequest]] = field(default_factory=deque)  # what the next compaction keeps
    _appended: int = 0
    loaded: int = 0  # records taken over from the ledger at start-up

    def __post_init__(self) -> None:
        now, wall_now = self.clock(), self.wall()
        for sent in sorted(self.ledger.load(), key=lambda s: s.wall):
            at = now - max(0.0, wall_now - sent.wall)  # from the future (the wall clock went back): as if just sent
            if self._needed(sent, at, now):
                self._apply(sent, at)
                self.loaded += 1
        self._compact(now)
        if self.loaded:
            log.info("pacing history: %d request(s) sent by an earlier worker still count (%s)", self.loaded,
                     self.ledger.location)

    def open_full(self) -> bool:
        return self.open_requests() >= self.limits.max_open

    def earliest(self, key: PacingKey, now: float) -> float:
        """When `key` may be sent, by the time-window rules (the open-request limit is `open_full`)."""
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

    def record(self, key: PacingKey, now: float) -> None:
        """`key` is being sent now: into the ledger first (before the message goes), then into the history."""
        sent = SentRequest(self.wall(), key.identity, key.group, key.bar_seconds, key.weight)
        self.ledger.append(sent)
        self._apply(sent, now)
        self._appended += 1
        if self._appended >= COMPACT_EVERY:
            self._compact(now)

    def _apply(self, sent: SentRequest, at: float) -> None:
        self._identical[sent.identity] = max(at, self._identical.get(sent.identity, at))
        self._groups.setdefault(sent.group, deque()).extend([at] * sent.weight)
        if sent.bar_seconds <= self.limits.small_bar_seconds:
            self._small.extend([at] * sent.weight)
        self._recent.append((at, sent))
        if len(self._identical) > 1024:  # bounded memory on long runs
            lim = self.limits
            horizon = at - lim.identical_window - lim.margin
            self._identical = {k: t for k, t in self._identical.items() if t > horizon}
            self._groups = {k: g for k, g in self._groups.items()
                            if g and g[-1] > at - lim.group_window - lim.margin}

    def _needed(self, sent: SentRequest, at: float, now: float) -> bool:
        """Whether a window still holds this record at `now`."""
        lim = self.limits
        if at > now - max(lim.identical_window, lim.group_window) - lim.margin:
            return True
        return sent.bar_seconds <= lim.small_bar_seconds and at > now - lim.small_bar_window - lim.margin

    def _compact(self, now: float) -> None:
        self._recent = deque((at, sent) for at, sent in self._recent if self._needed(sent, at, now))
        self.ledger.rewrite(sent for _, sent in self._recent)
        self._appended = 0

    def seed(self, other: PacingRules) -> None:
        """Take `other`'s history of what was sent (same clock), so that a schedule computed on this copy
        (worker/history/schedule.py) starts from what TWS has already seen."""
        self._identical = dict(other._identical)
        self._groups = {k: deque(v) for k, v in other._groups.items()}
        self._small = deque(other._small)

    def budget(self) -> dict[str, int]:
        """What is left now, for /health."""
        now = self.clock()
        # counted, not expired: budget() must not move the window edges earliest() keeps its margin from
        horizon = now - self.limits.small_bar_window - self.limits.margin
        used = sum(1 for t in self._small if t > horizon)
        return {"small_bar_requests_left": max(0, self.limits.small_bar_max - used),
                "open_requests_left": max(0, self.limits.max_open - self.open_requests())}


def _expire_before(times: deque[float], horizon: float) -> None:
    while times and times[0] <= horizon:
        times.popleft()
