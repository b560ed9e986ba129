"""Head timestamps: the earliest bar TWS has for (contract, whatToShow, useRTH), asked once and kept in the store.

reqHeadTimeStamp goes through the outbox like a historical request: it takes a message token, and it is paced as
one (IB's documentation lists it with the historical data functions and gives it no rules of its own; treating it as a
large-bar historical request costs at most one slot of the 6-in-2-s group, and never touches the small-bar budget).
It is open until answered and then cancelled (cancelHeadTimeStamp, as IB's samples do), so it is counted in
`open_count`, which belongs in the open-request count the pacing rules read (IB's 50 simultaneous requests).

The answer is asked with formatDate 2 (epoch seconds); "yyyymmdd-HH:MM:SS" (UTC, what TWS sends for formatDate 1)
and "yyyymmdd HH:MM:SS[ zone]" are read too (worker/tws/dates.py). Identical lookups in flight share one request.
Errors map through worker/tws/errors.py's one table. Owned by the worker's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.errors import BridgeError, ErrorCode
from worker.contracts.resolver import ResolvedContract
from worker.tws.dates import format_local, parse_tws_time
from worker.tws.errors import classify_request_error
from worker.tws.pacing import PacingKey
from worker.tws.requests import CancelHeadTimestamp, HeadTimestampRequest, TwsRequest

log = logging.getLogger("tws.heads")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]  # {"time": epoch, "date": local text}
HEAD_BAR_SECONDS = 86_400  # paced as a daily-bar request: outside IB's small-bar rule
EARLIEST = 0  # 1970: a head before it is not a head (TWS sent nonsense)


class HeadSender(Protocol):
    def request(self, prepare: Callable[[], TwsRequest], deadline: float, fail: Callable[[BridgeError], None],
                pacing: PacingKey | None = None) -> object: ...
    def send(self, message: TwsRequest) -> None: ...


class HeadMemory(Protocol):
    """What the book needs of the store (worker/history/store.py BarStore)."""

    def heads(self) -> dict[str, int]: ...
    def save_head(self, key: str, epoch: int) -> None: ...


def head_key(contract: ResolvedContract, what_to_show: str, use_rth: bool) -> str:
    return f"{contract.con_id}|{what_to_show}|{'rth' if use_rth else 'all'}"


def parse_head(text: str, time_zone: str) -> int | None:
    """Epoch seconds of a headTimestamp value, None when it is none of TWS's forms."""
    moment = parse_tws_time(text, time_zone)
    if moment is None or moment < EARLIEST:
        return None
    return int(moment)


@dataclass
class _Pending:
    key: str
    contract: ResolvedContract
    replies: list[Reply]
    sent: bool = False
    ticket: object = field(default=None)


class HeadTimestamps:
    def __init__(self, sender: HeadSender, next_id: Callable[[], int], memory: HeadMemory,
                 call_later: Callable[[float, Callable[[], None]], object] | None = None,
                 timeout: float = 30.0) -> None:
        self._sender = sender
        self._next_id = next_id
        self._memory = memory
        self._call_later = call_later
        self._timeout = timeout
        self._pending: dict[int, _Pending] = {}
        self._by_key: dict[str, int] = {}
        self.sent = 0  # reqHeadTimeStamp sent
        self.coalesced = 0
        self.remembered = 0  # answered from the store

    # ---- the call -----------------------------------------------------------------------------------------------

    def lookup(self, contract: ResolvedContract, what_to_show: str, use_rth: bool, deadline: float,
               reply: Reply) -> None:
        """Answer `reply` with the head timestamp: from the store at once, or after the one request every identical
        lookup shares; `deadline` (monotonic) bounds its wait for its turn to be sent."""
        key = head_key(contract, what_to_show, use_rth)
        known = self._memory.heads().get(key)
        if known is not None:
            self.remembered += 1
            reply(self._answer(known, contract), None)
            return
        req_id = self._by_key.get(key)
        if req_id is not None:
            self.coalesced += 1
            self._pending[req_id].replies.append(reply)
            return
        req_id = self._next_id()
        pending = _Pending(key, contract, [reply])
        self._pending[req_id] = pending
        self._by_key[key] = req_id

        def prepare() -> TwsRequest:
            pending.sent, pending.ticket = True, None
            self.sent += 1
            if self._call_later is not None:
                self._call_later(self._timeout, lambda: self._expire(req_id))
            log.debug("reqHeadTimeStamp reqId %d for %s", req_id, key)
            return HeadTimestampRequest(req_id, contract.to_ibapi(contract.exchange), what_to_show, int(use_rth))

        def fail(error: BridgeError) -> None:  # not sent: 429 (no turn before the deadline) or 503
            if self._pending.get(req_id) is pending:
                self._finish(req_id, None, error)

        pacing = PacingKey(identity=("head", contract.con_id, what_to_show, use_rth),
                           group=(contract.con_id, contract.exchange, what_to_show), bar_seconds=HEAD_BAR_SECONDS)
        pending.ticket = self._sender.request(prepare, deadline, fail, pacing)

    # ---- events (service.py routes "head_timestamp" and errors whose reqId `owns`) --------------------------------

    def owns(self, req_id: int) -> bool:
        return req_id in self._pending

    @property
    def open_count(self) -> int:
        """Requests sent and not yet answered (they count against IB's 50 open historical requests)."""
        return sum(1 for p in self._pending.values() if p.sent)

    def on_head(self, req_id: int, text: str) -> None:
        pending = self._pending.get(req_id)
        if pending is None:
            return  # late: expired or cancelled already
        epoch = parse_head(text, pending.contract.time_zone)
        if epoch is None:
            log.warning("headTimestamp reqId %d: unreadable value %r", req_id, text[:40])
            self._finish(req_id, None, BridgeError(ErrorCode.TWS_ERROR, "TWS sent an unreadable head timestamp"))
            return
        self._memory.save_head(pending.key, epoch)
        self._finish(req_id, epoch, None)

    def on_error(self, req_id: int, code: int, message: str) -> None:
        if req_id not in self._pending:
            return
        outcome = classify_request_error(code, message)
        if outcome is None:
            return  # a notice: the request goes on
        error = outcome.error or BridgeError(ErrorCode.NO_DATA, f"TWS has no data for this series: {message}",
                                             code)
        self._finish(req_id, None, error, cancel=False)  # an error ends the request in TWS: nothing to cancel

    def connection_lost(self) -> None:
        """TWS forgot every request: each waiting lookup fails as unavailable (the next one asks again)."""
        error = BridgeError(ErrorCode.TWS_UNAVAILABLE, "TWS connection lost", retry_after=1.0)
        for req_id in list(self._pending):
            self._finish(req_id, None, error, cancel=False)

    def stats(self) -> dict[str, int]:
        return {"sent": self.sent, "coalesced": self.coalesced, "remembered": self.remembered,
                "in_flight": len(self._pending)}

    # ---- internals ------------------------------------------------------------------------------------------

    def _expire(self, req_id: int) -> None:
        if req_id in self._pending:
            log.warning("reqHeadTimeStamp reqId %d not answered in %.0f s; the next lookup asks again", req_id,
                        self._timeout)
            self._finish(req_id, None, BridgeError(ErrorCode.TWS_TIMEOUT,
                                                   "TWS did not answer the head timestamp in time", retry_after=5))

    def _finish(self, req_id: int, epoch: int | None, error: BridgeError | None, cancel: bool = True) -> None:
        pending = self._pending.pop(req_id)
        self._by_key.pop(pending.key, None)
        if pending.sent and cancel:
            self._sender.send(CancelHeadTimestamp(req_id))
        answer = None if epoch is None else self._answer(epoch, pending.contract)
        for reply in pending.replies:
            reply(answer, error)

    @staticmethod
    def _answer(epoch: int, contract: ResolvedContract) -> dict[str, Any]:
        return {"time": epoch, "date": format_local(epoch, contract.time_zone, False)}
