"""One stream client's life, as the body of its HTTP answer: `retry:` first, the snapshot, then live events and
heartbeats until an `error` event, an overflow or the client's disconnect.

It runs in the client's own greenlet (gunicorn's gevent worker writes each chunk it yields). The first chunk goes out
before anything is asked of the worker, so every failure after validation, also the worker's at stream_open, reaches
the client as an `error` event, after which the stream ends.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

from app.streams import sse
from app.streams.client_buffer import ClientBuffer
from app.streams.fanout import Fanout
from app.streams.receiver import Receiver
from app.streams.request import StreamRequest
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.protocol import ProtocolError, WorkerReply
from shared.streams import parse_series_id

log = logging.getLogger("http.streams")

Request = Callable[[str, dict[str, Any], float], WorkerReply]


class StreamSession:
    def __init__(self, request: StreamRequest, fanout: Fanout, worker_request: Request, open_timeout: float,
                 buffer_limit: int, connection: socket.socket | None = None) -> None:
        self.request = request
        self._fanout = fanout
        self._worker_request = worker_request
        self._open_timeout = open_timeout
        self._connection = connection  # shut down on overflow: the greenlet may be blocked writing to it
        self.receiver = Receiver(request, ClientBuffer(buffer_limit), on_overflow=self._overflowed)

    def events(self) -> Iterator[bytes]:
        receiver = self.receiver
        try:
            yield sse.retry()
            while True:
                if receiver.reopen_needed or receiver.opens == 0:
                    self._open()
                chunk = receiver.buffer.take()
                if chunk:
                    yield chunk
                if receiver.closed:
                    return
                if receiver.heartbeat_due:
                    receiver.heartbeat_due = False
                    yield sse.HEARTBEAT
                receiver.buffer.ready.wait()  # set by an event, a heartbeat, a re-open or an overflow
        finally:
            self._fanout.detach(receiver)

    def _open(self) -> None:
        receiver = self.receiver
        key = self.request.series_key
        known = self._fanout.series_id(key)
        if known is not None:  # attached first: events arriving while the worker answers are held, not lost
            self._fanout.attach(receiver, known)
        receiver.reopen_needed = False
        try:
            reply = self._worker_request("stream_open", receiver.open_body(), self._open_timeout)
        except BridgeFailure as exc:
            receiver.fail(exc.error)
            return
        if reply.error is not None:
            receiver.fail(reply.error)
            return
        result = reply.result or {}
        try:
            series = result.get("series")
            parse_series_id(series)
            assert isinstance(series, str)
            self._fanout.learn(key, series)
            self._fanout.attach(receiver, series)
            receiver.apply_snapshot(result)
        except ProtocolError as exc:
            receiver.fail(BridgeError(ErrorCode.INTERNAL_ERROR, f"the TWS worker sent an invalid snapshot: {exc}"))

    def _overflowed(self) -> None:
        """Too slow a client: forget it now and close its connection (its write may never finish otherwise)."""
        log.info("stream client of %s closed: its buffer overflowed (it resumes by Last-Event-ID)",
                 self.receiver.series)
        self._fanout.detach(self.receiver)
        if self._connection is not None:
            try:
                self._connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # gone already
