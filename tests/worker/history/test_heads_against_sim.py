"""The head-timestamp request and callback against the simulator, with the installed official client (run under
both venvs: 9.81's text messages and 10.x's, protobuf from version 208)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sim.harness import SimulatedTws
from sim.history import head_timestamp as sim_head
from sim.options import SimOptions
from tests.sim.versions import SERVER_VERSIONS
from tests.worker.history.sim_contracts import instrument, resolved
from worker.history.heads import parse_head
from worker.mailbox import Mailbox
from worker.tws.client import TwsClient
from worker.tws.requests import CancelHeadTimestamp, HeadTimestampRequest

DEADLINE_S = 10.0


def wait_event(mailbox: Mailbox, name: str, seen: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The first mailbox event called `name` (the mailbox's fd wakes us: no polling sleep)."""
    import select

    deadline = time.monotonic() + DEADLINE_S
    while True:
        for event in seen:
            if event[0] == name:
                return event
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {name} event within {DEADLINE_S} s; got {[e[0] for e in seen]}")
        select.select([mailbox.fileno()], [], [], left)
        seen.extend(mailbox.drain())


@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
@pytest.mark.parametrize(("symbol", "what", "use_rth"), [("AAPL", "TRADES", True), ("EUR", "MIDPOINT", False)])
def test_the_head_timestamp_comes_back_as_an_event_the_book_reads(max_version: int, symbol: str, what: str,
                                                                  use_rth: bool) -> None:
    sim = SimulatedTws(SimOptions(port=0, max_version=max_version)).start()
    mailbox = Mailbox()
    client = TwsClient(mailbox, generation=1)
    thread = threading.Thread(target=client.run_connection, args=(sim.host, sim.port, 5), daemon=True)
    thread.start()
    try:
        seen: list[tuple[Any, ...]] = []
        wait_event(mailbox, "ready", seen)
        contract = resolved(instrument(symbol))
        for fmt, req_id in ((2, 41), (1, 42)):
            HeadTimestampRequest(req_id, contract.to_ibapi(contract.exchange), what, int(use_rth), fmt).send_to(client)
            event = wait_event(mailbox, "head_timestamp", seen)
            seen.remove(event)
            assert event[:3] == ("head_timestamp", 1, req_id)
            epoch = parse_head(event[3], contract.time_zone)
            expected = sim.call(lambda: sim_head(sim.server.universe.by_con_id(contract.con_id), use_rth, what, 2))
            assert epoch == int(expected)
            CancelHeadTimestamp(req_id).send_to(client)
        assert not [e for e in seen if e[0] == "error" and e[3] not in (2104, 2106, 2158)]
    finally:
        client.close_now()
        thread.join(DEADLINE_S)
        sim.stop()
