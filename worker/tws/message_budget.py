"""TWS's message rate as a token bucket: the one budget every message the worker sends to TWS is taken from.

TWS accepts at most 50 messages a second from one client: the 51st within a second is answered with error 100 ("Max
rate of messages per second has been exceeded") and TWS may drop the connection. Every message counts: requests,
cancels, contract lookups, reqCurrentTime, and the two messages ibapi sends by itself at connect.

The bucket refills `rate` tokens a second and holds at most `burst`; a message takes one token. In any window of T
seconds at most burst + rate * T tokens can be taken, so rate + burst <= 49 (shared/config.py) keeps every 1-second
window below TWS's 50 with a message to spare for network jitter. Owned by the worker's thread; the clock is
injected so that tests can move it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

EPSILON = 1e-9  # refills are floating point: a token due now must not be missed by a rounding error


class MessageBudget:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a message budget needs a positive rate and burst, got {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)  # a fresh worker may send its start-up messages at once
        self._at = clock()
        self.taken = 0  # messages sent under this budget since start

    def tokens(self) -> float:
        """Tokens available now (fractional while refilling)."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens

    def try_take(self, n: int = 1) -> bool:
        """Take `n` tokens if they are all there now; nothing is taken otherwise."""
        if self.tokens() + EPSILON < n:
            return False
        self._tokens = max(0.0, self._tokens - n)
        self.taken += n
        return True

    def wait_for(self, n: float) -> float:
        """Seconds until the n-th token from now is there, if nothing else takes one first (0: now)."""
        return max(0.0, (n - self.tokens()) / self.rate)
