"""Plain statistics for the bench: percentiles, latency summaries and side-by-side comparisons.

Pure functions on lists of numbers, so the smoke test can check them on fixed inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p99, mean, min and max of latencies given in seconds, reported in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0, "p50_ms": math.nan, "p99_ms": math.nan, "mean_ms": math.nan, "min_ms": math.nan,
                "max_ms": math.nan}
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "mean_ms": sum(ms) / len(ms),
            "min_ms": min(ms), "max_ms": max(ms)}


def compare(bridge: dict[str, Any], direct: dict[str, Any], key: str) -> dict[str, float]:
    """How `bridge[key]` relates to `direct[key]`: their ratio and their difference."""
    b, d = float(bridge[key]), float(direct[key])
    return {"ratio": b / d if d else math.inf, "diff": b - d}


def rate(count: float, seconds: float) -> float:
    """count per second (0 for an empty interval rather than a division error)."""
    return count / seconds if seconds > 0 else 0.0


def target(name: str, met: bool | None, measured: str, goal: str) -> dict[str, Any]:
    """One row of the targets table; `met` None means it could not be judged in this run."""
    return {"target": name, "goal": goal, "measured": measured, "met": met}
