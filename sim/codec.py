"""The simulator's wire format: frames in, `sim.messages` requests out; reply values in, frames out.

Which encoding a message uses depends on the negotiated server version, as it does in TWS:
- below 201 every payload is text: NUL-terminated fields, the first being the message id;
- from 201 (`MIN_SERVER_VER_PROTOBUF`) every payload starts with the message id as 4 raw big-endian bytes; an id above
  200 means the body is protobuf for message id - 200, otherwise text fields follow;
- each message goes protobuf from the version of its group (`REPLY_PROTOBUF_FROM`, `REQUEST_PROTOBUF_FROM`).
The layouts themselves live in `sim.text_codec` and `sim.proto_codec`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sim import account_codec, proto_codec, symbol_codec, text_codec, text_fields
from sim.messages import Bar, ContractDetailsInfo, MalformedMessage, Request, SymbolDescription, UnknownMessage

PROTOBUF_AVAILABLE: bool = proto_codec.AVAILABLE
MIN_VERSION = 100
TEXT_MAX_VERSION = 200  # the last version without raw ids and protobuf
PROTOBUF_MAX_VERSION = 226  # the 10.50 client's MAX_CLIENT_VER; nothing from 209 to 226 changes a layout used here
MIN_SERVER_VER_PROTOBUF = 201
PROTOBUF_MSG_ID = 200

# Replies TWS sends as protobuf from these versions. The client's decoder accepts protobuf for any of them at any
# version >= 201; TWS switches them over in the same groups the client uses for requests
# (common.getServerVersionForMessage): errors with the first protobuf release (201), contract data 205, accounts 207,
# historical data 208, the "rest" messages (nextValidId, currentTime, ...) 213.
REPLY_PROTOBUF_FROM: dict[str, int] = {
    "error": 201,
    "contract_data": 205,
    "contract_data_end": 205,
    "managed_accounts": 207,
    "historical_data": 208,
    "historical_data_end": 208,
    "historical_data_update": 208,
    "head_timestamp": 208,
    "next_valid_id": 213,
    "current_time": 213,
    **account_codec.REPLY_PROTOBUF_FROM,  # executions 201, orders 204, accounts and positions 207
    **symbol_codec.REPLY_PROTOBUF_FROM,  # symbolSamples 212
}

# Requests the 10.x client sends as protobuf from these versions (common.getServerVersionForMessage). The decoder
# does not depend on it: it reads whichever encoding arrives.
REQUEST_PROTOBUF_FROM: dict[str, int] = {
    "reqContractDetails": 205,
    "reqMarketDataType": 206,
    "reqHistoricalData": 208,
    "cancelHistoricalData": 208,
    "reqHeadTimeStamp": 208,
    "cancelHeadTimeStamp": 208,
    "startApi": 213,
    "reqIds": 213,
    "reqCurrentTime": 213,
    **account_codec.REQUEST_PROTOBUF_FROM,
    **symbol_codec.REQUEST_PROTOBUF_FROM,
}

_EXCHANGE_ZONE = ZoneInfo("America/New_York")


def max_supported_version() -> int:
    """The highest server version whose every layout the simulator speaks."""
    return PROTOBUF_MAX_VERSION if PROTOBUF_AVAILABLE else TEXT_MAX_VERSION


def _frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def handshake_reply(server_version: int, now: float) -> bytes:
    """The one frame `[serverVersion, connectionTime]`, e.g. "20250127 11:00:00 EST" (TWS's local time and zone).

    Always text, even from 201: the client reads it before it knows the version.
    """
    local = datetime.fromtimestamp(now, _EXCHANGE_ZONE)
    conn_time = f"{local:%Y%m%d %H:%M:%S} {local.tzname()}"
    return _frame(text_fields.encode_fields([server_version, conn_time]))


def parse_version_range(text: str) -> tuple[int, int] | None:
    """'v100..157' or 'v100..157 +PACEAPI' or 'v157' -> (low, high)."""
    head = text.split(" ", 1)[0]
    if not head.startswith("v"):
        return None
    low_s, sep, high_s = head[1:].partition("..")
    if not sep:
        high_s = low_s
    if not (low_s.isdigit() and high_s.isdigit()):
        return None
    low, high = int(low_s), int(high_s)
    return (low, high) if low <= high else None


def decode_request(payload: bytes, server_version: int) -> Request:
    """A request frame's payload (without the length prefix) -> a request; MalformedMessage if it cannot be read."""
    try:
        if server_version >= MIN_SERVER_VER_PROTOBUF:
            if len(payload) < 4:
                raise MalformedMessage(f"payload of {len(payload)} bytes has no message id")
            msg_id = int.from_bytes(payload[:4], "big")
            if msg_id > PROTOBUF_MSG_ID:
                return proto_codec.decode(msg_id - PROTOBUF_MSG_ID, payload[4:])
            return text_codec.decode(msg_id, text_fields.split_fields(payload[4:]), server_version)
        fields = text_fields.split_fields(payload)
        if not fields:
            raise MalformedMessage("empty message")
        msg_id = text_fields.parse_int(fields[0])  # read like every int field: an empty id is 0, i.e. unknown
        if msg_id is None:
            raise MalformedMessage(f"message id is not a number: {fields[0]!r}")
        return text_codec.decode(msg_id, fields[1:], server_version)
    except MalformedMessage:
        raise
    except Exception as exc:  # the contract is MalformedMessage only, whatever the bytes
        raise MalformedMessage(f"undecodable message: {exc!r}") from exc


class ReplyEncoder:
    """Builds complete reply frames (length prefix included) for one connection's negotiated version."""

    def __init__(self, server_version: int) -> None:
        if not MIN_VERSION <= server_version <= max_supported_version():
            raise ValueError(f"server version {server_version} outside {MIN_VERSION}..{max_supported_version()}")
        self.version = server_version

    def _proto(self, name: str) -> bool:
        return self.version >= REPLY_PROTOBUF_FROM[name]

    def _text(self, msg_id: int, fields: Sequence[text_fields.Field]) -> bytes:
        body = text_fields.encode_fields(fields)
        if self.version >= MIN_SERVER_VER_PROTOBUF:
            return _frame(msg_id.to_bytes(4, "big") + body)
        return _frame(text_fields.encode_fields([msg_id]) + body)

    def _either(self, name: str, msg_id: int, proto: Callable[[], bytes],
                text: Callable[[], Sequence[text_fields.Field]]) -> bytes:
        if self._proto(name):
            return _frame((msg_id + PROTOBUF_MSG_ID).to_bytes(4, "big") + proto())
        return self._text(msg_id, text())

    def managed_accounts(self, accounts: str) -> bytes:
        return self._either("managed_accounts", text_codec.IN_MANAGED_ACCTS,
                            lambda: proto_codec.managed_accounts(accounts),
                            lambda: text_codec.managed_accounts(accounts, self.version))

    def next_valid_id(self, order_id: int) -> bytes:
        return self._either("next_valid_id", text_codec.IN_NEXT_VALID_ID,
                            lambda: proto_codec.next_valid_id(order_id), lambda: [1, order_id])

    def current_time(self, epoch_seconds: int) -> bytes:
        return self._either("current_time", text_codec.IN_CURRENT_TIME,
                            lambda: proto_codec.current_time(epoch_seconds), lambda: [1, epoch_seconds])

    def error(self, req_id: int, code: int, message: str, error_time_ms: int, advanced_json: str = "") -> bytes:
        return self._either("error", text_codec.IN_ERR_MSG,
                            lambda: proto_codec.error(req_id, code, message, error_time_ms, advanced_json),
                            lambda: text_codec.error(req_id, code, message, error_time_ms, advanced_json,
                                                     self.version))

    def contract_data(self, req_id: int, details: ContractDetailsInfo) -> bytes:
        return self._either("contract_data", text_codec.IN_CONTRACT_DATA,
                            lambda: proto_codec.contract_data(req_id, details),
                            lambda: text_codec.contract_data(req_id, details, self.version))

    def contract_data_end(self, req_id: int) -> bytes:
        return self._either("contract_data_end", text_codec.IN_CONTRACT_DATA_END,
                            lambda: proto_codec.contract_data_end(req_id), lambda: [1, req_id])

    def historical_data(self, req_id: int, bars: Sequence[Bar], start: str, end: str) -> bytes:
        """Below 196 the frame carries start/end and the client fires historicalDataEnd itself."""
        return self._either("historical_data", text_codec.IN_HISTORICAL_DATA,
                            lambda: proto_codec.historical_data(req_id, bars),
                            lambda: text_codec.historical_data(req_id, bars, start, end, self.version))

    def historical_data_end(self, req_id: int, start: str, end: str) -> bytes:
        """b"" below 196: there is no such message yet (historicalData carried the end)."""
        if self.version < text_codec.V_HISTORICAL_DATA_END:
            return b""
        return self._either("historical_data_end", text_codec.IN_HISTORICAL_DATA_END,
                            lambda: proto_codec.historical_data_end(req_id, start, end), lambda: [req_id, start, end])

    def historical_data_update(self, req_id: int, bar: Bar) -> bytes:
        return self._either("historical_data_update", text_codec.IN_HISTORICAL_DATA_UPDATE,
                            lambda: proto_codec.historical_data_update(req_id, bar),
                            lambda: text_codec.historical_data_update(req_id, bar, self.version))

    def end_marker(self, name: str, value: int | str | None = None) -> bytes:
        """An empty answer's end: `name` one of account_codec.REPLY_IDS (positionEnd, openOrderEnd, execDetailsEnd
        with its reqId, accountDownloadEnd with its account, ...)."""
        return self._either(name, account_codec.REPLY_IDS[name], lambda: account_codec.end_marker_proto(name, value),
                            lambda: account_codec.end_marker_text(name, value))

    def symbol_samples(self, req_id: int, found: Sequence[SymbolDescription]) -> bytes:
        return self._either("symbol_samples", symbol_codec.IN_SYMBOL_SAMPLES,
                            lambda: symbol_codec.symbol_samples_proto(req_id, found),
                            lambda: symbol_codec.symbol_samples_text(req_id, found, self.version))

    def head_timestamp(self, req_id: int, timestamp: str) -> bytes:
        return self._either("head_timestamp", text_codec.IN_HEAD_TIMESTAMP,
                            lambda: proto_codec.head_timestamp(req_id, timestamp), lambda: [req_id, timestamp])


__all__ = [
    "MIN_VERSION",
    "PROTOBUF_AVAILABLE",
    "REPLY_PROTOBUF_FROM",
    "REQUEST_PROTOBUF_FROM",
    "MalformedMessage",
    "ReplyEncoder",
    "UnknownMessage",
    "decode_request",
    "handshake_reply",
    "max_supported_version",
    "parse_version_range",
]
