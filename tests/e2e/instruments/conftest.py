"""Fixtures of issue 12's end-to-end tests: one simulator (its clock frozen, so the bridge and the official client
see one "now"; its pacing off, as two clients asking identical questions would otherwise pace each other) and one
bridge per module, and the official ibapi client connected to the same simulator to ask it directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import BridgeProcess, SimProcess
from tests.sim.ib_client import RecordingClient

CLOCK = "2025-02-04T12:00:00-05:00"  # a Tuesday: AAPL options expire 2025-02-21 and 2025-03-21 (2025-01-17: expired)
DIRECT_CLIENT_ID = 7
BUNDLED = Path(__file__).resolve().parents[3] / "sim" / "data" / "instruments.json"


SECOND_SHOP_IN_USD = 195014120  # this module's universe only: a second USD listing, so SMART/USD is ambiguous


def universe(directory: Path) -> Path:
    """The bundled instrument universe plus a second SHOP listed in USD (on ARCA): the one ambiguity a bars request
    can meet (the bundled SHOPs differ by currency, and the API always names one)."""
    data = json.loads(BUNDLED.read_text())
    nyse = next(i for i in data["instruments"] if i["symbol"] == "SHOP" and i["currency"] == "USD")
    data["instruments"].append({**nyse, "conId": SECOND_SHOP_IN_USD, "primaryExchange": "ARCA"})
    path = directory / "instruments.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def tws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    tmp = tmp_path_factory.mktemp("tws")
    sim = SimProcess(tmp, clock_start=CLOCK, speed=0.0,
                     extra=("--no-pacing", "--instruments", str(universe(tmp)))).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def bridge(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def direct(tws: SimProcess) -> Iterator[RecordingClient]:
    """The official client, unmodified, on the bridge's simulator."""
    client = RecordingClient().start(tws.port, DIRECT_CLIENT_ID)
    client.wait_event("nextValidId")
    yield client
    client.stop()
