"""End-to-end fixtures: the simulator and the bridge as real processes on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.processes import BridgeProcess, SimProcess


@pytest.fixture(scope="module")
def tws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """The simulated TWS for a module: clock running from Tuesday 2025-01-28 11:00 New York at 10x."""
    sim = SimProcess(tmp_path_factory.mktemp("tws"), extra=("--no-pacing",)).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def bridge(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """gunicorn with 2 HTTP workers and the TWS worker, connected to `tws`."""
    b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port).start()
    yield b
    b.stop()


@pytest.fixture
def make_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., BridgeProcess]]:
    made: list[BridgeProcess] = []

    def make(tws_port: int, wait_connected: bool = True, **settings: str) -> BridgeProcess:
        b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws_port, **settings)
        made.append(b)
        return b.start(wait_connected=wait_connected)

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def make_tws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SimProcess]]:
    made: list[SimProcess] = []

    def make(**kw: object) -> SimProcess:
        s = SimProcess(tmp_path_factory.mktemp("tws"), **kw)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
