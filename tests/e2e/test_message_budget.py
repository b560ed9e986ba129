"""No input makes the bridge flood TWS: unknown symbols from 64 concurrent clients stay under TWS's 50 messages a
second, and an unknown symbol is looked up once per BRIDGE_CONTRACT_NOT_FOUND_TTL however hard it is hammered.

Real gunicorn (2 HTTP workers, 64 threads each), the real TWS worker, and `python -m sim` with its message-rate limit
ON (error 100 past 50 messages a second per connection). Every message the simulator received carries its real
arrival time (`wall`): every 1-second window of the whole run is measured."""

from __future__ import annotations

import itertools
import json
import random
import string
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.processes import ROOT, Answer

PAST = "20250127 16:00:00"
KNOWN = {i["symbol"] for i in json.loads((ROOT / "sim/data/instruments.json").read_text())["instruments"]}


def unknown_symbols(n: int) -> list[str]:
    rng = random.Random(8)  # the same 1,000 symbols in every run
    symbols: set[str] = set()
    while len(symbols) < n:
        symbol = "Q" + "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 6)))
        if symbol not in KNOWN:
            symbols.add(symbol)
    return sorted(symbols)


def busiest_second(received: list[dict[str, Any]]) -> int:
    """The most messages in any 1-second window [t, t + 1) that starts at a message."""
    times = sorted(r["wall"] for r in received)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def rate_errors(tws) -> list[dict[str, Any]]:
    return [e for e in tws.control("errors") if e["code"] == 100]


def test_1000_random_unknown_symbols_from_64_clients_stay_under_50_messages_a_second(make_tws, make_bridge):
    tws = make_tws(extra=("--max-message-rate", "50")).start()
    bridge = make_bridge(tws.port)
    symbols = unknown_symbols(1000)

    def call(symbol: str) -> Answer:
        return bridge.bars(symbol=symbol, end_datetime=PAST)

    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(call, symbols))
    took = time.monotonic() - started
    statuses = [a.status for a in answers]
    not_found, limited = statuses.count(404), statuses.count(429)
    print(f"\n1,000 unknown symbols, 64 clients: {not_found} x 404, {limited} x 429 in {took:.1f} s")
    assert not_found + limited == 1000, sorted(set(statuses))
    assert all(a.body["code"] == "symbol_not_found" for a in answers if a.status == 404)
    assert all(a.body["code"] == "pacing_limited" and float(a.headers["Retry-After"]) >= 1
               for a in answers if a.status == 429)
    received = tws.received()
    lookups = [r for r in received if r["name"] == "RequestContractDetails"]
    assert len(lookups) == not_found, "one lookup per symbol answered 404; none for a 429"
    most = busiest_second(received)
    print(f"{len(received)} messages to the simulator, at most {most} in any 1-second window")
    assert most <= 50
    assert rate_errors(tws) == []
    budget = bridge.get("/health").body["worker"]["message_budget"]
    assert budget["refused"] == limited and budget["max_per_second"] == 40 and budget["burst"] == 8


def test_one_unknown_symbol_hammered_by_64_clients_is_looked_up_once_per_ttl(make_tws, make_bridge):
    tws = make_tws(extra=("--max-message-rate", "50")).start()
    ttl = 2.0
    bridge = make_bridge(tws.port, BRIDGE_CONTRACT_NOT_FOUND_TTL=str(ttl))
    run_for = 5.0

    def hammer(_: int) -> list[int]:
        statuses: list[int] = []
        end = time.monotonic() + run_for
        while time.monotonic() < end and len(statuses) < 200:  # bounded: at most 12,800 requests in all
            statuses.append(bridge.bars(symbol="QZZZZ", end_datetime=PAST).status)
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        statuses = [s for client in pool.map(hammer, range(64)) for s in client]
    took = time.monotonic() - started
    lookups = sorted(r["wall"] for r in tws.received("RequestContractDetails")
                     if r["fields"]["contract"]["symbol"] == "QZZZZ")
    print(f"\n{len(statuses)} requests for one unknown symbol in {took:.1f} s: {len(lookups)} lookups (TTL {ttl} s)")
    assert set(statuses) == {404}
    assert 2 <= len(lookups) <= took / ttl + 1
    assert all(b - a >= ttl for a, b in itertools.pairwise(lookups)), lookups
    contracts = bridge.get("/health").body["worker"]["contracts"]
    assert contracts["not_found_hits"] >= len(statuses) - 64 * len(lookups)
    assert rate_errors(tws) == []
