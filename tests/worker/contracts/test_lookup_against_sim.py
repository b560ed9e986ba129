"""The contract look-up's messages against the simulator, with the installed official client (run under both venvs:
9.81's text messages and 10.x's, protobuf where it expects it): the Contract query_contract builds is matched as
TWS matches it, every contractDetails becomes the bridge's contract object (worker/contracts/contract_json.py) with
the simulator's own values, and reqMatchingSymbols' symbolSamples become the bridge's matches."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.contract_lookup import CONTRACT_KEYS, MATCH_KEYS, ContractQuery
from sim.harness import SimulatedTws
from sim.messages import ContractSpec
from sim.options import SimOptions
from tests.sim.versions import SERVER_VERSIONS
from worker.contracts.lookup import query_contract
from worker.mailbox import Mailbox
from worker.tws.client import TwsClient
from worker.tws.requests import ContractDetailsRequest, MatchingSymbolsRequest

DEADLINE_S = 10.0


class Connected:
    """The official client connected to a simulator, its events read from the mailbox (its fd wakes us)."""

    def __init__(self, sim: SimulatedTws) -> None:
        self.sim = sim
        self.mailbox = Mailbox()
        self.client = TwsClient(self.mailbox, generation=1)
        self.thread = threading.Thread(target=self.client.run_connection, args=(sim.host, sim.port, 5), daemon=True)
        self.thread.start()
        self.seen: list[tuple[Any, ...]] = []
        self.wait_for("ready")

    def wait_for(self, name: str, req_id: int | None = None) -> list[tuple[Any, ...]]:
        """Every event of `req_id` up to and including the first one called `name`."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            mine = [e for e in self.seen if req_id is None or (len(e) > 2 and e[2] == req_id)]
            ends = [n for n, e in enumerate(mine) if e[0] == name]
            if ends:
                taken = mine[: ends[0] + 1]
                self.seen = [e for e in self.seen if e not in taken]
                return taken
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} event within {DEADLINE_S} s; got {[e[0] for e in self.seen]}")
            select.select([self.mailbox.fileno()], [], [], left)
            self.seen.extend(self.mailbox.drain())

    def contracts(self, req_id: int, query: ContractQuery) -> list[dict[str, Any]]:
        ContractDetailsRequest(req_id, query_contract(query)).send_to(self.client)
        events = self.wait_for("contract_details_end", req_id)
        assert not [e for e in events if e[0] == "error"], events
        return [e[3] for e in events if e[0] == "contract_details"]

    def close(self) -> None:
        self.client.close_now()
        self.thread.join(DEADLINE_S)


@pytest.fixture(params=SERVER_VERSIONS)
def tws(request: pytest.FixtureRequest) -> Iterator[Connected]:
    sim = SimulatedTws(SimOptions(port=0, max_version=request.param)).start()
    connected = Connected(sim)
    yield connected
    connected.close()
    sim.stop()


def expected(sim: SimulatedTws, spec: ContractSpec) -> list[dict[str, Any]]:
    """The simulator's own contract details for `spec`, as the bridge's contract objects."""
    def details() -> list[Any]:
        now = sim.server.clock.now()
        return [inst.details(now) for inst in sim.server.universe.match(spec)]
    return [{"con_id": d.con_id, "symbol": d.symbol, "sec_type": d.sec_type, "local_symbol": d.local_symbol,
             "last_trade_date": d.last_trade_date, "multiplier": d.multiplier, "exchange": d.exchange,
             "primary_exchange": d.primary_exchange, "currency": d.currency, "trading_class": d.trading_class,
             "long_name": d.long_name, "time_zone": d.time_zone_id, "min_tick": d.min_tick} for d in sim.call(details)]


def test_every_listed_future_and_a_con_id_come_back_as_contract_objects(tws: Connected) -> None:
    futures = tws.contracts(31, ContractQuery(symbol="ES", sec_type="FUT", exchange="CME"))
    assert len(futures) >= 2
    assert all(tuple(contract) == CONTRACT_KEYS for contract in futures)
    want = expected(tws.sim, ContractSpec(symbol="ES", sec_type="FUT", exchange="CME", currency="USD"))
    assert sorted(({k: c[k] for k in want[0]} for c in futures), key=lambda c: c["con_id"]) == \
        sorted(want, key=lambda c: c["con_id"])
    assert all(c["strike"] == 0.0 and c["right"] == "" and c["trading_hours"] and c["liquid_hours"]
               for c in futures)
    one = futures[-1]
    (by_id,) = tws.contracts(32, ContractQuery(con_id=one["con_id"]))
    assert by_id["con_id"] == one["con_id"] and by_id["local_symbol"] == one["local_symbol"]
    (stock,) = tws.contracts(33, ContractQuery(symbol="AAPL"))
    assert (stock["symbol"], stock["sec_type"], stock["primary_exchange"], stock["min_tick"]) == \
        ("AAPL", "STK", "NASDAQ", 0.01)


def test_symbol_samples_come_back_as_matches(tws: Connected) -> None:
    MatchingSymbolsRequest(41, "AAP").send_to(tws.client)
    (event,) = tws.wait_for("symbol_samples", 41)
    matches = event[3]
    assert 1 <= len(matches) <= 16 and all(tuple(m) == MATCH_KEYS for m in matches)
    aapl = next(m for m in matches if m["symbol"] == "AAPL")
    assert (aapl["con_id"], aapl["sec_type"], aapl["primary_exchange"], aapl["currency"]) == \
        (265598, "STK", "NASDAQ", "USD")
    assert "OPT" in aapl["derivative_sec_types"]
