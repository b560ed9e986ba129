"""Timers for the owner thread: deadlines, reconnect back-off, idle checks. No threads: the poll loop runs them."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self.clock = clock

    def call_later(self, delay: float, action: Callable[[], None]) -> Timer:
        timer = Timer(self.clock() + max(0.0, delay), next(self._seq), action)
        heapq.heappush(self._heap, timer)
        return timer

    def timeout_ms(self, cap_ms: int = 1000) -> int:
        """Milliseconds until the next timer is due (for zmq.Poller.poll), at most `cap_ms`."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return cap_ms
        return max(0, min(cap_ms, int((self._heap[0].when - self.clock()) * 1000) + 1))

    def run_due(self) -> None:
        now = self.clock()
        while self._heap and (self._heap[0].cancelled or self._heap[0].when <= now):
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.action()
