"""The official ibapi client, unmodified, with every callback the worker uses turned into a mailbox event.

Callbacks run on ibapi's threads; they only copy values into plain tuples and post them, tagged with the connection's
generation so that late events from an old connection are recognised and ignored. Works with ibapi 9.81 and 10.x:
the callbacks that differ (error's arguments, BarData's average/wap, Decimal volume) are normalised here. ibapi's
decoder is replaced by the guarded one (worker/tws/decoder.py) once connected, so a message it cannot decode, or a
callback of ours that fails, ends that message's request, never the run loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
from decimal import Decimal
from typing import Any

from ibapi.client import EClient
from ibapi.wrapper import EWrapper

from worker.contracts.contract_json import contract_json, match_json
from worker.mailbox import Mailbox
from worker.tws.decoder import GuardedDecoder, Undecodable, UnreadableValue, guarded_callback

log = logging.getLogger("tws.client")

Number = int | float
BarValues = tuple[str, float, float, float, float, Number, Number, int]
MAX_SIZE = 2**63  # TWS's largest size field (a long); beyond it the value is no size
UNSET_DECIMAL = Decimal(2**127 - 1)  # 10.x's "no value" (ibapi.const.UNSET_DECIMAL), e.g. a size TWS left empty


def tws_number(value: Any, name: str) -> Number:
    """A size or wap as TWS sent it. 10.x delivers Decimals (fractional shares, crypto, FX sizes): an integer stays
    an integer, a fraction becomes its value as a double (what every JSON client reads; exact to 15 significant
    digits), 10.x's unset value is IB's -1. 9.81 already gives int sizes and float waps: kept as they are."""
    if isinstance(value, Decimal):
        if value == UNSET_DECIMAL:
            return -1
        if value.is_finite() and abs(value) < MAX_SIZE:
            return int(value) if int(value.as_tuple().exponent) >= 0 else float(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    elif isinstance(value, float) and math.isfinite(value):
        return value
    raise UnreadableValue(f"{name} {value!r} is not a finite number")


def tws_price(value: Any, name: str) -> float:
    price = float(value)
    if not math.isfinite(price):
        raise UnreadableValue(f"{name} {value!r} is not a finite number")
    return price


def bar_values(bar: Any) -> BarValues:
    wap = getattr(bar, "wap", None)
    if wap is None:
        wap = getattr(bar, "average", 0.0)
    return (str(bar.date), tws_price(bar.open, "open"), tws_price(bar.high, "high"), tws_price(bar.low, "low"),
            tws_price(bar.close, "close"), tws_number(bar.volume, "volume"), tws_number(wap, "wap"),
            int(bar.barCount))


class TwsClient(EWrapper, EClient):
    """One connection attempt's client; a new one is made for every attempt so no state survives a reconnect."""

    def __init__(self, mailbox: Mailbox, generation: int) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self._mailbox = mailbox
        self.generation = generation
        self._bars: dict[int, list[BarValues]] = {}

    def _post(self, *event: Any) -> None:
        self._mailbox.put((event[0], self.generation, *event[1:]))

    def run_connection(self, host: str, port: int, client_id: int) -> None:
        """Connect, then run the reader loop until the connection ends (runs on its own thread)."""
        try:
            self.connect(host, port, client_id)
            if self.isConnected():
                # nothing is decoded before run(): every message after the handshake passes the guarded decoder
                self.decoder = GuardedDecoder(self, self.serverVersion(), self._undecodable)
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

    def _undecodable(self, report: Undecodable) -> None:
        """On the reader's thread, from the guarded decoder: the request's bars so far are void; the owner decides."""
        if report.req_id is not None:
            self._bars.pop(report.req_id, None)
        self._post("undecodable", report)

    # ---- callbacks (each guarded: an exception in one is reported as ours and never ends the run loop) ----------

    @guarded_callback
    def error(self, reqId: int, *args: Any) -> None:  # noqa: N803 - ibapi's names
        if len(args) >= 3 and not isinstance(args[1], str):  # 10.3x+: (errorTime, code, string, json="")
            code, message = args[1], args[2]
        else:  # 9.81: (code, string); 10.1x-10.2x: (code, string, advancedOrderRejectJson)
            code, message = args[0], args[1]
        self._bars.pop(int(reqId), None)  # an error ends the request: bars gathered so far are dropped
        self._post("error", int(reqId), int(code), str(message))

    @guarded_callback
    def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803
        self._post("ready", int(orderId))

    @guarded_callback
    def currentTime(self, time: int) -> None:  # noqa: N802
        self._post("current_time", int(time))

    @guarded_callback
    def contractDetails(self, reqId: int, contractDetails: Any) -> None:  # noqa: N802, N803
        self._post("contract_details", int(reqId), contract_json(contractDetails))

    @guarded_callback
    def contractDetailsEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self._post("contract_details_end", int(reqId))

    @guarded_callback
    def symbolSamples(self, reqId: int, contractDescriptions: Any) -> None:  # noqa: N802, N803
        self._post("symbol_samples", int(reqId), [match_json(d) for d in contractDescriptions or []])

    @guarded_callback
    def historicalData(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        # gathered here, on the reader's thread, and posted once with the end: one hand-off per answer, not per bar
        self._bars.setdefault(int(reqId), []).append(bar_values(bar))

    @guarded_callback
    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:  # noqa: N802, N803
        self._post("bars_end", int(reqId), str(start), str(end), self._bars.pop(int(reqId), []))

    @guarded_callback
    def headTimestamp(self, reqId: int, headTimestamp: str) -> None:  # noqa: N802, N803
        self._post("head_timestamp", int(reqId), str(headTimestamp))

    @guarded_callback
    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self._post("bar_update", int(reqId), bar_values(bar))
