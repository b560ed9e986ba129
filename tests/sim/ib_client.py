"""The official `ibapi` client, unmodified, with every callback the simulator serves recorded in order.

Tests drive the simulator through this exactly as a user's program would: EClient.connect, then EClient.run in a
thread. The 9.81 and 10.x clients differ in a few callbacks (error's arguments, BarData's wap/average and volume
type); this records both in one shape so a test reads the same under either client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibapi.server_versions as server_versions
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.wrapper import EWrapper

from sim.harness import SimulatedTws
from sim.options import SimOptions

IS_V10 = hasattr(server_versions, "MIN_SERVER_VER_PROTOBUF")
CLIENT_MAX_VERSION = server_versions.MAX_CLIENT_VER
DEADLINE_S = 10.0


@dataclass(frozen=True)
class Event:
    name: str
    req_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def _bar(bar: Any) -> dict[str, Any]:
    wap = getattr(bar, "wap", None)
    if wap is None:
        wap = bar.average
    # volume as the client decoded it: int from 9.81, Decimal from 10.x (fractional for crypto from version 163)
    return {"date": bar.date, "open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close,
            "volume": bar.volume, "wap": float(wap), "count": bar.barCount}


def stock(symbol: str, exchange: str = "SMART", currency: str = "USD", sec_type: str = "STK") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, sec_type, exchange, currency
    return c


class RecordingClient(EWrapper, EClient):
    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self._run_thread: threading.Thread | None = None

    # ---- connection -------------------------------------------------------------------------------------------

    def start(self, port: int, client_id: int, host: str = "127.0.0.1",
              timeout: float = DEADLINE_S, refused: bool = False) -> RecordingClient:
        """Connect (with a deadline: a silent TWS makes connect() hang) and run the reader loop in a thread.

        `refused=True` expects TWS to answer the handshake and then close (326): the loop still runs, to deliver
        what TWS said before closing.
        """
        connector = threading.Thread(target=self._connect, args=(host, port, client_id), daemon=True)
        connector.start()
        connector.join(timeout)
        if connector.is_alive() or not (self.isConnected() or (refused and self.serverVersion())):
            self.disconnect()  # releases a connect() stuck waiting for the handshake reply
            connector.join(DEADLINE_S)
            raise ConnectionError(f"could not connect to {host}:{port}")
        self._run_thread = threading.Thread(target=self.run, name=f"ibapi-run-{client_id}", daemon=True)
        self._run_thread.start()
        return self

    def _connect(self, host: str, port: int, client_id: int) -> None:
        try:
            self.connect(host, port, client_id)
        except AttributeError:
            pass  # ibapi's connect() trips over its own closed socket when disconnect() ends a hung handshake

    def stop(self) -> None:
        self.disconnect()
        if self._run_thread is not None:
            self._run_thread.join(DEADLINE_S)

    # ---- waiting ----------------------------------------------------------------------------------------------

    def _record(self, name: str, req_id: int | None = None, **data: Any) -> None:
        with self._cond:
            self.events.append(Event(name, req_id, data))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Event]], Any], timeout: float = DEADLINE_S) -> Any:
        """Wait until predicate(events) is truthy and return its value; fail at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.events)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"condition not met within {timeout} s; events: {self.events[-10:]}")
                self._cond.wait(left)

    def named(self, name: str, req_id: int | None = None) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e.name == name and (req_id is None or e.req_id == req_id)]

    def wait_event(self, name: str, req_id: int | None = None, timeout: float = DEADLINE_S) -> Event:
        return self.wait_for(lambda ev: next((e for e in ev if e.name == name and
                                              (req_id is None or e.req_id == req_id)), None), timeout)

    def wait_error(self, req_id: int, timeout: float = DEADLINE_S) -> Event:
        return self.wait_event("error", req_id, timeout)

    def history(self, req_id: int, timeout: float = DEADLINE_S) -> tuple[list[dict[str, Any]], Event]:
        """Wait for historicalDataEnd (or an error) and return the bars and the end event."""
        end = self.wait_for(lambda ev: next((e for e in ev if e.req_id == req_id and
                                             e.name in ("historicalDataEnd", "error") and
                                             (e.name != "error" or e.data["code"] != 2174)), None), timeout)
        if end.name == "error":
            raise AssertionError(f"reqId {req_id}: error {end.data}")
        return [e.data for e in self.named("historicalData", req_id)], end

    # ---- callbacks --------------------------------------------------------------------------------------------

    def error(self, reqId: int, *args: Any) -> None:  # noqa: N803 - ibapi's names
        if len(args) >= 3:  # 10.x: (errorTime, errorCode, errorString, advancedOrderRejectJson="")
            error_time, code, message = args[0], args[1], args[2]
            advanced = args[3] if len(args) > 3 else ""
        else:  # 9.81: (errorCode, errorString)
            error_time, (code, message), advanced = None, args, ""
        self._record("error", reqId, code=code, message=message, time=error_time, advanced=advanced)

    def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803
        self._record("nextValidId", None, order_id=orderId)

    def managedAccounts(self, accountsList: str) -> None:  # noqa: N802, N803
        self._record("managedAccounts", None, accounts=accountsList)

    def currentTime(self, time: int) -> None:  # noqa: N802
        self._record("currentTime", None, time=time)

    def contractDetails(self, reqId: int, contractDetails: Any) -> None:  # noqa: N802, N803
        c = contractDetails.contract
        self._record("contractDetails", reqId, con_id=c.conId, symbol=c.symbol, sec_type=c.secType,
                     exchange=c.exchange, primary_exchange=c.primaryExchange, currency=c.currency,
                     local_symbol=c.localSymbol, trading_class=c.tradingClass, min_tick=contractDetails.minTick,
                     long_name=contractDetails.longName, time_zone=contractDetails.timeZoneId,
                     last_trade_date=c.lastTradeDateOrContractMonth, multiplier=c.multiplier,
                     market_name=contractDetails.marketName, valid_exchanges=contractDetails.validExchanges,
                     trading_hours=contractDetails.tradingHours, liquid_hours=contractDetails.liquidHours,
                     contract_month=contractDetails.contractMonth, strike=c.strike, right=c.right,
                     under_con_id=contractDetails.underConId, include_expired=c.includeExpired,
                     # size rules exist in 10.x only, and are sent from server version 164
                     min_size=getattr(contractDetails, "minSize", None),
                     size_increment=getattr(contractDetails, "sizeIncrement", None),
                     suggested_size_increment=getattr(contractDetails, "suggestedSizeIncrement", None))

    def symbolSamples(self, reqId: int, contractDescriptions: Any) -> None:  # noqa: N802, N803
        self._record("symbolSamples", reqId, matches=[
            {"con_id": d.contract.conId, "symbol": d.contract.symbol, "sec_type": d.contract.secType,
             "primary_exchange": d.contract.primaryExchange, "currency": d.contract.currency,
             "derivative_sec_types": list(d.derivativeSecTypes)} for d in contractDescriptions])

    def contractDetailsEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._record("contractDetailsEnd", reqId)

    def historicalData(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self._record("historicalData", reqId, **_bar(bar))

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:  # noqa: N802, N803
        self._record("historicalDataEnd", reqId, start=start, end=end)

    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self._record("historicalDataUpdate", reqId, **_bar(bar))

    def headTimestamp(self, reqId: int, headTimestamp: str) -> None:  # noqa: N802, N803
        self._record("headTimestamp", reqId, timestamp=headTimestamp)

    def connectionClosed(self) -> None:  # noqa: N802
        self._record("connectionClosed", None)

    # the end markers of the start-up requests other client libraries send (an empty account: nothing before them)

    def positionEnd(self) -> None:  # noqa: N802
        self._record("positionEnd", None)

    def openOrderEnd(self) -> None:  # noqa: N802
        self._record("openOrderEnd", None)

    def completedOrdersEnd(self) -> None:  # noqa: N802
        self._record("completedOrdersEnd", None)

    def execDetailsEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._record("execDetailsEnd", reqId)

    def accountDownloadEnd(self, accountName: str) -> None:  # noqa: N802, N803
        self._record("accountDownloadEnd", None, account=accountName)

    def accountSummaryEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._record("accountSummaryEnd", reqId)

    def positionMultiEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._record("positionMultiEnd", reqId)

    def accountUpdateMultiEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._record("accountUpdateMultiEnd", reqId)


@contextmanager
def client_of_frozen_sim(options: SimOptions, now: float, client_id: int = 1) -> Iterator[RecordingClient]:
    """An in-process simulator with its clock frozen at `now`, and the official client connected to it (past the
    farm notices, 2158: the handshake is done)."""
    sim = SimulatedTws(options)
    sim.clock.freeze(now)
    sim.start()
    client = RecordingClient()
    try:
        client.start(sim.port, client_id, sim.host)
        client.wait_for(lambda ev: any(e.name == "error" and e.data["code"] == 2158 for e in ev))
        yield client
    finally:
        client.stop()
        sim.stop()
