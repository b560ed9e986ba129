"""A bare TWS socket client for tests that must control every byte: field layouts other libraries send, bursts.

Speaks the text protocol (server versions below 201): it writes the frames it is given, verbatim, and reads the
simulator's replies back as lists of text fields.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Sequence

DEADLINE_S = 10.0
Frame = list[str]


def text_frame(*fields: object) -> bytes:
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack("!I", len(payload)) + payload


class RawClient:
    """One connection: `API\\0`, a version range, then frames in and out."""

    def __init__(self, port: int, version_range: str = "v100..157", host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=DEADLINE_S)
        self._buffer = b""
        self.frames: list[Frame] = []
        self.closed = False
        self.sock.sendall(b"API\0" + struct.pack("!I", len(version_range)) + version_range.encode())
        version, _time = self._next_frame(time.monotonic() + DEADLINE_S)
        self.server_version = int(version)

    def start_api(self, client_id: int = 1) -> None:
        self.send(71, 2, client_id, "")
        self.wait_for(lambda frames: any(f[:1] == ["4"] and "2158" in f for f in frames))

    def send(self, *fields: object) -> None:
        self.sock.sendall(text_frame(*fields))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _next_frame(self, deadline: float) -> Frame:
        while True:
            if len(self._buffer) >= 4:
                (size,) = struct.unpack("!I", self._buffer[:4])
                if len(self._buffer) >= 4 + size:
                    payload, self._buffer = self._buffer[4:4 + size], self._buffer[4 + size:]
                    return payload.decode().split("\0")[:-1]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                raise ConnectionError("closed by the server")
            self._buffer += chunk

    def wait_for(self, predicate: Callable[[list[Frame]], object], timeout: float = DEADLINE_S) -> list[Frame]:
        """Read frames until predicate(all frames so far) is truthy; fail at the deadline or on a close."""
        deadline = time.monotonic() + timeout
        while not predicate(self.frames):
            try:
                self.frames.append(self._next_frame(deadline))
            except (TimeoutError, ConnectionError) as exc:
                raise AssertionError(f"{exc}; frames so far: {self.frames[-10:]}") from None
        return self.frames

    def wait_closed(self, timeout: float = DEADLINE_S) -> None:
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.frames.append(self._next_frame(deadline))
        except ConnectionError:
            return

    def of(self, msg_id: int) -> list[Frame]:
        return [f for f in self.frames if f[:1] == [str(msg_id)]]

    def close(self) -> None:
        self.sock.close()


def errors(frames: Sequence[Frame]) -> list[tuple[int, int, str]]:
    """(reqId, code, message) of every error frame below version 166 ([4, 2, reqId, code, message])."""
    return [(int(f[2]), int(f[3]), f[4]) for f in frames if f[:1] == ["4"]]
