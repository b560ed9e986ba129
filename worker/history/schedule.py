"""The fastest schedule IB's pacing rules allow for a list of upstream requests, computed from the rules themselves.

The outbox sends historical requests in order as soon as worker/tws/pacing.py's PacingRules allow; running those same
rules on a fake clock gives the earliest moment each request can leave. It answers "can this plan finish within
BAR_TIMEOUT?" (else the request becomes a job), a job's eta_seconds, and the benchmark's "minimum IB's rules allow".
The 50-requests-a-second message budget is not modelled: one request per window is far below it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from worker.tws.pacing import PacingKey, PacingLimits, PacingRules


class _FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def earliest_sends(keys: Sequence[PacingKey], limits: PacingLimits, now: float = 0.0, answer_seconds: float = 0.0,
                   open_now: int = 0, history: PacingRules | None = None) -> list[float]:
    """When each request (sent in this order) may leave at the earliest: the pacing windows, and at most
    `limits.max_open` open at once, each open `answer_seconds` from its send (plus `open_now` open already)."""
    clock = _FakeClock(now)
    answers: list[float] = []  # when the requests sent so far are answered (a heap)

    def open_count() -> int:
        while answers and answers[0] <= clock.now:
            heapq.heappop(answers)
        return open_now + len(answers)

    rules = PacingRules(limits, open_count, clock=clock, wall=clock)
    if history is not None:  # what was sent already counts (`now` must then be on its clock: time.monotonic())
        rules.seed(history)
    out: list[float] = []
    for key in keys:
        at = clock.now
        while True:
            at = rules.earliest(key, at)
            clock.now = at
            if not rules.open_full():
                break
            if not answers:  # `open_now` alone fills the limit: nothing of ours frees a slot
                raise ValueError("the open-request limit is full before the first request")
            at = answers[0]
        rules.record(key, at)
        heapq.heappush(answers, at + answer_seconds)
        out.append(at)
    return out


def estimate_seconds(keys: Sequence[PacingKey], limits: PacingLimits, now: float = 0.0,
                     answer_seconds: float = 0.0, open_now: int = 0, history: PacingRules | None = None) -> float:
    """How long from `now` until the last request is answered, at the fastest pace the rules allow."""
    if not keys:
        return 0.0
    sends = earliest_sends(keys, limits, now, answer_seconds, open_now, history)
    return max(sends) + answer_seconds - now
