"""The official ibapi client, unmodified, with every callback the worker uses turned into a mailbox event.

Callbacks run on ibapi's threads; they only copy values into plain tuples and post them, tagged with the connection's
generation so that late events from an old connection are recognised and ignored. Works with ibapi 9.81 and 10.x:
the callbacks that differ (error's arguments, BarData's average/wap, Decimal volume) are normalised here.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

from ibapi.client import EClient
from ibapi.wrapper import EWrapper

from worker.mailbox import Mailbox

log = logging.getLogger("tws.client")


def bar_values(bar: Any) -> tuple[str, float, float, float, float, int, float, int]:
    wap = getattr(bar, "wap", None)
    if wap is None:
        wap = getattr(bar, "average", 0.0)
    return (str(bar.date), float(bar.open), float(bar.high), float(bar.low), float(bar.close), int(bar.volume),
            float(wap), int(bar.barCount))


class TwsClient(EWrapper, EClient):
    """One connection attempt's client; a new one is made for every attempt so no state survives a reconnect."""

    def __init__(self, mailbox: Mailbox, generation: int) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self._mailbox = mailbox
        self.generation = generation
        self._bars: dict[int, list[tuple[str, float, float, float, float, int, float, int]]] = {}

    def _post(self, *event: Any) -> None:
        self._mailbox.put((event[0], self.generation, *event[1:]))

    def run_connection(self, host: str, port: int, client_id: int) -> None:
        """Connect, then run the reader loop until the connection ends (runs on its own thread)."""
        try:
            self.connect(host, port, client_id)
            if self.isConnected():
                self._post("handshake", self.serverVersion())
                self.run()
        except Exception as exc:  # ibapi raises odd things on half-closed sockets
            log.warning("connection thread ended with %s: %s", type(exc).__name__, exc)
        finally:
            self._post("closed")

    def close_now(self) -> None:
        """Close the connection so that TWS sees it closed at once.

        ibapi's disconnect() only close()s the socket; while its reader thread sits in recv() (up to its 1 s socket
        timeout) the kernel keeps the connection open, and a reconnect within that second meets error 326 (client id
        still in use). shutdown() sends the FIN now and wakes the reader.
        """
        sock = getattr(getattr(self, "conn", None), "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.disconnect()

    # ---- callbacks --------------------------------------------------------------------------------------------

    def error(self, reqId: int, *args: Any) -> None:  # noqa: N803 - ibapi's names
        if len(args) >= 3 and not isinstance(args[1], str):  # 10.3x+: (errorTime, code, string, json="")
            code, message = args[1], args[2]
        else:  # 9.81: (code, string); 10.1x-10.2x: (code, string, advancedOrderRejectJson)
            code, message = args[0], args[1]
        self._bars.pop(int(reqId), None)  # an error ends the request: bars gathered so far are dropped
        self._post("error", int(reqId), int(code), str(message))

    def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803
        self._post("ready", int(orderId))

    def currentTime(self, time: int) -> None:  # noqa: N802
        self._post("current_time", int(time))

    def contractDetails(self, reqId: int, contractDetails: Any) -> None:  # noqa: N802, N803
        c = contractDetails.contract
        self._post("contract_details", int(reqId), {
            "con_id": int(c.conId), "symbol": c.symbol, "sec_type": c.secType, "exchange": c.exchange,
            "primary_exchange": c.primaryExchange, "currency": c.currency, "local_symbol": c.localSymbol,
            "trading_class": c.tradingClass, "last_trade_date": c.lastTradeDateOrContractMonth,
            "multiplier": c.multiplier, "time_zone": contractDetails.timeZoneId,
            "long_name": contractDetails.longName, "trading_hours": str(contractDetails.tradingHours or ""),
            "liquid_hours": str(contractDetails.liquidHours or "")})

    def contractDetailsEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._post("contract_details_end", int(reqId))

    def historicalData(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        # gathered here, on the reader's thread, and posted once with the end: one hand-off per answer, not per bar
        self._bars.setdefault(int(reqId), []).append(bar_values(bar))

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:  # noqa: N802, N803
        self._post("bars_end", int(reqId), str(start), str(end), self._bars.pop(int(reqId), []))

    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self._post("bar_update", int(reqId), bar_values(bar))
