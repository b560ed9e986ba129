"""Upstream historical requests to TWS: paced, given a reqId, answered by TWS's events, failed at their deadline.

One `Upstream` is one reqHistoricalData. The bar fetcher (plain answers) and the subscription book (keepUpToDate) both
build on it; this module is the only place that asks for reqHistoricalData and cancelHistoricalData, through the
outbox (worker/tws/outbox.py), which sends them when the message budget and IB's pacing rules allow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from worker.contracts.resolver import ResolvedContract
from worker.timers import Timer, Timers
from worker.tws.dates import bar_time, format_iso, format_local
from worker.tws.errors import RequestOutcome, classify_request_error
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingKey
from worker.tws.requests import CancelHistoricalData, HistoricalDataRequest, refusal

log = logging.getLogger("tws.upstream")

UNDECODABLE_MEMORY_S = 300.0  # how long a request whose answer could not be decoded is not sent again
BarValues = tuple[str, float, float, float, float, int | float, int | float, int]  # volume, wap: as TWS sent them
FORMAT_EPOCH = 2  # formatDate=2: intraday bar dates as epoch seconds, no time-zone strings to interpret


class UpstreamHandler(Protocol):
    def history_done(self, upstream: Upstream, bars: list[dict[str, Any]], end: str) -> None: ...
    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None: ...
    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None: ...


@dataclass(eq=False)
class Upstream:
    request: BarRequest
    contract: ResolvedContract
    keep_up_to_date: bool
    handler: UpstreamHandler
    req_id: int | None = None  # set when sent
    timer: Timer | None = None
    sent_at: float | None = None
    streaming: bool = False  # history done, updates flowing (keepUpToDate)
    ticket: object = None  # its place in the pacing queue while it waits there


def to_bar(values: BarValues, tz: str) -> dict[str, Any]:
    date, o, h, low, c, volume, wap, count = values
    if len(date) > 8 and date.isdigit():  # formatDate=2 intraday: epoch seconds (the hot path: thousands a second)
        start = int(date)
        daily = False
    else:
        moment, daily = bar_time(date, tz)
        start = int(moment)
    return {"date": format_local(start, tz, daily), "time": start, "datetime": format_iso(start, tz, daily),
            "open": o, "high": h, "low": low, "close": c, "volume": volume, "wap": wap, "count": count}


def pacing_key(request: BarRequest, contract: ResolvedContract) -> PacingKey:
    r = request
    # a CONTFUT's conId is its front future's: the sec type keeps the two series' requests apart
    return PacingKey(identity=(contract.con_id, contract.sec_type, r.exchange, r.end_datetime, r.bar_size, r.duration,
                               r.use_rth, r.what_to_show, r.include_forming),
                     group=(contract.con_id, contract.sec_type, r.exchange, r.what_to_show), bar_seconds=r.bar_seconds,
                     bid_ask=r.what_to_show == "BID_ASK")  # IB counts a BID_ASK request twice


class UpstreamRequests:
    def __init__(self, outbox: Outbox, timers: Timers, next_id: Callable[[], int], answer_timeout: float) -> None:
        self._outbox = outbox  # sends when the message budget and pacing allow; cancels go first
        self._answer_timeout = answer_timeout  # once sent, TWS has at most this long (BAR_TIMEOUT)
        self._timers = timers
        self._next_id = next_id
        self._by_id: dict[int, Upstream] = {}
        self._waiting: set[Upstream] = set()  # queued for pacing, not sent yet
        self._doomed: dict[tuple[object, ...], tuple[float, BridgeError]] = {}  # identity -> (until, its error)
        self.sent = 0

    @property
    def open_count(self) -> int:
        """Open historical requests as IB counts them: waiting for history, or streaming updates."""
        return len(self._by_id)

    def owns(self, req_id: int) -> bool:
        return req_id in self._by_id

    def start(self, upstream: Upstream, deadline: float) -> None:
        """Pace, then send. `deadline` (monotonic) bounds the wait for pacing and TWS's answer; once sent, TWS has
        at most the answer timeout too (a resubscription may wait long for pacing, not for TWS)."""
        def go() -> HistoricalDataRequest:
            self._waiting.discard(upstream)
            return self._send(upstream, deadline)

        def refuse(error: BridgeError) -> None:  # 429 (its turn would come too late) or 503 (not connected)
            self._waiting.discard(upstream)
            upstream.handler.history_failed(upstream, error, None)

        reason = refusal(upstream.contract.sec_type, upstream.request.what_to_show, upstream.request.end_datetime,
                         upstream.keep_up_to_date)
        if reason is not None:  # never sent: TWS would refuse it (10339 and the like)
            upstream.handler.history_failed(upstream, BridgeError(ErrorCode.INVALID_REQUEST, reason), None)
            return
        doomed = self._doomed.get(pacing_key(upstream.request, upstream.contract).identity)
        if doomed is not None and doomed[0] > time.monotonic():  # TWS would send the same undecodable answer
            upstream.handler.history_failed(upstream, doomed[1], None)
            return
        self._waiting.add(upstream)
        upstream.ticket = self._outbox.request(go, deadline, refuse, pacing_key(upstream.request, upstream.contract))
        if upstream.req_id is not None or upstream not in self._waiting:
            upstream.ticket = None  # already sent or refused

    def _send(self, upstream: Upstream, deadline: float) -> HistoricalDataRequest:
        r = upstream.request
        req_id = self._next_id()
        upstream.req_id = req_id
        upstream.sent_at = time.monotonic()
        self._by_id[req_id] = upstream
        end = r.end_datetime
        if end and "-" not in end:  # exchange-local time: name the zone so TWS does not guess (2174)
            end = f"{end} {upstream.contract.time_zone}"
        timeout = min(deadline - time.monotonic(), self._answer_timeout)
        upstream.timer = self._timers.call_later(timeout, lambda: self._timed_out(upstream))
        self.sent += 1
        contract = upstream.contract.to_ibapi(upstream.contract.route(r.exchange))
        return HistoricalDataRequest(req_id, contract, end, r.duration, r.bar_size, r.what_to_show, int(r.use_rth),
                                     FORMAT_EPOCH, upstream.keep_up_to_date)

    def _withdraw(self, upstream: Upstream) -> bool:
        """Still waiting for pacing: take it out of the queue, so it is never sent."""
        if upstream in self._waiting:
            self._waiting.discard(upstream)
            self._outbox.withdraw(upstream.ticket)
            upstream.ticket = None
            return True
        return False

    def cancel(self, upstream: Upstream) -> None:
        """Stop an upstream request (a subscription no longer wanted, a request past its deadline)."""
        if self._withdraw(upstream):
            return
        if upstream.req_id is None or self._by_id.pop(upstream.req_id, None) is None:
            return
        if upstream.timer is not None:
            upstream.timer.cancel()
        self._outbox.send(CancelHistoricalData(upstream.req_id))  # first in line; dropped if the connection is gone
        self._outbox.pump()

    def fail(self, req_id: int, error: BridgeError) -> None:
        """TWS's answer could not be decoded: fail the request, cancel it at TWS when it stays open there
        (keepUpToDate; a plain answer is complete once sent), and do not send the same request again for a while."""
        upstream = self._by_id.get(req_id)
        if upstream is None:
            return
        now = time.monotonic()
        self._doomed = {k: v for k, v in self._doomed.items() if v[0] > now}
        self._doomed[pacing_key(upstream.request, upstream.contract).identity] = (now + UNDECODABLE_MEMORY_S, error)
        if upstream.keep_up_to_date:
            self.cancel(upstream)
        else:
            self.discard(upstream)
        upstream.handler.history_failed(upstream, error, None)

    def discard(self, upstream: Upstream) -> None:
        """TWS dropped this request by itself (1101): forget it without a cancel."""
        if self._withdraw(upstream):
            return
        if upstream.req_id is not None and self._by_id.pop(upstream.req_id, None) is not None:
            if upstream.timer is not None:
                upstream.timer.cancel()
            self._outbox.pump()

    def forget_all(self) -> list[Upstream]:
        """The connection is gone and TWS forgot every request: drop them all (no cancel to send)."""
        for upstream in list(self._waiting):
            self._withdraw(upstream)
        gone = list(self._by_id.values())
        for upstream in gone:
            if upstream.timer is not None:
                upstream.timer.cancel()
        self._by_id.clear()
        return gone

    # ---- events -----------------------------------------------------------------------------------------------

    def on_end(self, req_id: int, end: str, values: list[BarValues]) -> None:
        upstream = self._by_id[req_id]
        if upstream.timer is not None:
            upstream.timer.cancel()
        tz = upstream.contract.time_zone
        bars = [to_bar(v, tz) for v in values]
        if upstream.keep_up_to_date:
            upstream.streaming = True
        else:
            del self._by_id[req_id]
            self._outbox.pump()
        upstream.handler.history_done(upstream, bars, end)

    def on_update(self, req_id: int, values: BarValues) -> None:
        upstream = self._by_id[req_id]
        if upstream.streaming:
            upstream.handler.updated(upstream, to_bar(values, upstream.contract.time_zone))

    def on_error(self, req_id: int, code: int, message: str) -> None:
        outcome: RequestOutcome | None = classify_request_error(code, message)
        if outcome is None:
            log.info("reqId %d: TWS notice %d: %s", req_id, code, message)
            return
        upstream = self._by_id.pop(req_id)
        if upstream.timer is not None:
            upstream.timer.cancel()
        self._outbox.pump()
        notice = {"tws_code": code, "message": message} if outcome.no_data else None
        upstream.handler.history_failed(upstream, outcome.error, notice)

    def _timed_out(self, upstream: Upstream) -> None:
        if upstream.streaming or upstream.req_id not in self._by_id:
            return
        self.cancel(upstream)
        seconds = time.monotonic() - (upstream.sent_at or time.monotonic())
        upstream.handler.history_failed(upstream, BridgeError(
            ErrorCode.TWS_TIMEOUT, f"TWS did not answer within {seconds:.0f} s", retry_after=5), None)
