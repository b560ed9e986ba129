"""The app <-> worker message protocol over ZeroMQ: versioned JSON envelopes (never pickle).

Request:  {"v": 1, "id": "<hex>", "op": "bars" | "health" | "connect" | "disconnect" | "stream_open" |
           "stream_interest" | "job" | "job_cancel" | "head" | "metrics" | "contracts" | "symbol_search",
           "body": {...}, "deadline": <epoch seconds>}
Reply:    {"v": 1, "id": "<same>", "ok": true, "result": {...}}  or  {"v": 1, "id": ..., "ok": false, "error": {...}}
          A result whose bars the worker holds as JSON already (the store's blocks, `BarsJson`) says
          `"bars_frame": true` and carries them as a second frame: the bars' JSON array, passed through as bytes by
          the HTTP side into its answer, never parsed into objects and encoded again.

The stream operations' bodies and results, and the events the worker publishes, are in shared/streams.py; the
history jobs' and the head timestamp's in shared/history.py; the contract look-ups' in shared/contract_lookup.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from shared.errors import BridgeError

PROTOCOL_VERSION = 1
OPERATIONS = ("bars", "health", "connect", "disconnect", "stream_open", "stream_interest", "job", "job_cancel", "head",
              "metrics",  # metrics: the worker's figures as plain numbers, for GET /metrics (worker/metrics.py)
              "contracts", "symbol_search")  # GET /api/v1/contracts and /api/v1/contracts/search
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
class BarsJson:
    """Bars already encoded as one JSON array (b"[{...},...]") and their count."""

    data: bytes
    count: int

    def decoded(self) -> list[dict[str, Any]]:
        """The bars as objects (tests, tools; the HTTP side never needs them)."""
        bars = orjson.loads(self.data)
        if not isinstance(bars, list):
            raise ProtocolError("bars must be a JSON array")
        return bars


@dataclass(frozen=True)
class WorkerReply:
    id: str
    result: dict[str, Any] | None = None
    error: BridgeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def encode(self) -> bytes:
        """One frame: bars held as JSON are inlined (the form for a peer that reads one frame)."""
        if self.error is not None:
            return orjson.dumps({"v": PROTOCOL_VERSION, "id": self.id, "ok": False, "error": self.error.to_wire()})
        result = self.result
        if result is not None and isinstance(result.get("bars"), BarsJson):
            result = {**result, "bars": orjson.Fragment(result["bars"].data)}
        return orjson.dumps({"v": PROTOCOL_VERSION, "id": self.id, "ok": True, "result": result})

    def with_bars_decoded(self) -> WorkerReply:
        """The same reply with bars held as JSON turned into objects (tests, tools)."""
        result = self.result
        if result is None or not isinstance(result.get("bars"), BarsJson):
            return self
        return WorkerReply(self.id, result={**result, "bars": result["bars"].decoded()}, error=self.error)

    def frames(self) -> list[bytes]:
        """The reply as ZeroMQ frames: the envelope, and the bars' JSON as a frame of its own when held as JSON."""
        result = self.result
        if self.error is None and result is not None and isinstance(result.get("bars"), BarsJson):
            bars = result["bars"]
            envelope = {**result, "bars": None, "bars_frame": True, "count": bars.count}
            return [orjson.dumps({"v": PROTOCOL_VERSION, "id": self.id, "ok": True, "result": envelope}), bars.data]
        return [self.encode()]


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


def decode_reply(data: bytes | list[bytes]) -> WorkerReply:
    """A reply from its frames (or its one frame). A bars frame is checked for its shape, not parsed: it is the
    worker's orjson output, passed on as it is."""
    frames = [data] if isinstance(data, bytes) else list(data)
    if not 1 <= len(frames) <= 2:
        raise ProtocolError(f"a reply has one or two frames, not {len(frames)}")
    msg = _load(frames[0])
    if msg.get("ok") is True:
        result = msg.get("result")
        if not isinstance(result, dict):
            raise ProtocolError("result must be an object")
        if result.get("bars_frame") is True:
            count = result.get("count")
            if len(frames) != 2 or not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ProtocolError("a bars frame needs its frame and a count")
            bars = frames[1]
            if len(bars) > MAX_MESSAGE_BYTES or bars[:1] != b"[" or bars[-1:] != b"]":
                raise ProtocolError("a bars frame is one JSON array")
            result = {k: v for k, v in result.items() if k != "bars_frame"} | {"bars": BarsJson(bars, count)}
        elif len(frames) != 1:
            raise ProtocolError("a second frame without bars_frame")
        return WorkerReply(msg["id"], result=result)
    try:
        return WorkerReply(msg["id"], error=BridgeError.from_wire(msg.get("error")))
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None
