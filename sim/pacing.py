"""IB's historical-data pacing rules, as the HMDS farm enforces them.

From IB's documentation (see docs/tws-protocol.md): for bars of 30 s or less, no identical request within 15 s, fewer
than 6 requests for the same contract, exchange and tick type within 2 s, and at most 60 requests in any 10 minutes
(BID_ASK counts twice). Independently, at most 50 historical requests may be open at once, keepUpToDate ones included.
A violation is answered with error 162 (pacing) or 322 (too many open requests).

`scale` (--pacing-scale, 0 < x <= 1) multiplies every window (15 s, 2 s, 10 min), never a count, so that tests and
benchmarks can run IB's 10-minute rule in a minute with the same shape (the bridge's BRIDGE_PACING_SCALE matches it).

Choice: the identical-request and 6-in-2-s rules apply to every bar size here, not only to small bars. Real TWS is
softer for large bars, but a client that respects the stricter rule is safe with TWS, and that is what tests prove.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sim.messages import RequestHistoricalData, SimError

PACING_VIOLATION = SimError(
    162, "Historical Market Data Service error message:Historical data request pacing violation"
)
TOO_MANY_OPEN = SimError(
    322, "Error processing request.-'bR' : cause - Only 50 simultaneous API historical data requests allowed."
)

IDENTICAL_WINDOW_S = 15.0
SAME_CONTRACT_WINDOW_S = 2.0
SAME_CONTRACT_LIMIT = 6  # the 6th request within the window violates
SMALL_BAR_WINDOW_S = 600.0
SMALL_BAR_LIMIT = 60
MAX_OPEN_REQUESTS = 50
SMALL_BAR_SECONDS = 30


@dataclass(frozen=True)
class PacingVerdict:
    error: SimError | None
    rule: str = ""


def _bar_seconds(bar_size: str) -> int | None:
    parts = bar_size.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    unit = parts[1].rstrip("s")
    scale = {"sec": 1, "min": 60, "hour": 3600}.get(unit)
    return int(parts[0]) * scale if scale else None


class PacingRules:
    """Counts historical requests against IB's limits. Owned by the server's event loop (single thread)."""

    def __init__(self, enabled: bool = True, scale: float = 1.0) -> None:
        self.enabled = enabled
        self.scale = check_scale(scale)
        self._identical: dict[tuple, float] = {}
        self._by_contract: dict[tuple, deque[float]] = {}
        self._small_bars: deque[float] = deque()

    def check(self, request: RequestHistoricalData, open_requests: int, now: float) -> PacingVerdict:
        """Decide whether `request`, arriving at `now` (real monotonic seconds), may be served; record it if so."""
        if not self.enabled:
            return PacingVerdict(None)
        if open_requests >= MAX_OPEN_REQUESTS:
            return PacingVerdict(TOO_MANY_OPEN, "open_requests")
        c, q = request.contract, request.query
        # every field that tells contracts apart: a call and a put of one expiry are two contracts
        contract_key = (c.con_id, c.symbol.upper(), c.sec_type, c.last_trade_date, c.strike, c.right.upper(),
                        c.multiplier, c.local_symbol, c.trading_class, c.currency)
        identical_key = (contract_key, c.exchange, q.end_datetime, q.bar_size, q.duration, q.use_rth, q.what_to_show,
                         q.format_date, q.keep_up_to_date)
        group_key = (contract_key, c.exchange, q.what_to_show)
        weight = 2 if q.what_to_show == "BID_ASK" else 1
        seconds = _bar_seconds(q.bar_size)
        small = seconds is not None and seconds <= SMALL_BAR_SECONDS

        last = self._identical.get(identical_key)
        if last is not None and now - last < IDENTICAL_WINDOW_S * self.scale:
            return PacingVerdict(PACING_VIOLATION, "identical")
        group = self._by_contract.setdefault(group_key, deque())
        _expire(group, now - SAME_CONTRACT_WINDOW_S * self.scale)
        if len(group) + weight >= SAME_CONTRACT_LIMIT:
            return PacingVerdict(PACING_VIOLATION, "same_contract")
        if small:
            _expire(self._small_bars, now - SMALL_BAR_WINDOW_S * self.scale)
            if len(self._small_bars) + weight > SMALL_BAR_LIMIT:
                    return PacingVerdict(PACING_VIOLATION, "small_bars")

        self._identical[identical_key] = now
        group.extend([now] * weight)
        if small:
            self._small_bars.extend([now] * weight)
        if len(self._identical) > 4096:  # keep memory bounded on long runs
            self._identical = {k: t for k, t in self._identical.items() if now - t < IDENTICAL_WINDOW_S * self.scale}
        return PacingVerdict(None)


def check_scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 1:
        raise ValueError(f"pacing scale must be a number in (0, 1], got {scale!r}")
    return float(scale)


def _expire(times: deque[float], horizon: float) -> None:
    while times and times[0] <= horizon:
        times.popleft()
