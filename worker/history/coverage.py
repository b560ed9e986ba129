"""Which time ranges of a series are known complete: the half-open spans of bar start times the store holds every bar
of, including spans TWS answered as empty (holidays, before the first date, 162 "no data").

A bar with start time t is in `Span(a, b)` when a <= t < b. The planner asks `missing` for what to request; the store
adds a span once a window's answer is written, so no completed range is ever requested twice.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Span:
    start: int  # epoch seconds, inclusive (a bar's start time)
    end: int  # epoch seconds, exclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a span cannot end ({self.end}) before it starts ({self.start})")

    @property
    def seconds(self) -> int:
        return self.end - self.start

    def __bool__(self) -> bool:
        return self.end > self.start

    def clip(self, other: Span) -> Span:
        """The part of this span inside `other` (empty when they do not meet)."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Span(start, max(start, end))


class Coverage:
    """Disjoint, sorted, merged spans (adjacent spans join). Owned by the worker's thread."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for span in sorted(spans):
            self.add(span)

    def __iter__(self) -> Iterator[Span]:
        return (Span(a, b) for a, b in zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)

    def __repr__(self) -> str:
        return f"Coverage({list(self)!r})"

    @property
    def seconds(self) -> int:
        return sum(b - a for a, b in zip(self._starts, self._ends, strict=True))

    def add(self, span: Span) -> None:
        if not span:
            return
        # every stored span that touches or overlaps `span` merges into one
        lo = bisect.bisect_left(self._ends, span.start)
        hi = bisect.bisect_right(self._starts, span.end)
        start, end = span.start, span.end
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def remove(self, span: Span) -> None:
        """Forget `span` (an evicted or replaced range): what was around it stays covered."""
        if not span:
            return
        kept: list[Span] = []
        lo = bisect.bisect_right(self._ends, span.start)
        hi = bisect.bisect_left(self._starts, span.end)
        for a, b in zip(self._starts[lo:hi], self._ends[lo:hi], strict=True):
            if a < span.start:
                kept.append(Span(a, span.start))
            if b > span.end:
                kept.append(Span(span.end, b))
        self._starts[lo:hi] = [s.start for s in kept]
        self._ends[lo:hi] = [s.end for s in kept]

    def covers(self, span: Span) -> bool:
        if not span:
            return True
        i = bisect.bisect_right(self._starts, span.start) - 1
        return i >= 0 and self._ends[i] >= span.end

    def missing(self, span: Span) -> list[Span]:
        """The parts of `span` not covered, oldest first."""
        out: list[Span] = []
        cursor = span.start
        i = max(0, bisect.bisect_right(self._ends, span.start))
        while cursor < span.end and i < len(self._starts):
            a, b = self._starts[i], self._ends[i]
            if a >= span.end:
                break
            if a > cursor:
                out.append(Span(cursor, a))
            cursor = max(cursor, b)
            i += 1
        if cursor < span.end:
            out.append(Span(cursor, span.end))
        return out

    def last_end(self, before: int) -> int | None:
        """The end of the covered span that holds or precedes `before` (where a tail request would start)."""
        i = bisect.bisect_right(self._starts, before) - 1
        if i < 0:
            return None
        return min(self._ends[i], before)
