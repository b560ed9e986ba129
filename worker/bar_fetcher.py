"""Historical bar requests in flight: sends reqHistoricalData, gathers bars, answers each caller when TWS is done.

Many requests are in flight at once; each answers when its own data arrives, fails at once when the connection is
lost, and gets `tws_timeout` at its deadline (the upstream request is then cancelled).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from worker.contract_resolver import ContractResolver, ResolvedContract, contract_key
from worker.timers import Timer, Timers
from worker.tws_errors import NO_DATA_MARKER, classify_request_error
from worker.tws_time import bar_time, format_local, parse_tws_time, period_end

log = logging.getLogger("tws.bar_fetcher")

Reply = Callable[[dict[str, Any] | None, BridgeError | None], None]
FORMAT_EPOCH = 2  # formatDate=2: intraday bar dates as epoch seconds, no time-zone strings to interpret


@dataclass
class InFlight:
    req_id: int
    request: BarRequest
    contract: ResolvedContract
    reply: Reply
    started: float
    timer: Timer
    bars: list[tuple[str, float, float, float, float, int, float, int]] = field(default_factory=list)
    notice: dict[str, Any] | None = None


class BarFetcher:
    def __init__(self, client: Callable[[], Any], resolver: ContractResolver, timers: Timers,
                 next_id: Callable[[], int], unavailable: Callable[[], BridgeError]) -> None:
        self._client = client  # the connected TwsClient, or None
        self._resolver = resolver
        self._timers = timers
        self._next_id = next_id
        self._unavailable = unavailable
        self._in_flight: dict[int, InFlight] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def owns(self, req_id: int) -> bool:
        return req_id in self._in_flight

    def fetch(self, request: BarRequest, timeout: float, reply: Reply) -> None:
        started = time.monotonic()
        if self._client() is None:
            reply(None, self._unavailable())
            return

        def resolved(contract: ResolvedContract | None, error: BridgeError | None) -> None:
            if error is not None or contract is None:
                reply(None, error)
                return
            left = timeout - (time.monotonic() - started)
            self._send(request, contract, left, started, reply)

        self._resolver.resolve(contract_key(request), resolved)

    def _send(self, request: BarRequest, contract: ResolvedContract, timeout: float, started: float,
              reply: Reply) -> None:
        client = self._client()
        if client is None:
            reply(None, self._unavailable())
            return
        req_id = self._next_id()
        end = request.end_datetime
        if end and "-" not in end:  # exchange-local time: name the zone so TWS does not guess (2174)
            end = f"{end} {contract.time_zone}"
        timer = self._timers.call_later(timeout, lambda: self._timed_out(req_id))
        self._in_flight[req_id] = InFlight(req_id, request, contract, reply, started, timer)
        client.reqHistoricalData(req_id, contract.to_ibapi(request.exchange), end, request.duration,
                                 request.bar_size, request.what_to_show, int(request.use_rth), FORMAT_EPOCH,
                                 request.include_forming, [])

    # ---- events -----------------------------------------------------------------------------------------------

    def on_bar(self, req_id: int, values: tuple[str, float, float, float, float, int, float, int]) -> None:
        self._in_flight[req_id].bars.append(values)

    def on_end(self, req_id: int, start: str, end: str) -> None:
        flight = self._in_flight.pop(req_id)
        flight.timer.cancel()
        if flight.request.include_forming:
            self._cancel_upstream(req_id)  # keepUpToDate: the forming bar is in the answer; stop the updates
        tz = flight.contract.time_zone
        tws_now = parse_tws_time(end, tz) if not flight.request.end_datetime else None
        bars = [self._bar(values, tz) for values in flight.bars]
        if bars and tws_now is not None and not flight.request.include_forming:
            last = bars[-1]
            if period_end(last["time"], flight.request.bar_seconds, tz, last["daily"]) > tws_now:
                bars.pop()  # TWS includes the current, incomplete bar when the end is now
        for bar in bars:
            del bar["daily"]
        self._answer(flight, {"bars": bars, "notice": flight.notice})

    def on_error(self, req_id: int, code: int, message: str) -> None:
        outcome = classify_request_error(code, message)
        if outcome is None:
            log.info("reqId %d: TWS notice %d: %s", req_id, code, message)
            return
        flight = self._in_flight.pop(req_id)
        flight.timer.cancel()
        if outcome.no_data:
            self._answer(flight, {"bars": [], "notice": {"tws_code": code, "message": message}})
        else:
            assert outcome.error is not None
            self._answer(flight, None, outcome.error)

    def fail_all(self, error: BridgeError) -> None:
        for req_id in list(self._in_flight):
            flight = self._in_flight.pop(req_id)
            flight.timer.cancel()
            self._answer(flight, None, error)

    def _timed_out(self, req_id: int) -> None:
        flight = self._in_flight.pop(req_id, None)
        if flight is None:
            return
        self._cancel_upstream(req_id)
        seconds = time.monotonic() - flight.started
        self._answer(flight, None, BridgeError(ErrorCode.TWS_TIMEOUT,
                                               f"TWS did not answer within {seconds:.0f} s", retry_after=5))

    def _cancel_upstream(self, req_id: int) -> None:
        client = self._client()
        if client is not None:
            client.cancelHistoricalData(req_id)

    def _answer(self, flight: InFlight, result: dict[str, Any] | None, error: BridgeError | None = None) -> None:
        r = flight.request
        ms = (time.monotonic() - flight.started) * 1000
        if error is None:
            assert result is not None
            log.info("bars %s %s %s reqId %d: %d bars in %.1f ms", r.symbol, r.bar_size, r.duration, flight.req_id,
                     len(result["bars"]), ms)
        else:
            log.info("bars %s %s %s reqId %d: %s (%s) in %.1f ms", r.symbol, r.bar_size, r.duration, flight.req_id,
                     error.code, error.message, ms)
        flight.reply(result, error)

    @staticmethod
    def _bar(values: tuple[str, float, float, float, float, int, float, int], tz: str) -> dict[str, Any]:
        date, o, h, low, c, volume, wap, count = values
        start, daily = bar_time(date, tz)
        return {"date": format_local(start, tz, daily), "time": int(start), "open": o, "high": h, "low": low,
                "close": c, "volume": volume, "wap": wap, "count": count, "daily": daily}


__all__ = ["NO_DATA_MARKER", "BarFetcher"]
