"""HTTP/1.1 over a plain socket, for tests that need what no client library sends (malformed chunks, NUL in a header,
a broken request line) or need to see the connection itself (reused, closed, a second answer where none belongs)."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One TCP connection to 127.0.0.1:`port` (from `source`, another loopback address, when given); every read has a
    deadline."""

    def __init__(self, port: int, timeout: float = 15.0, source: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.timeout = timeout
        self._buffer = b""

    @property
    def local_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def send(self, data: bytes) -> RawConnection:
        self.sock.sendall(data)
        return self

    def answer(self) -> RawAnswer:
        """Read one whole answer (Content-Length or chunked framing)."""
        head = self._read_until(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ")[1])
        if "content-length" in headers:
            body = self._read_exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rest()
        return RawAnswer(status, headers, body)

    def exchange(self, data: bytes) -> RawAnswer:
        return self.send(data).answer()

    def rest(self) -> bytes:
        """Everything the peer sends until it closes the connection (fails if it stays open past the deadline)."""
        data = self._buffer
        self._buffer = b""
        while chunk := self._recv():
            data += chunk
        return data

    def closed_by_peer(self) -> bool:
        """Whether the peer closed the connection without sending anything more."""
        return self.rest() == b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def _read_until(self, marker: bytes) -> bytes:
        deadline = time.monotonic() + self.timeout
        while marker not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {marker!r} within {self.timeout} s; got {self._buffer[:200]!r}")
            chunk = self._recv()
            if not chunk:
                raise ConnectionError(f"closed before {marker!r}; got {self._buffer[:200]!r}")
            self._buffer += chunk
        data, _, self._buffer = self._buffer.partition(marker)
        return data

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            chunk = self._recv()
            if not chunk:
                raise ConnectionError(f"closed after {len(self._buffer)} of {count} body bytes")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
            body += self._read_exactly(size)
            self._read_until(b"\r\n")
        self._read_until(b"\r\n")  # no trailers from our servers
        return body


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
            chunked: bytes | None = None) -> bytes:
    """A request's bytes: with `body` and its Content-Length, or with `chunked` as the raw chunked body as given."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if chunked is not None:
        lines.append("Transfer-Encoding: chunked")
        payload = chunked
    else:
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
