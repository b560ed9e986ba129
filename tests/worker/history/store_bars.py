"""Bars as the worker writes them, for the store's tests and its benchmark: seeded, regular, one per `step` seconds."""

from __future__ import annotations

import random
import time
from typing import Any

from worker.history.store import SeriesKey

AAPL_1MIN = SeriesKey(265598, "SMART", "1 min", "TRADES", True)
MSFT_1MIN = SeriesKey(272093, "SMART", "1 min", "TRADES", True)
T0 = 1_738_074_600  # 2025-01-28 09:30 New York


def make_bars(start: int, count: int, step: int = 60, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed * 1_000_003 + start)
    price = 100.0 + rng.random() * 100
    bars = []
    for i in range(count):
        t = start + i * step
        price = max(1.0, price + rng.gauss(0, 0.05))
        o, c = round(price, 2), round(price + rng.gauss(0, 0.03), 2)
        bars.append({"date": time.strftime("%Y%m%d %H:%M:%S", time.gmtime(t)), "time": t,
                     "datetime": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t)), "open": o,
                     "high": round(max(o, c) + 0.02, 2), "low": round(min(o, c) - 0.02, 2), "close": c,
                     "volume": rng.randint(100, 50_000), "wap": round((o + c) / 2, 3), "count": rng.randint(1, 300)})
    return bars
