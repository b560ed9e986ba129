"""The worker service routes the contract look-ups: "contracts" and "symbol_search" reach TWS through the real
client's send code, their answers come back by reqId, a repeat is answered from the cache, and while TWS is not
connected both answer 503 at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ibapi.client import EClient

from shared.errors import ErrorCode
from tests.waiting import wait_until
from tests.worker.test_service import GoneSocket, RunningService
from worker.tws.client import TwsClient

# an expiry far ahead of any clock: the listing stays valid (one whose expiry has passed is asked for again)
ESH9 = {"con_id": 620990320, "symbol": "ES", "sec_type": "FUT", "local_symbol": "ESH9", "last_trade_date": "20990320",
        "strike": 0.0, "right": "", "multiplier": "50", "exchange": "CME", "primary_exchange": "", "currency": "USD",
        "trading_class": "ES", "long_name": "E-mini S&P 500", "time_zone": "US/Central", "trading_hours": "",
        "liquid_hours": "", "min_tick": 0.25}
AAPL = {"con_id": 265598, "symbol": "AAPL", "sec_type": "STK", "primary_exchange": "NASDAQ", "currency": "USD",
        "derivative_sec_types": ["OPT"]}


class AnsweringClient(TwsClient):
    """The real TwsClient over a socket that only records; look-ups are answered at once, as TWS would."""

    asked: ClassVar[list[tuple[str, Any]]] = []

    def run_connection(self, host: str, port: int, client_id: int) -> None:
        self.conn = GoneSocket()
        self.serverVersion_ = 157
        self.setConnState(EClient.CONNECTED)
        self._post("handshake", 157)
        self._post("ready", 1)

    def close_now(self) -> None:
        self.setConnState(EClient.DISCONNECTED)
        self._post("closed")

    def reqContractDetails(self, reqId: int, contract: Any) -> None:  # noqa: N802, N803
        self.asked.append(("reqContractDetails", contract.symbol))
        if contract.symbol == "ES":
            self._post("contract_details", reqId, dict(ESH9))
        self._post("contract_details_end", reqId)

    def reqMatchingSymbols(self, reqId: int, pattern: str) -> None:  # noqa: N802, N803
        self.asked.append(("reqMatchingSymbols", pattern))
        self._post("symbol_samples", reqId, [dict(AAPL)])


class NeverConnects(TwsClient):
    def run_connection(self, host: str, port: int, client_id: int) -> None:
        self._post("closed")


def test_both_lookups_are_answered_by_req_id_and_a_repeat_asks_tws_nothing(tmp_path: Path) -> None:
    AnsweringClient.asked.clear()
    running = RunningService(tmp_path, AnsweringClient)
    try:
        wait_until(lambda: running.health()["connected"], what="connected")
        es = {"symbol": "ES", "sec_type": "FUT", "exchange": "CME"}
        first = running.ask("contracts", es)
        assert first.result == {"contracts": [ESH9]}, first.error
        assert running.ask("contracts", es).result == first.result
        unknown = running.ask("contracts", {"symbol": "NOPE"})
        assert unknown.error is not None and unknown.error.code is ErrorCode.SYMBOL_NOT_FOUND
        found = running.ask("symbol_search", {"q": "aap"})
        assert found.result == {"matches": [AAPL]}, found.error
        assert running.ask("symbol_search", {"q": "AAP"}).result == found.result
        assert AnsweringClient.asked == [("reqContractDetails", "ES"), ("reqContractDetails", "NOPE"),
                                         ("reqMatchingSymbols", "AAP")]
        lookups = running.health()["contract_lookups"]
        assert lookups["contracts"]["hits"] == 1 and lookups["symbol_search"]["hits"] == 1
    finally:
        running.stop()


def test_while_tws_is_not_connected_both_answer_503_at_once(tmp_path: Path) -> None:
    running = RunningService(tmp_path, NeverConnects)
    try:
        for op, body in (("contracts", {"symbol": "ES"}), ("symbol_search", {"q": "AAP"})):
            reply = running.ask(op, body)
            assert reply.error is not None and reply.error.code is ErrorCode.TWS_UNAVAILABLE, (op, reply)
    finally:
        running.stop()
