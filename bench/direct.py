"""What a user would do without the bridge: the official ibapi EClient/EWrapper in their own process.

One connection; each request waits on a threading.Event set by historicalDataEnd (or by an error), never on a sleep.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.wrapper import EWrapper

NOTICES = {2104, 2106, 2107, 2108, 2158, 2174}  # farm status and time-zone warnings: not an answer


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    bars: list[Any] = field(default_factory=list)
    error: tuple[int, str] | None = None


class DirectClient(EWrapper, EClient):
    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, port: int, client_id: int, timeout: float = 10.0) -> DirectClient:
        self.connect("127.0.0.1", port, client_id)
        if not self.isConnected():
            raise ConnectionError(f"direct ibapi client could not connect to 127.0.0.1:{port}")
        self._thread = threading.Thread(target=self.run, name="direct-ibapi", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ConnectionError("direct ibapi client: no nextValidId")
        return self

    def stop(self) -> None:
        self.disconnect()
        if self._thread is not None:
            self._thread.join(10)

    def history(self, symbol: str, end: str, duration: str, bar_size: str, use_rth: bool = True,
                what: str = "TRADES", timeout: float = 60.0) -> list[Any]:
        """reqHistoricalData and wait for its end; the bars as ibapi's BarData objects."""
        contract = Contract()
        contract.symbol, contract.secType, contract.exchange, contract.currency = symbol, "STK", "SMART", "USD"
        req_id = next(self._ids)
        pending = self._pending[req_id] = _Pending()
        # formatDate 2 (epoch seconds), as the bridge asks: the same request upstream.
        self.reqHistoricalData(req_id, contract, end, duration, bar_size, what, int(use_rth), 2, False, [])
        if not pending.done.wait(timeout):
            self._pending.pop(req_id, None)
            raise TimeoutError(f"direct reqId {req_id}: no answer within {timeout} s")
        del self._pending[req_id]
        if pending.error is not None:
            raise RuntimeError(f"direct reqId {req_id}: TWS error {pending.error[0]}: {pending.error[1]}")
        return pending.bars

    # ---- callbacks (ibapi's names) ----------------------------------------------------------------------------

    def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803
        self._ready.set()

    def historicalData(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        pending = self._pending.get(reqId)
        if pending is not None:
            pending.bars.append(bar)

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:  # noqa: N802, N803
        pending = self._pending.get(reqId)
        if pending is not None:
            pending.done.set()

    def error(self, reqId: int, *args: Any) -> None:  # noqa: N803
        # 9.81: (errorCode, errorString); 10.x: (errorTime, errorCode, errorString, advancedOrderRejectJson)
        code, message = (args[1], args[2]) if len(args) >= 3 else (args[0], args[1])
        pending = self._pending.get(reqId)
        if pending is None or code in NOTICES:
            return
        pending.error = (int(code), str(message))
        pending.done.set()
