"""A record of every message the simulator received and every error it sent, and (when asked) every keepUpToDate
update it sent.

Tests count upstream requests with it ("100 identical bridge requests caused one reqHistoricalData"), and
`--log-requests FILE` writes the same records as JSON lines for runs outside pytest.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sim import account_messages
from sim.messages import Request, UnknownMessage


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as received: `name` is the request's class name, `fields` its decoded values, `wall` the real
    epoch time (time.time()) when it arrived, so tests can measure the rate a client sends at."""

    seq: int
    wall: float
    sim_time: float
    connection: int
    client_id: int | None
    msg_id: int
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class SentError:
    """One error/notice frame sent to a client (pacing violations, 200, 321, farm status ...)."""

    seq: int
    wall: float  # real epoch time when it was sent
    connection: int
    client_id: int | None
    req_id: int
    code: int
    message: str


@dataclass(frozen=True)
class SentUpdate:
    """One keepUpToDate update sent (recorded while `record_updates` is on): `wall` is the real epoch time just before
    it was written to the client's socket, so a test can measure how long the update took to reach a stream client."""

    seq: int
    wall: float
    connection: int
    client_id: int | None
    req_id: int
    bar: dict[str, Any]  # date, open, high, low, close, volume, wap, count as sent


_MSG_IDS = {
    "StartApi": 71, "RequestIds": 8, "RequestCurrentTime": 49, "RequestMarketDataType": 59,
    "RequestContractDetails": 9, "RequestHistoricalData": 20, "CancelHistoricalData": 25,
    "RequestHeadTimestamp": 87, "CancelHeadTimestamp": 90,
}


class RequestLog:
    """Append-only and thread-safe: the server's loop writes, test threads read."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._received: list[ReceivedMessage] = []
        self._errors: list[SentError] = []
        self._updates: list[SentUpdate] = []
        self.recording_updates = False  # off by default: a stream sends many updates a second, for hours
        self._seq = 0
        self._file: IO[str] | None = path.open("a", encoding="utf-8") if path else None

    def record_request(self, request: Request, connection: int, client_id: int | None, sim_time: float,
                       wall: float | None = None) -> None:
        if isinstance(request, UnknownMessage):
            msg_id, fields = request.msg_id, {"fields": list(request.fields)}
        else:
            msg_id = _MSG_IDS.get(type(request).__name__) or account_messages.MSG_IDS.get(type(request), -1)
            fields = dataclasses.asdict(request)
        with self._lock:
            self._seq += 1
            rec = ReceivedMessage(self._seq, time.time() if wall is None else wall, sim_time, connection, client_id,
                                  msg_id, type(request).__name__, fields)
            self._received.append(rec)
            self._write({"kind": "request", **dataclasses.asdict(rec)})

    def record_error(self, connection: int, client_id: int | None, req_id: int, code: int, message: str) -> None:
        with self._lock:
            self._seq += 1
            rec = SentError(self._seq, time.time(), connection, client_id, req_id, code, message)
            self._errors.append(rec)
            self._write({"kind": "error", **dataclasses.asdict(rec)})

    def record_update(self, connection: int, client_id: int | None, req_id: int, bar: Any) -> None:
        if not self.recording_updates:
            return
        with self._lock:
            self._seq += 1
            rec = SentUpdate(self._seq, time.time(), connection, client_id, req_id,
                             {k: str(v) if isinstance(v, Decimal) else v for k, v in dataclasses.asdict(bar).items()})
            self._updates.append(rec)
            self._write({"kind": "update", **dataclasses.asdict(rec)})

    def updates(self) -> list[SentUpdate]:
        with self._lock:
            return list(self._updates)

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record, default=str) + "\n")
            self._file.flush()

    def received(self, name: str | None = None,
                 where: Callable[[ReceivedMessage], bool] | None = None) -> list[ReceivedMessage]:
        with self._lock:
            items = list(self._received)
        return [r for r in items if (name is None or r.name == name) and (where is None or where(r))]

    def errors(self, code: int | None = None) -> list[SentError]:
        with self._lock:
            items = list(self._errors)
        return [e for e in items if code is None or e.code == code]

    def pacing_violations(self) -> list[SentError]:
        """Errors that IB counts as pacing: 162 pacing violation and 322 too many open requests."""
        return [e for e in self.errors() if (e.code == 162 and "pacing" in e.message) or e.code == 322]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._errors.clear()
            self._updates.clear()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


