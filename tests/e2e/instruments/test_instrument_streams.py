"""The stream takes the same contract fields as POST /bars: a future by its expiry and a stock by con_id alone stream
the bars of that contract (its backfill equal to a bars request's), and the kinds TWS keeps no stream of are refused
at the edge. Real gunicorn, the real worker and the simulator (this package's module-scoped fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e.processes import BridgeProcess, http
from tests.e2e.stream_clients import StreamConnection, StreamReaders
from tests.waiting import wait_until

BACKFILL = 6


@pytest.fixture
def readers() -> Iterator[StreamReaders]:
    r = StreamReaders()
    yield r
    r.close()


def backfill(stream: StreamConnection) -> list[dict[str, Any]]:
    wait_until(lambda: stream.ended or len(stream.of_kind("bar")) >= BACKFILL, timeout=30,
               what=f"{BACKFILL} bars on the stream")
    assert not stream.ended, stream.events[-3:]
    return [e.data for e in stream.of_kind("bar")][:BACKFILL]


@pytest.mark.parametrize("fields", [
    {"symbol": "ES", "sec_type": "FUT", "exchange": "CME", "last_trade_date": "20250321"},
    {"con_id": 265598},  # AAPL, named by its conId alone
], ids=["future-by-expiry", "con-id-alone"])
def test_a_contract_named_by_its_fields_streams_that_contracts_bars(bridge: BridgeProcess, readers: StreamReaders,
                                                                    fields: dict[str, Any]) -> None:
    stream = readers.open_bars(bridge.port, period="5m", backfill=BACKFILL, **fields)
    streamed = backfill(stream)
    answer = bridge.bars(**fields, period="5m", duration="1 D")
    assert answer.status == 200, answer.body
    assert streamed == answer.body["bars"][-BACKFILL:], "the stream's backfill is the same contract's bars"


@pytest.mark.parametrize(("query", "field"), [
    ({"symbol": "ES", "sec_type": "CONTFUT", "exchange": "CME"}, "sec_type"),  # TWS keeps no stream of a CONTFUT
    ({"symbol": "AAPL", "what": "BID_ASK"}, "what"),
    ({"symbol": "AAPL", "sec_type": "OPT", "last_trade_date": "20250221", "right": "C"}, "strike"),
    ({"symbol": "ES", "sec_type": "FUT", "exchange": "CME", "last_trade_date": "2025,03"}, "last_trade_date"),
], ids=["contfut", "bid-ask", "option-without-strike", "comma"])
def test_a_stream_tws_would_refuse_is_a_400_naming_its_field(bridge: BridgeProcess, query: dict[str, Any],
                                                            field: str) -> None:
    answer = http("GET", f"{bridge.url}/bars/stream?{urlencode({'period': '5m', **query})}")
    assert answer.status == 400 and answer.body["code"] == "invalid_request", answer.body
    assert field in answer.body["fields"], answer.body
