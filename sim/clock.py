"""The simulator's clock: real time, frozen at an instant, or running from an instant at a chosen speed.

Market-hours behaviour (forming bars, sessions, holidays) depends on "now", so tests set the clock instead of waiting
for the real market. Every read of the time in the simulator goes through here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class _Anchor:
    sim_start: float  # simulated epoch seconds at the anchor
    real_start: float  # time.monotonic() at the anchor
    speed: float  # simulated seconds per real second; 0 = frozen


class SimClock:
    """Thread-safe settable clock. `now()` returns simulated epoch seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._anchor = _Anchor(time.time(), time.monotonic(), 1.0)

    def now(self) -> float:
        a = self._anchor  # one atomic read: the anchor is replaced, never mutated
        return a.sim_start + (time.monotonic() - a.real_start) * a.speed

    @property
    def speed(self) -> float:
        return self._anchor.speed

    def set_real(self) -> None:
        """Follow the system clock."""
        with self._lock:
            self._anchor = _Anchor(time.time(), time.monotonic(), 1.0)

    def freeze(self, at: float | None = None) -> None:
        """Stop the clock at `at` (epoch seconds), or where it is now."""
        with self._lock:
            self._anchor = _Anchor(self.now() if at is None else at, time.monotonic(), 0.0)

    def run_from(self, at: float, speed: float = 1.0) -> None:
        """Run from `at` at `speed` simulated seconds per real second."""
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        with self._lock:
            self._anchor = _Anchor(at, time.monotonic(), speed)
