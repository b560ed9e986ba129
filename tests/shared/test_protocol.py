"""The app <-> worker envelopes: versioned JSON, strict on the way in."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import shared.protocol
from shared.errors import BridgeError, ErrorCode
from shared.protocol import (
    MAX_MESSAGE_BYTES,
    OPERATIONS,
    PROTOCOL_VERSION,
    ProtocolError,
    WorkerReply,
    WorkerRequest,
    decode_reply,
    decode_request,
)


def envelope(**fields: Any) -> bytes:
    return orjson.dumps({"v": PROTOCOL_VERSION, "id": "abc123", "op": "bars", "body": {}, "deadline": 1.0, **fields})


def without(key: str) -> bytes:
    msg = orjson.loads(envelope())
    del msg[key]
    return orjson.dumps(msg)


# ---- requests ----------------------------------------------------------------------------------------------------

def test_the_history_operations_are_known() -> None:
    assert {"job", "job_cancel", "head"} <= set(OPERATIONS)


@pytest.mark.parametrize("op", OPERATIONS)
def test_request_round_trip(op: str) -> None:
    request = WorkerRequest("0123abcd", op, {"symbol": "AAPL", "n": [1, 2]}, 1737993750.25)
    assert decode_request(request.encode()) == request


def test_new_requests_get_distinct_hex_ids() -> None:
    a, b = WorkerRequest.new("health", {}, 1.0), WorkerRequest.new("health", {}, 1.0)
    assert a.id != b.id
    assert int(a.id, 16) >= 0 and 0 < len(a.id) <= 64


def test_the_envelope_is_json_with_a_version() -> None:
    wire = orjson.loads(WorkerRequest("x1", "health", {}, 2.0).encode())
    assert wire == {"v": 1, "id": "x1", "op": "health", "body": {}, "deadline": 2.0}


def test_a_missing_body_is_empty() -> None:
    assert decode_request(without("body")).body == {}


def test_an_integer_deadline_becomes_a_float() -> None:
    deadline = decode_request(envelope(deadline=5)).deadline
    assert deadline == 5.0 and isinstance(deadline, float)


@pytest.mark.parametrize(("data", "why"), [
    (envelope(v=2), "version"),
    (envelope(v="1"), "version"),
    (without("v"), "version"),
    (without("id"), "id"),
    (envelope(id=""), "id"),
    (envelope(id=7), "id"),
    (envelope(id="x" * 65), "id"),
    (envelope(op="shutdown"), "operation"),
    (without("op"), "operation"),
    (envelope(body=[]), "body"),
    (envelope(body="AAPL"), "body"),
    (envelope(body=None), "body"),
    (envelope(deadline="soon"), "deadline"),
    (without("deadline"), "deadline"),
    (b"[1, 2]", "version"),
    (b"not json", "JSON"),
    (b"", "JSON"),
    (b"\xff\xfe", "JSON"),
    (b'{"v": 1, "id": "a"', "JSON"),
])
def test_decode_request_refuses_bad_envelopes(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        decode_request(data)


def test_oversize_messages_are_refused_before_parsing() -> None:
    data = b"{" + b" " * MAX_MESSAGE_BYTES + b"}"
    with pytest.raises(ProtocolError, match="too large"):
        decode_request(data)
    with pytest.raises(ProtocolError, match="too large"):
        decode_reply(data)


def test_a_message_at_the_limit_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = envelope()
    monkeypatch.setattr(shared.protocol, "MAX_MESSAGE_BYTES", len(data))
    assert decode_request(data).id == "abc123"
    monkeypatch.setattr(shared.protocol, "MAX_MESSAGE_BYTES", len(data) - 1)
    with pytest.raises(ProtocolError, match="too large"):
        decode_request(data)


# ---- replies -----------------------------------------------------------------------------------------------------

def test_result_reply_round_trip() -> None:
    reply = WorkerReply("abc", result={"bars": [{"time": 1, "open": 1.5}], "notice": None})
    decoded = decode_reply(reply.encode())
    assert decoded == reply
    assert decoded.ok


def test_error_reply_keeps_code_tws_code_and_retry_after() -> None:
    error = BridgeError(ErrorCode.PACING_LIMITED, "TWS pacing: slow down", tws_code=162, retry_after=15)
    decoded = decode_reply(WorkerReply("abc", error=error).encode())
    assert not decoded.ok
    assert decoded.result is None
    assert decoded.error is not None
    assert decoded.error.code is ErrorCode.PACING_LIMITED
    assert decoded.error.message == "TWS pacing: slow down"
    assert decoded.error.tws_code == 162
    assert decoded.error.retry_after == 15.0


def test_error_reply_without_optional_fields() -> None:
    decoded = decode_reply(WorkerReply("abc", error=BridgeError(ErrorCode.TWS_UNAVAILABLE, "down")).encode())
    assert decoded.error == BridgeError(ErrorCode.TWS_UNAVAILABLE, "down")


def test_error_reply_keeps_per_field_messages() -> None:
    error = BridgeError(ErrorCode.INVALID_REQUEST, "symbol: bad", fields={"symbol": "bad"})
    assert decode_reply(WorkerReply("abc", error=error).encode()).error == error


def test_an_unknown_error_code_becomes_internal_error() -> None:
    data = orjson.dumps({"v": 1, "id": "abc", "ok": False, "error": {"code": "from_the_future", "message": "?"}})
    error = decode_reply(data).error
    assert error is not None and error.code is ErrorCode.INTERNAL_ERROR and error.message == "?"


@pytest.mark.parametrize(("data", "why"), [
    (orjson.dumps({"v": 1, "id": "a", "ok": True}), "result"),
    (orjson.dumps({"v": 1, "id": "a", "ok": True, "result": [1]}), "result"),
    (orjson.dumps({"v": 1, "id": "a", "ok": False}), "error"),
    (orjson.dumps({"v": 1, "id": "a", "ok": False, "error": "boom"}), "error"),
    (orjson.dumps({"v": 2, "id": "a", "ok": True, "result": {}}), "version"),
    (orjson.dumps({"v": 1, "ok": True, "result": {}}), "id"),
    (b"{", "JSON"),
])
def test_decode_reply_refuses_bad_envelopes(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        decode_reply(data)
