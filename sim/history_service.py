"""One connection's historical requests: reqHistoricalData answers, keepUpToDate streams and their cancels.

TWS keeps every historical request open until its bars are sent (or, for keepUpToDate, until cancelled): those count
against the 50 simultaneous requests (sim.pacing) and can be cancelled. Runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sim.history import bar_as_of, build_history, live_bar
from sim.instruments import Instrument
from sim.messages import Bar, RequestHistoricalData, SimError

if TYPE_CHECKING:
    from sim.connection import ClientConnection

log = logging.getLogger("sim.connection")


class HistoryService:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.server = conn.server
        self.streams: dict[int, asyncio.Task[None]] = {}  # keepUpToDate subscriptions by reqId
        self.pending: dict[int, asyncio.Task[None]] = {}  # requests answered later (delay, never_answer faults)

    @property
    def open_requests(self) -> int:
        return len(self.streams) + len(self.pending)

    def _forget_req_id(self, req_id: int) -> None:
        """A client reusing the id of a request still open: TWS would mix them up; the old one is dropped."""
        for tasks in (self.streams, self.pending):
            old = tasks.pop(req_id, None)
            if old is not None:
                log.warning("conn %d: reqId %d reused while open; the earlier request is dropped", self.conn.number,
                            req_id)
                old.cancel()

    def request(self, request: RequestHistoricalData) -> None:
        self._forget_req_id(request.req_id)
        verdict = self.server.pacing_check(request)
        if verdict.error is not None:
            log.info("conn %d: reqId %d refused by pacing rule %s", self.conn.number, request.req_id, verdict.rule)
            self.conn.send_error(request.req_id, verdict.error.code, verdict.error.message)
            return
        if self.conn.swallowed(request):
            # still open as far as TWS is concerned: it counts against the 50 and can be cancelled
            self.pending[request.req_id] = asyncio.create_task(asyncio.Event().wait())
            return
        delay = self.server.faults.reply_delay
        if delay > 0:
            self.pending[request.req_id] = asyncio.create_task(self._answer_later(request, delay))
        else:
            self._answer(request)

    async def _answer_later(self, request: RequestHistoricalData, delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending.pop(request.req_id, None)
        self._answer(request)

    def _answer(self, request: RequestHistoricalData) -> None:
        conn, server = self.conn, self.server
        assert conn.encoder is not None
        req_id, query = request.req_id, request.query
        try:
            instrument = server.universe.resolve_one(request.contract, server.clock.now())
            answer = build_history(instrument, query, server.clock.now(), server.options.legacy_dates,
                                   server.lenient_durations, server.universe)
        except SimError as err:
            conn.send_error(req_id, err.code, err.message)
            return
        for code, text in answer.notices:
            conn.send_error(req_id, code, text)
        bars = server.faults.volumes_of(instrument.symbol, answer.bars)
        conn.send(conn.encoder.historical_data(req_id, bars, answer.start, answer.end))
        conn.send(conn.encoder.historical_data_end(req_id, answer.start, answer.end))
        if query.keep_up_to_date:
            forming = live_bar(instrument, query, server.clock.now(), server.options.legacy_dates, server.universe)
            self.streams[req_id] = asyncio.create_task(self._stream(request, instrument, forming))
        server.after_history_sent()

    async def _stream(self, request: RequestHistoricalData, instrument: Instrument, forming: tuple[int, Bar]) -> None:
        """keepUpToDate: the forming bar every `update_interval` seconds until cancelled (paused while 1100 lasts).

        TWS builds the bar from five-second bars ("updates of the most recent partial five-second bar", IB's
        historical data page), so the last update it sends for a bar, at the bar's end, carries the bar's final
        values: a completed bar a client kept from the updates equals the bar a later request returns. Modelled as:
        when the forming bar has moved on since the last update, the bar that completed is sent once more, as of
        now (final), before the new one."""
        conn, server = self.conn, self.server
        assert conn.encoder is not None
        interval = server.options.update_interval
        legacy = server.options.legacy_dates
        query = request.query
        while True:
            await asyncio.sleep(interval)
            if server.connectivity_lost:
                continue
            now = server.clock.now()
            try:
                current = live_bar(instrument, query, now, legacy, server.universe)
                bars = [current[1]]
                if current[1].date != forming[1].date:  # a new bar: the one that completed, final, goes first
                    bars.insert(0, bar_as_of(instrument, query, forming[0], now, legacy, server.universe))
            except Exception:  # a bug here must show, not end the stream silently
                log.exception("conn %d: keepUpToDate reqId %d failed", conn.number, request.req_id)
                return
            forming = current
            for update in server.faults.volumes_of(instrument.symbol, bars):
                server.request_log.record_update(conn.number, conn.client_id, request.req_id, update)
                conn.send(conn.encoder.historical_data_update(request.req_id, update))
                server.after_stream_update()

    def cancel(self, req_id: int) -> None:
        task = self.streams.pop(req_id, None)
        if task is not None:
            task.cancel()
            return
        task = self.pending.pop(req_id, None)
        if task is not None:
            task.cancel()
            self.conn.send_error(req_id, 162, f"Historical Market Data Service error message:API historical data "
                                              f"query cancelled: {req_id}")
            return
        self.conn.send_error(req_id, 366, f"No historical data query found for ticker id:{req_id}")

    def drop_streams(self) -> None:
        """1101: TWS lost the subscriptions; the client must request them again."""
        for task in self.streams.values():
            task.cancel()
        self.streams.clear()

    def cancel_all(self) -> list[asyncio.Task[None]]:
        """The connection closes: every open request ends; returns the tasks to await."""
        tasks = [*self.streams.values(), *self.pending.values()]
        for task in tasks:
            task.cancel()
        self.streams.clear()
        self.pending.clear()
        return tasks
