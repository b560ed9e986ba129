"""The official decoder, guarded: one message it cannot decode fails the request it belongs to, not the connection.

Both clients' EClient.run() hand every message to decoder.interpret (10.x: also decoder.processProtoBuf) and let any
exception but BadMessage end the loop, which then disconnects: a fractional volume reaching 9.81's int(), a size
10.x's Decimal() cannot read, or a bug in one of our callbacks would take the connection down, and after the
reconnect the same message comes again. `GuardedDecoder` is ibapi's own Decoder, unmodified, with both entry points
wrapped: whatever escapes is reported (message id, the reqId its layout names, what failed) and the loop goes on.
It is installed on the client after connect() and before run(), so every message after the handshake passes it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ibapi import server_versions
from ibapi.decoder import Decoder
from ibapi.message import IN

log = logging.getLogger("tws.decoder")

F = TypeVar("F", bound=Callable[..., Any])
PROTOBUF_CLASSES: dict[int, Any] = {}
with contextlib.suppress(ImportError):  # 10.x only: the protobuf bodies that carry a reqId
    from ibapi.protobuf.ContractData_pb2 import ContractData
    from ibapi.protobuf.ContractDataEnd_pb2 import ContractDataEnd
    from ibapi.protobuf.ErrorMessage_pb2 import ErrorMessage
    from ibapi.protobuf.HeadTimestamp_pb2 import HeadTimestamp
    from ibapi.protobuf.HistoricalData_pb2 import HistoricalData
    from ibapi.protobuf.HistoricalDataEnd_pb2 import HistoricalDataEnd
    from ibapi.protobuf.HistoricalDataUpdate_pb2 import HistoricalDataUpdate
    from ibapi.protobuf.SymbolSamples_pb2 import SymbolSamples

    PROTOBUF_CLASSES = {IN.HISTORICAL_DATA: HistoricalData, IN.HISTORICAL_DATA_UPDATE: HistoricalDataUpdate,
                        IN.HISTORICAL_DATA_END: HistoricalDataEnd, IN.CONTRACT_DATA: ContractData,
                        IN.CONTRACT_DATA_END: ContractDataEnd, IN.ERR_MSG: ErrorMessage,
                        IN.HEAD_TIMESTAMP: HeadTimestamp, IN.SYMBOL_SAMPLES: SymbolSamples}

# Text messages: where the reqId is among the fields after the message id, by server version (the decoders' layouts).
_SYNT_REALTIME_BARS = server_versions.MIN_SERVER_VER_SYNT_REALTIME_BARS  # 124: historicalData loses its version
_SIZE_RULES = getattr(server_versions, "MIN_SERVER_VER_SIZE_RULES", 164)  # contractData loses its version
_ERROR_TIME = getattr(server_versions, "MIN_SERVER_VER_ERROR_TIME", 194)  # error loses its version
_HISTORICAL_DATA_END = getattr(IN, "HISTORICAL_DATA_END", 108)
REQ_ID_FIELD: dict[int, Callable[[int], int]] = {
    IN.HISTORICAL_DATA: lambda sv: 1 if sv < _SYNT_REALTIME_BARS else 0,
    IN.HISTORICAL_DATA_UPDATE: lambda sv: 0,
    _HISTORICAL_DATA_END: lambda sv: 0,
    IN.CONTRACT_DATA: lambda sv: 1 if sv < _SIZE_RULES else 0,
    IN.CONTRACT_DATA_END: lambda sv: 1,
    IN.ERR_MSG: lambda sv: 1 if sv < _ERROR_TIME else 0,
    IN.HEAD_TIMESTAMP: lambda sv: 0,
    IN.SYMBOL_SAMPLES: lambda sv: 0,
}


class UnreadableValue(ValueError):
    """A value TWS sent that ibapi decoded but the bridge cannot represent (NaN, infinity): a bad message too."""


class CallbackFailed(Exception):
    """One of our own callbacks raised: a bug on our side, reported apart from what TWS sent."""


def guarded_callback(func: F) -> F:
    """Mark exceptions escaping a wrapper callback as ours (UnreadableValue stays what it is: about TWS's data)."""
    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UnreadableValue:
            raise
        except Exception as exc:
            raise CallbackFailed(f"{func.__name__}: {type(exc).__name__}: {exc}") from exc
    return call  # type: ignore[return-value]


@dataclass(frozen=True)
class Undecodable:
    """A message that could not be handled: what it was, whose it was, what failed."""

    msg_id: int
    req_id: int | None  # None when its layout names no reqId, or the reqId itself is unreadable
    reason: str  # e.g. "ValueError: invalid literal for int() with base 10: '0.5'"
    sent: str = ""  # the message as TWS sent it, shortened: its fields, or its protobuf body
    ours: bool = False  # True: our callback failed (a bug), not the decoding


class GuardedDecoder(Decoder):
    def __init__(self, wrapper: Any, server_version: int, report: Callable[[Undecodable], None]) -> None:
        super().__init__(wrapper, server_version)
        self._report = report

    def interpret(self, fields: Any, *msg_id: int) -> None:  # 9.81: (fields); 10.x: (fields, msgId)
        try:
            super().interpret(fields, *msg_id)
        except Exception as exc:
            # 9.81's fields start with the message id; 10.x's run() has split it off
            mid, body = (msg_id[0], list(fields)) if msg_id else (_int(fields[0] if fields else b""), list(fields)[1:])
            sent = ",".join(f.decode(errors="backslashreplace") if isinstance(f, bytes) else str(f) for f in body)
            self._failed(exc, mid if mid is not None else -1, _text_req_id(mid, body, self.serverVersion), sent)

    def processProtoBuf(self, protoBuf: bytes, msgId: int) -> None:  # noqa: N802, N803 - ibapi's names
        try:
            super().processProtoBuf(protoBuf, msgId)
        except Exception as exc:
            req_id, sent = _protobuf_req_id(msgId, protoBuf)
            self._failed(exc, msgId, req_id, sent)

    def _failed(self, exc: Exception, msg_id: int, req_id: int | None, sent: str) -> None:
        ours = isinstance(exc, CallbackFailed)
        reason = str(exc) if ours or isinstance(exc, UnreadableValue) else f"{type(exc).__name__}: {exc}"
        if ours:
            log.error("our callback failed on message %d (reqId %s): %s", msg_id, req_id, reason,
                      exc_info=exc.__cause__)
        self._report(Undecodable(msg_id, req_id, reason[:300], _shorten(sent), ours))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text_req_id(msg_id: int | None, body: list[Any], server_version: int) -> int | None:
    where = REQ_ID_FIELD.get(msg_id) if msg_id is not None else None
    if where is None:
        return None
    index = where(server_version)
    return _int(body[index]) if index < len(body) else None


def _protobuf_req_id(msg_id: int, body: bytes) -> tuple[int | None, str]:
    """(its reqId, the message as text) of a protobuf body."""
    cls = PROTOBUF_CLASSES.get(msg_id)
    if cls is None:
        return None, repr(body)
    message = cls()
    try:
        message.ParseFromString(body)
    except Exception:  # not even the envelope parses: nobody to attribute it to
        return None, repr(body)
    name = "id" if msg_id == IN.ERR_MSG else "reqId"
    req_id = int(getattr(message, name)) if message.HasField(name) else None
    return req_id, " ".join(str(message).split())


def _shorten(text: str, limit: int = 200) -> str:
    """Printable and short: the start of a message that may hold thousands of bars."""
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."
