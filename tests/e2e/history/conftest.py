"""Fixtures of issue 10's end-to-end tests: the simulator with IB's pacing rules and duration table ON (no
--no-pacing, no --lenient-durations) and its clock frozen, and bridges with their own bar store (BRIDGE_STORE_PATH in
the test's tmp directory, so a second bridge can be started on the same store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.history.rig import CLOCK, HistoryBridge
from tests.e2e.processes import SimProcess


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[Callable[..., SimProcess]]:
    """The simulator with pacing and the duration table ON, its clock frozen at `clock`; `pacing_scale` scales every
    pacing window (the bridge must be given the same factor)."""
    made: list[SimProcess] = []

    def make(clock: str = CLOCK, pacing_scale: float | None = None, extra: tuple[str, ...] = ()) -> SimProcess:
        scale = ("--pacing-scale", str(pacing_scale)) if pacing_scale is not None else ()
        sim = SimProcess(tmp_path, clock_start=clock, speed=0.0, extra=(*scale, *extra))
        made.append(sim)
        return sim.start()

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def make_history_bridge(tmp_path: Path) -> Iterator[Callable[..., HistoryBridge]]:
    """Bridges with BRIDGE_STORE_PATH = `store` (default: this test's own file): a second bridge on the same store
    is a restart."""
    made: list[HistoryBridge] = []
    count = [0]

    def make(tws: SimProcess, store: Path | None = None, pacing_scale: float | None = None,
             **settings: str) -> HistoryBridge:
        count[0] += 1
        run_dir = tmp_path / f"bridge-{count[0]}"
        run_dir.mkdir()
        store_path = store or tmp_path / "bars.sqlite3"
        scale = {"BRIDGE_PACING_SCALE": str(pacing_scale)} if pacing_scale is not None else {}
        bridge = HistoryBridge(run_dir, tws.port, **{"BRIDGE_STORE_PATH": str(store_path), **scale, **settings})
        bridge.store_path = store_path
        made.append(bridge)
        return bridge.start()  # type: ignore[return-value]

    yield make
    for bridge in made:
        bridge.stop()

