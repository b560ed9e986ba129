"""One client connection: the TWS handshake, then requests in and replies out, as TWS does them.

The connection decodes frames with `sim.codec`, records every message, and serves the requests the bridge uses.
Replies go through one writer task per connection so that ordering holds and faults (split frames, a delay) apply to
every reply alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from typing import TYPE_CHECKING

from sim import account_answers, codec
from sim.account_messages import ACCOUNT_REQUESTS
from sim.history import head_timestamp
from sim.history_service import HistoryService
from sim.message_rate import RATE_EXCEEDED, MessageRate
from sim.messages import (
    CancelHeadTimestamp,
    CancelHistoricalData,
    MalformedMessage,
    Request,
    RequestContractDetails,
    RequestCurrentTime,
    RequestHeadTimestamp,
    RequestHistoricalData,
    RequestIds,
    RequestMarketDataType,
    RequestMatchingSymbols,
    SimError,
    StartApi,
    UnknownMessage,
)
from sim.symbol_search import matching_symbols

if TYPE_CHECKING:
    from sim.server import SimServer

log = logging.getLogger("sim.connection")

MAX_FRAME = 16 * 1024 * 1024  # TWS refuses longer messages (error 507 on the client side)

CLIENT_ID_IN_USE = "Unable to connect as the client id is already in use. Retry with a unique client id."
FARM_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


class ClientConnection:
    def __init__(self, server: SimServer, number: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.number = number
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.version = 0
        self.encoder: codec.ReplyEncoder | None = None
        self.history = HistoryService(self)  # reqHistoricalData, keepUpToDate streams and their cancels
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: flush, then close
        self._writer_task: asyncio.Task[None] | None = None
        self._next_order_id = server.options.first_order_id
        self.closed = asyncio.Event()
        self._delayed: set[asyncio.TimerHandle] = set()  # replies held back by the reply-delay fault
        self._rate = MessageRate()  # messages received in the last second (TWS's 50/s limit)

    # ---- lifecycle --------------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if not await self._handshake():
                return
            self._writer_task = asyncio.create_task(self._write_loop())
            while True:
                header = await self.reader.readexactly(4)
                (size,) = struct.unpack("!I", header)
                if size > MAX_FRAME:
                    log.warning("conn %d: frame of %d bytes refused, closing", self.number, size)
                    return
                payload = await self.reader.readexactly(size)
                self._on_frame(payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            await self._close()

    async def _handshake(self) -> bool:
        """`API\\0` then a frame "v<min>..<max>[ options]"; answer ONE frame [version, time] (see tws-protocol.md)."""
        if await self.reader.readexactly(4) != b"API\0":
            log.warning("conn %d: no API prefix, closing", self.number)
            return False
        (size,) = struct.unpack("!I", await self.reader.readexactly(4))
        if size > 1024:
            return False
        text = (await self.reader.readexactly(size)).decode("ascii", "replace")
        client_range = codec.parse_version_range(text)
        if client_range is None:
            log.warning("conn %d: bad version range %r, closing", self.number, text)
            return False
        low, high = client_range
        server_max = self.server.max_version
        if high < codec.MIN_VERSION or low > server_max:
            # TWS closes a client it cannot serve without a reply
            log.warning("conn %d: client range %d..%d outside %d..%d, closing", self.number, low, high,
                        codec.MIN_VERSION, server_max)
            return False
        if self.server.faults.silent_handshake:
            log.info("conn %d: fault silent_handshake, not answering", self.number)
            await self.reader.read()  # until the client gives up
            return False
        self.version = min(high, server_max)
        self.encoder = codec.ReplyEncoder(self.version)
        self.writer.write(codec.handshake_reply(self.version, self.server.clock.now()))
        await self.writer.drain()
        log.info("conn %d: handshake, client %d..%d, server version %d", self.number, low, high, self.version)
        return True

    async def _close(self) -> None:
        for handle in self._delayed:
            handle.cancel()
        tasks = self.history.cancel_all()
        if self._writer_task is not None:
            self._writer_task.cancel()
            tasks.append(self._writer_task)
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            self.writer.close()
        self.server.forget(self)
        self.closed.set()

    def close_after_flush(self) -> None:
        """Close once everything already queued is written (drop "after the bars")."""
        self._out.put_nowait(None)

    def abort(self) -> None:
        """Drop the connection now, as a TWS restart does."""
        self.writer.transport.abort()

    # ---- output -----------------------------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        if frame:
            self._out.put_nowait(frame)

    def send_error(self, req_id: int, code: int, message: str) -> None:
        assert self.encoder is not None
        now_ms = int(self.server.clock.now() * 1000)
        self.send(self.encoder.error(req_id, code, message, now_ms))
        self.server.request_log.record_error(self.number, self.client_id, req_id, code, message)

    async def _write_loop(self) -> None:
        try:
            while True:
                frame = await self._out.get()
                if frame is None:
                    await self.writer.drain()
                    self.writer.close()
                    return
                if self.server.faults.split_frames:
                    await self._write_split(frame)
                else:
                    self.writer.write(frame)
                    if self._out.empty():
                        await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    async def _write_split(self, frame: bytes) -> None:
        # Split inside the length prefix and inside the payload so both stages of the client's reader are exercised.
        cuts = sorted({1, 3, 5, max(6, len(frame) // 2), len(frame)})
        start = 0
        for cut in cuts:
            if cut > start:
                self.writer.write(frame[start:cut])
                await self.writer.drain()
                await asyncio.sleep(0.002)  # let the kernel send it as its own segment
                start = cut

    # ---- input ------------------------------------------------------------------------------------------------

    def _on_frame(self, payload: bytes) -> None:
        wall = time.time()
        over_rate = self._rate.received(time.monotonic(), self.server.max_message_rate)
        try:
            request = codec.decode_request(payload, self.version)
        except MalformedMessage as exc:
            log.warning("conn %d: malformed message ignored: %s", self.number, exc)
            request = None
        else:
            self.server.request_log.record_request(request, self.number, self.client_id, self.server.clock.now(),
                                                   wall)
        if over_rate is not None:
            self._reject_over_rate(over_rate)
            return
        if request is None:
            return
        try:
            self._dispatch(request)
        except Exception:  # a bug serving one request must not take the connection or the server down
            log.exception("conn %d: failed to serve %s", self.number, type(request).__name__)

    def _reject_over_rate(self, text: str) -> None:
        """TWS answers the message over its rate limit with error 100 and does not serve it (sim.message_rate)."""
        log.info("conn %d: %s", self.number, text)
        self.send_error(-1, RATE_EXCEEDED, text)
        drop_after = self.server.drop_after_rate_violations
        if drop_after and self._rate.violations >= drop_after:
            log.info("conn %d: %d messages over the rate limit, closing", self.number, self._rate.violations)
            self.close_after_flush()

    def _dispatch(self, request: Request) -> None:
        if isinstance(request, StartApi):
            self._start_api(request)
            return
        if self.client_id is None:
            log.info("conn %d: %s before startApi ignored", self.number, type(request).__name__)
            return
        if isinstance(request, UnknownMessage):
            log.info("conn %d: message %d not served, ignored", self.number, request.msg_id)
            return
        if isinstance(request, RequestMarketDataType):
            return  # TWS sends nothing back for it
        if isinstance(request, CancelHistoricalData):
            self.history.cancel(request.req_id)
            return
        if isinstance(request, CancelHeadTimestamp):
            return
        if isinstance(request, RequestHistoricalData):
            self.history.request(request)
            return
        if self.swallowed(request):
            return
        delay = self.server.faults.reply_delay
        if delay > 0:
            def serve() -> None:
                self._delayed.discard(handle)
                self._serve_simple(request)

            handle = asyncio.get_running_loop().call_later(delay, serve)
            self._delayed.add(handle)
        else:
            self._serve_simple(request)

    def swallowed(self, request: Request) -> bool:
        name = type(request).__name__
        if self.server.faults.swallow(name):
            log.info("conn %d: fault never_answer swallowed %s", self.number, name)
            return True
        return False

    def _start_api(self, request: StartApi) -> None:
        if self.client_id is not None:
            return
        if not self.server.claim_client_id(request.client_id, self):
            log.info("conn %d: client id %d in use, closing", self.number, request.client_id)
            self.send_error(-1, 326, CLIENT_ID_IN_USE)
            self.close_after_flush()
            return
        self.client_id = request.client_id
        assert self.encoder is not None
        self.send(self.encoder.managed_accounts(self.server.options.account))
        self.send(self.encoder.next_valid_id(self._next_order_id))
        for code, text in FARM_OK:
            self.send_error(-1, code, text)
        log.info("conn %d: client id %d started", self.number, request.client_id)

    def _serve_simple(self, request: Request) -> None:
        assert self.encoder is not None
        enc = self.encoder
        try:
            if isinstance(request, RequestIds):
                self.send(enc.next_valid_id(self._next_order_id))
            elif isinstance(request, RequestCurrentTime):
                self.send(enc.current_time(int(self.server.clock.now())))
            elif isinstance(request, RequestContractDetails):
                matches = self.server.universe.match(request.contract, self.server.clock.now())
                if not matches:
                    raise SimError(200, "No security definition has been found for the request")
                for instrument in matches:
                    self.send(enc.contract_data(request.req_id, instrument.details(self.server.clock.now())))
                self.send(enc.contract_data_end(request.req_id))
            elif isinstance(request, ACCOUNT_REQUESTS):  # start-up requests of client libraries: empty answers
                for frame in account_answers.answer(request, enc, self.server.options.account):
                    self.send(frame)
            elif isinstance(request, RequestMatchingSymbols):
                self.send(enc.symbol_samples(request.req_id, matching_symbols(self.server.universe, request.pattern)))
            elif isinstance(request, RequestHeadTimestamp):
                instrument = self.server.universe.resolve_one(request.contract, self.server.clock.now())
                stamp = head_timestamp(instrument, request.use_rth, request.what_to_show, request.format_date)
                self.send(enc.head_timestamp(request.req_id, stamp))
        except SimError as err:
            self.send_error(getattr(request, "req_id", -1), err.code, err.message)

    # ---- historical data (sim.history_service) ---------------------------------------------------------------

    def drop_streams(self) -> None:
        """1101: TWS lost the subscriptions; the client must request them again."""
        self.history.drop_streams()

    @property
    def open_requests(self) -> int:
        return self.history.open_requests
