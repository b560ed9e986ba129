"""The app <-> worker message protocol over ZeroMQ: versioned JSON envelopes (never pickle).

Request:  {"v": 1, "id": "<hex>", "op": "bars" | "health" | "connect" | "disconnect" | "stream_open" |
           "stream_interest" | "job" | "job_cancel" | "head", "body": {...}, "deadline": <epoch seconds>}
Reply:    {"v": 1, "id": "<same>", "ok": true, "result": {...}}  or  {"v": 1, "id": ..., "ok": false, "error": {...}}

The stream operations' bodies and results, and the events the worker publishes, are in shared/streams.py; the
history jobs' and the head timestamp's in shared/history.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from shared.errors import BridgeError

PROTOCOL_VERSION = 1
OPERATIONS = ("bars", "health", "connect", "disconnect", "stream_open", "stream_interest", "job", "job_cancel", "head")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ProtocolError(ValueError):
    """A message that is not a valid envelope; the receiver answers it with an error or drops it."""


@dataclass(frozen=True)
class WorkerRequest:
    id: str
    op: str
    body: dict[str, Any]
    deadline: float  # epoch seconds after which nobody waits for the answer

    def encode(self) -> bytes:
        return orjson.dumps({"v": PROTOCOL_VERSION, "id": self.id, "op": self.op, "body": self.body,
                             "deadline": self.deadline})

    @staticmethod
    def new(op: str, body: dict[str, Any], deadline: float) -> WorkerRequest:
        return WorkerRequest(secrets.token_hex(8), op, body, deadline)


@dataclass(frozen=True)
class WorkerReply:
    id: str
    result: dict[str, Any] | None = None
    error: BridgeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def encode(self) -> bytes:
        if self.error is not None:
            return orjson.dumps({"v": PROTOCOL_VERSION, "id": self.id, "ok": False, "error": self.error.to_wire()})
        return orjson.dumps({"v": PROTOCOL_VERSION, "id": self.id, "ok": True, "result": self.result})


def _load(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError("message too large")
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict) or msg.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"not a version {PROTOCOL_VERSION} envelope")
    if not isinstance(msg.get("id"), str) or not 0 < len(msg["id"]) <= 64:
        raise ProtocolError("envelope without a valid id")
    return msg


def decode_request(data: bytes) -> WorkerRequest:
    msg = _load(data)
    op, body, deadline = msg.get("op"), msg.get("body", {}), msg.get("deadline")
    if op not in OPERATIONS:
        raise ProtocolError(f"unknown operation {op!r}")
    if not isinstance(body, dict):
        raise ProtocolError("body must be an object")
    if not isinstance(deadline, int | float):
        raise ProtocolError("deadline must be a number")
    return WorkerRequest(msg["id"], op, body, float(deadline))


def decode_reply(data: bytes) -> WorkerReply:
    msg = _load(data)
    if msg.get("ok") is True:
        result = msg.get("result")
        if not isinstance(result, dict):
            raise ProtocolError("result must be an object")
        return WorkerReply(msg["id"], result=result)
    try:
        return WorkerReply(msg["id"], error=BridgeError.from_wire(msg.get("error")))
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None
