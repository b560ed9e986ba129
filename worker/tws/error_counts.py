"""How many errors and notices TWS sent, by TWS code, for GET /metrics.

TWS codes come from the wire, so the set of labels is bounded here: the first MAX_CODES distinct codes are counted
each under its own code, any code after them under "other" (a TWS that sent a new code with every message must not
grow the scrape without end).
"""

from __future__ import annotations

from collections import Counter

MAX_CODES = 100
OTHER = "other"


class TwsErrorCounts:
    def __init__(self, max_codes: int = MAX_CODES) -> None:
        self._max_codes = max_codes
        self._counts: Counter[str] = Counter()

    def count(self, code: int) -> None:
        label = str(code)
        if label not in self._counts and len(self._counts) >= self._max_codes:
            label = OTHER
        self._counts[label] += 1

    def counts(self) -> dict[str, int]:
        return dict(self._counts)
