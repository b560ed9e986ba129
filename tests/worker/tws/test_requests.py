"""Nothing in worker/ can send TWS a message except through the outbox: the only calls of ibapi's send methods are in
worker/tws/requests.py (and EClient.connect in worker/tws/client.py, whose two messages the connection manager takes
from the budget), and only the outbox hands a message the client. Proved by reading every worker module's syntax tree
against the installed ibapi's own list of methods that send."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract

from worker.tws.requests import (
    CancelHeadTimestamp,
    CancelHistoricalData,
    ContractDetailsRequest,
    CurrentTimeRequest,
    HeadTimestampRequest,
    HistoricalDataRequest,
    MarketDataTypeRequest,
    MatchingSymbolsRequest,
    ends_only_now,
)

WORKER = Path(__file__).resolve().parents[3] / "worker"
# every EClient method that writes to the socket, as this ibapi version has them (77 in 9.81, 160-odd in 10.x)
SENDING = frozenset(name for name, f in vars(EClient).items()
                    if inspect.isfunction(f) and "sendMsg" in inspect.getsource(f))
ALLOWED = {
    "tws/requests.py": {"reqHistoricalData", "cancelHistoricalData", "reqContractDetails", "reqCurrentTime",
                        "reqMarketDataType", "reqHeadTimeStamp", "cancelHeadTimeStamp", "reqMatchingSymbols"},
    "tws/client.py": {"connect"},  # the version handshake and startApi: CONNECT_MESSAGES in the connection manager
}

NOT_IBAPI = {"sqlite3"}  # modules with a method of the same name (sqlite3.connect): a call on them sends TWS nothing


def calls(module: Path, names: frozenset[str] | set[str]) -> set[str]:
    """Names from `names` that `module` calls as a method, or looks up by name (getattr(client, "reqX"))."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in names:
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id in NOT_IBAPI:
                continue
            found.add(node.func.attr)
        elif isinstance(node.func, ast.Name) and node.func.id == "getattr":
            found.update(arg.value for arg in node.args
                         if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value in names)
    return found


def test_the_list_of_sending_methods_is_ibapis_own() -> None:
    assert {"reqHistoricalData", "cancelHistoricalData", "reqContractDetails", "reqCurrentTime", "reqMarketDataType",
            "connect", "startApi", "sendMsg", "placeOrder"} <= SENDING
    assert "disconnect" not in SENDING and "isConnected" not in SENDING


def test_no_worker_module_but_tws_requests_calls_an_ibapi_send_method() -> None:
    modules = sorted(WORKER.rglob("*.py"))
    assert len(modules) > 15
    used = {module.relative_to(WORKER).as_posix(): found for module in modules if (found := calls(module, SENDING))}
    assert used == ALLOWED


def test_only_the_outbox_hands_a_message_the_client() -> None:
    used = {module.relative_to(WORKER).as_posix() for module in WORKER.rglob("*.py") if calls(module, {"send_to"})}
    assert used == {"tws/outbox.py"}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:  # any ibapi method
        return lambda *args: self.calls.append((name, args))


def test_each_message_sends_exactly_its_one_ibapi_call() -> None:
    contract = Contract()
    client = Recorder()
    for message in (HistoricalDataRequest(7, contract, "", "1 D", "5 mins", "TRADES", 1, 2, False),
                    CancelHistoricalData(7), ContractDetailsRequest(8, contract), CurrentTimeRequest(),
                    MarketDataTypeRequest(2), HeadTimestampRequest(9, contract, "TRADES", 1),
                    CancelHeadTimestamp(9), MatchingSymbolsRequest(10, "APP")):
        message.send_to(client)
    assert client.calls == [
        ("reqHistoricalData", (7, contract, "", "1 D", "5 mins", "TRADES", 1, 2, False, [])),
        ("cancelHistoricalData", (7,)), ("reqContractDetails", (8, contract)), ("reqCurrentTime", ()),
        ("reqMarketDataType", (2,)), ("reqHeadTimeStamp", (9, contract, "TRADES", 1, 2)),
        ("cancelHeadTimeStamp", (9,)), ("reqMatchingSymbols", (10, "APP")),
    ]


def _contract(sec_type: str) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "ES", sec_type, "CME", "USD"
    return c


@pytest.mark.parametrize(("sec_type", "what"), [("CONTFUT", "TRADES"), ("STK", "ADJUSTED_LAST"),
                                                ("CONTFUT", "ADJUSTED_LAST")])
def test_a_historical_request_with_an_end_tws_refuses_cannot_be_built(sec_type: str, what: str) -> None:
    """IB: 10339 "Set historical data query end date/time to null for continuous future"; ADJUSTED_LAST needs an
    empty end too. The bridge never builds such a message, let alone sends it."""
    with pytest.raises(ValueError, match="end date"):
        HistoricalDataRequest(1, _contract(sec_type), "20250124-21:00:00", "1 D", "1 min", what, 1, 2, False)
    assert ends_only_now(sec_type, what)
    HistoricalDataRequest(1, _contract(sec_type), "", "1 D", "1 min", what, 1, 2, False)  # with no end: fine


@pytest.mark.parametrize(("sec_type", "what"), [("CONTFUT", "TRADES"), ("STK", "BID_ASK"), ("STK", "ADJUSTED_LAST"),
                                                ("STK", "HISTORICAL_VOLATILITY"), ("STK", "OPTION_IMPLIED_VOLATILITY")])
def test_keep_up_to_date_cannot_be_built_for_a_series_tws_keeps_no_stream_of(sec_type: str, what: str) -> None:
    with pytest.raises(ValueError, match="up to date"):
        HistoricalDataRequest(1, _contract(sec_type), "", "1 D", "1 min", what, 1, 2, True)


@pytest.mark.parametrize("what", ["TRADES", "MIDPOINT", "BID", "ASK"])
def test_keep_up_to_date_is_built_for_the_four_kinds_ib_streams(what: str) -> None:
    assert HistoricalDataRequest(1, _contract("FUT"), "", "1 D", "1 min", what, 1, 2, True).keep_up_to_date
