"""The one way out to TWS: every message the worker sends waits in this outbox's one line, under one message budget.

Nothing else in worker/ holds the client for sending (the connection manager holds it to connect and close). So no
input can make the worker flood TWS, and IB's two kinds of limits are kept at the single moment a message leaves:

- TWS's message rate: every message takes a token from the budget (worker/tws/message_budget.py), 40 a second with a
  burst of 8 by default; the two messages ibapi sends by itself at connect take theirs in the connection manager.
- IB's historical pacing rules are a rule of this line, not a queue of their own: a historical request leaves when
  the rules (worker/tws/pacing.py) allow it now AND its token is there, and the rules record it in that same step, just
  before the bytes go (the ledger is written first). A request is never stamped while it still waits for a token.
- Order: control messages (cancelHistoricalData, reqCurrentTime, reqMarketDataType) go first, still inside the budget,
  and are never refused (a cancel frees one of IB's 50 open slots); they are dropped only with the connection, which
  makes TWS forget every request anyway. Requests follow in arrival order; one held by pacing does not hold those
  behind it, and none takes a token before one that came earlier.
- A request that cannot have its token (or its pacing turn) before its deadline is refused at once with 429
  `pacing_limited` and Retry-After, never sent late; one still waiting at its deadline (the open-request limit) too.
- Any exception from an ibapi send call means the connection is gone (9.81 raises BrokenPipeError, say; 10.x reports
  it through error() with a FAIL_SEND code, see worker/tws/errors.py): the connection manager drops the connection,
  which fails every request in flight, the one being sent included, with 503 `tws_unavailable`, and reconnects.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared.errors import BridgeError, ErrorCode
from worker.timers import Timer, Timers
from worker.tws.message_budget import MessageBudget
from worker.tws.pacing import PacingKey, PacingRules
from worker.tws.requests import TwsRequest, request_kind

log = logging.getLogger("tws.outbox")

Fail = Callable[[BridgeError], None]


class Connection(Protocol):
    """What the outbox needs of the connection manager."""

    client: Any

    @property
    def connected(self) -> bool: ...
    @property
    def usable(self) -> bool: ...  # connected, and IB reachable behind TWS: new requests may go
    def drop(self, reason: str) -> None: ...


@dataclass(eq=False)
class _Queued:
    prepare: Callable[[], TwsRequest]  # called at the moment of sending; builds the message (reqId, timers)
    deadline: float
    fail: Fail
    pacing: PacingKey | None
    timer: Timer | None = None
    gone: bool = False  # sent, refused or withdrawn


class Outbox:
    def __init__(self, budget: MessageBudget, pacing: PacingRules, timers: Timers, connection: Connection,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._budget = budget
        self._pacing = pacing
        self._timers = timers
        self._connection = connection
        self._clock = clock
        self._control: deque[TwsRequest] = deque()
        self._line: list[_Queued] = []
        self._wakeup: Timer | None = None
        self._pumping = False
        self._again = False
        self.sent = 0
        self.sent_by_kind: dict[str, int] = {}  # "historical", "live_subscription", "head_timestamp", ... (metrics)
        self.send_failures = 0
        self.waited = 0  # requests that could not go at once
        self.refused = 0  # refused because their token would come after their deadline
        self.pacing_waited = 0  # historical requests held by IB's pacing rules
        self.pacing_refused = 0

    # ---- what others hand in ----------------------------------------------------------------------------------

    def send(self, message: TwsRequest) -> None:
        """A control message: first in line, waits for its token, never refused."""
        if self._connection.connected:
            self._control.append(message)
            self.pump()

    def request(self, prepare: Callable[[], TwsRequest], deadline: float, fail: Fail,
                pacing: PacingKey | None = None) -> object:
        """Send `prepare()`'s message when its turn, its token and (with `pacing`) IB's pacing rules allow, or call
        `fail` (429 when that would be after `deadline`, 503 when the connection is not usable then). Returns a
        ticket for `withdraw`."""
        item = _Queued(prepare, deadline, fail, pacing)
        self._line.append(item)
        self.pump()
        if not item.gone:
            self.waited += 1
            if pacing is not None:
                self.pacing_waited += 1
            item.timer = self._timers.call_later(deadline - self._clock(), lambda: self._expire(item))
        return item

    def withdraw(self, ticket: object) -> bool:
        """Take a waiting request out of the line; False when it already went (or failed)."""
        if not isinstance(ticket, _Queued) or ticket.gone:
            return False
        self._remove(ticket)
        return True

    def connection_lost(self) -> None:
        """TWS forgot every request with the connection: control messages are dropped; requests still in line (their
        owners normally withdrew them already) fail as unavailable."""
        self._control.clear()
        error = BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS connection lost", retry_after=1.0)
        for item in list(self._line):
            self._remove(item)
            item.fail(error)

    # ---- the line ---------------------------------------------------------------------------------------------

    def pump(self) -> None:
        """Send what may go now; refuse what cannot go before its deadline; wake up when the next may go."""
        if self._pumping:  # called back from a send or a refusal: the running pump goes round once more
            self._again = True
            return
        self._pumping = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._pump_once()
        finally:
            self._pumping = False

    def _pump_once(self) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        now = self._clock()
        next_time: float | None = None
        while self._control:
            if not self._connection.connected:
                self._control.clear()
                break
            if not self._budget.try_take():
                next_time = now + self._budget.wait_for(1)
                break
            if not self._transmit(self._control.popleft()):
                return
        ahead = len(self._control)  # tokens owed to messages in front of the line
        for item in list(self._line):
            if item.gone:
                continue
            if item.pacing is not None and self._pacing.open_full():
                continue  # waits for a request to close (pump runs again then), or for its deadline
            if now >= item.deadline:  # nobody waits for it any more: never send it
                self._expire(item)
                continue
            when = now if item.pacing is None else self._pacing.earliest(item.pacing, now)
            if when > item.deadline:
                self._refuse(item, when - now, "IB's pacing rules allow this request in {:.1f} s", pacing=True)
                continue
            if when > now:
                next_time = when if next_time is None else min(next_time, when)
                continue
            if not self._connection.usable:
                self._remove(item)
                item.fail(BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS is not connected", retry_after=1.0))
                continue
            if ahead == 0 and self._budget.try_take():
                self._remove(item)
                if item.pacing is not None:  # stamped now, as it leaves; the ledger is written before it goes
                    self._pacing.record(item.pacing, self._clock())
                if not self._transmit(item.prepare()):
                    return
                continue
            token_at = now + self._budget.wait_for(ahead + 1)
            if token_at > item.deadline:
                self._refuse(item, token_at - now, f"TWS allows {self._budget.rate:g} messages a second: this "
                             "request could be sent in {:.1f} s")
                continue
            ahead += 1
            next_time = token_at if next_time is None else min(next_time, token_at)
        if next_time is not None:
            self._wakeup = self._timers.call_later(next_time - now, self.pump)

    def _transmit(self, message: TwsRequest) -> bool:
        """Send one message (its token is taken). False when the send failed and the connection was dropped."""
        client = self._connection.client
        try:
            message.send_to(client)
        except Exception as exc:  # any failure to send is a lost connection, never a 500 (issue 8 item 12)
            self.send_failures += 1
            reason = f"sending {message.name} failed: {type(exc).__name__}: {exc}"
            log.warning("%s; the connection is treated as lost", reason)
            self._connection.drop(reason)
            self._again = True  # the rest of the line fails now as unavailable, not at its deadline
            return False
        self.sent += 1
        kind = request_kind(message)
        self.sent_by_kind[kind] = self.sent_by_kind.get(kind, 0) + 1
        return True

    def _refuse(self, item: _Queued, retry_after: float, message: str, pacing: bool = False) -> None:
        self._remove(item)
        if pacing:
            self.pacing_refused += 1
        else:
            self.refused += 1
        item.fail(BridgeError(ErrorCode.PACING_LIMITED, message.format(retry_after),
                              retry_after=max(1.0, round(retry_after, 1))))

    def _expire(self, item: _Queued) -> None:
        if item.gone:
            return
        held = item.pacing is not None and self._pacing.open_full()
        text = (f"IB allows {self._pacing.limits.max_open} open historical requests and none closed in time" if held
                else "this request's turn to be sent to TWS did not come before its deadline")
        self._refuse(item, 1.0, text, pacing=held)

    def _remove(self, item: _Queued) -> None:
        item.gone = True
        if item.timer is not None:
            item.timer.cancel()
        self._line.remove(item)

    # ---- for /health ------------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._control) + len(self._line)

    @property
    def pacing_queued(self) -> int:
        return sum(1 for item in self._line if item.pacing is not None)

    def stats(self) -> dict[str, Any]:
        return {"max_per_second": self._budget.rate, "burst": self._budget.burst, "messages_sent": self._budget.taken,
                "queued": self.queued, "tokens_left": round(self._budget.tokens(), 2), "waited": self.waited,
                "refused": self.refused, "send_failures": self.send_failures}
