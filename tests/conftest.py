"""Shared fixtures: a simulated TWS on an ephemeral loopback port, and official ibapi clients connected to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sim.harness import SimulatedTws
from sim.options import SimOptions

NEW_YORK = ZoneInfo("America/New_York")


def ny(text: str) -> float:
    """Epoch seconds of a New York wall-clock time, 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).timestamp()


# Tuesday 28 January 2025, 11:00 in New York: mid-session, the day after the full session tests ask for.
MIDSESSION = ny("2025-01-28 11:00")


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimulatedTws]]:
    started: list[SimulatedTws] = []

    def make(clock_at: float | None = MIDSESSION, speed: float = 0.0, **options: object) -> SimulatedTws:
        opts = SimOptions(**{"port": 0, "update_interval": 0.05, **options})  # type: ignore[arg-type]
        sim = SimulatedTws(opts)
        if clock_at is not None:
            if speed:
                sim.clock.run_from(clock_at, speed)
            else:
                sim.clock.freeze(clock_at)
        started.append(sim.start())
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimulatedTws]) -> SimulatedTws:
    return sim_factory()
