"""TWS's limit on the messages a client may send: at most 50 per second per connection (error 100).

TWS counts every API message a connection sends after the handshake (startApi, contract lookups and cancels included)
and answers the message that takes it over the limit with error 100 and reqId -1,
"Max rate of messages per second has been exceeded:max=50 rec=51 (1)". That message is rejected, not served. Real TWS
may also drop a client that keeps violating; the simulator does that only when asked (`drop_after_rate_violations`).

The window slides over real (monotonic) time, whatever the simulated clock does: the limit protects TWS's own
process. A rejected message still counts as received, as TWS counts what arrives, not what it serves.
The number in parentheses is taken to be how many times this connection has gone over the limit (unverified).
"""

from __future__ import annotations

from collections import deque

DEFAULT_MAX_MESSAGE_RATE = 50
WINDOW_S = 1.0
RATE_EXCEEDED = 100


def rate_exceeded_text(limit: int, received: int, violations: int) -> str:
    return f"Max rate of messages per second has been exceeded:max={limit} rec={received} ({violations})"


def check_limit(value: object, name: str) -> int:
    """A limit from the command line, a test or the control socket: an int >= 0 (0 = off)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0 (0 = off), got {value!r}")
    return value


class MessageRate:
    """The messages one connection sent in the last second. Owned by the server's event loop."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self.violations = 0

    def received(self, now: float, limit: int) -> str | None:
        """Count a message received at `now` (monotonic seconds); the error 100 text if it goes over `limit`.

        `limit` 0 turns the check off (the message is still counted, so turning it on later sees the real rate).
        """
        times = self._times
        times.append(now)
        horizon = now - WINDOW_S
        while times and times[0] <= horizon:
            times.popleft()
        if limit <= 0 or len(times) <= limit:
            return None
        self.violations += 1
        return rate_exceeded_text(limit, len(times), self.violations)
