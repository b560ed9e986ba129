"""Fixtures for driving the simulator with the official client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sim.harness import SimulatedTws
from tests.sim.ib_client import RecordingClient


@pytest.fixture
def connect() -> Iterator[Callable[..., RecordingClient]]:
    clients: list[RecordingClient] = []

    def make(sim: SimulatedTws, client_id: int = 1) -> RecordingClient:
        client = RecordingClient()
        clients.append(client)
        client.start(sim.port, client_id, sim.host)
        client.wait_event("nextValidId")
        client.wait_for(lambda ev: any(e.name == "error" and e.data["code"] == 2158 for e in ev))  # start-up done
        return client

    yield make
    for client in clients:
        client.stop()


@pytest.fixture
def ib(sim: SimulatedTws, connect: Callable[..., RecordingClient]) -> RecordingClient:
    """An official client connected to the default simulator (frozen mid-session) as client id 1."""
    return connect(sim)
