"""Event-stream clients for end-to-end tests and the bench: raw HTTP/1.1 GETs on loopback, many of them served by one
selector thread, each response's chunked body decoded and parsed into events (tests/sse.py) as bytes arrive, every
event stamped with the wall-clock time it was read (to compare with the simulator's send times)."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from tests.sse import Event, SseParser


@dataclass(frozen=True)
class Received:
    event: Event
    at: float  # time.time() when it was read


@dataclass(eq=False)
class StreamConnection:
    """One stream: the request sent at once, the answer read by a `StreamReaders` thread."""

    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    parser: SseParser = field(default_factory=SseParser)
    ended: bool = False  # the server ended the answer, or the connection closed
    bytes_read: int = 0
    sock: socket.socket | None = None
    _raw: bytes = b""
    _head_done: bool = False
    _chunked: bool = False
    _chunk_left: int = 0  # bytes of the current chunk still to read; -1: reading its trailing CRLF

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Accept": "text/event-stream",
                                                    **self.headers}.items())
        self.sock.sendall(f"GET {self.path} HTTP/1.1\r\n{head}\r\n".encode())
        self.sock.setblocking(False)

    @property
    def events(self) -> list[Event]:
        return [r.event for r in list(self.received)]

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def bar_times(self) -> list[int]:
        return [e.data["time"] for e in self.of_kind("bar")]

    def read_ready(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return
        self.bytes_read += len(data)
        now = time.time()
        self._raw += data
        if not self._head_done:
            head, sep, rest = self._raw.partition(b"\r\n\r\n")
            if not sep:
                return
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split(" ")[1])
            self.response_headers = {k.strip().lower(): v.strip() for k, _, v in
                                     (line.partition(":") for line in lines[1:])}
            self._chunked = self.response_headers.get("transfer-encoding", "").lower() == "chunked"
            self._head_done, self._raw = True, rest
        body = self._body()
        if body:
            self.received.extend(Received(event, now) for event in self.parser.feed(body))

    def _body(self) -> bytes:
        if not self._chunked:
            body, self._raw = self._raw, b""
            return body
        out = bytearray()
        while self._raw:
            if self._chunk_left > 0:
                take = self._raw[:self._chunk_left]
                out += take
                self._raw = self._raw[len(take):]
                self._chunk_left -= len(take)
                if self._chunk_left == 0:
                    self._chunk_left = -1
            elif self._chunk_left == -1:
                if len(self._raw) < 2:
                    break
                self._raw, self._chunk_left = self._raw[2:], 0
            else:
                line, sep, rest = self._raw.partition(b"\r\n")
                if not sep:
                    break
                size = int(line.split(b";")[0], 16)
                self._raw = rest
                if size == 0:
                    self.ended = True
                    break
                self._chunk_left = size
        return bytes(out)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.ended = True


class StreamReaders:
    """A thread reading any number of `StreamConnection`s (one selector); connections may be added any time."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._pending: list[StreamConnection] = []
        self._dropping: list[tuple[StreamConnection, threading.Event]] = []
        self._stop = threading.Event()
        self.connections: list[StreamConnection] = []
        self._thread = threading.Thread(target=self._run, name="stream-readers", daemon=True)
        self._thread.start()

    def open(self, port: int, path: str, headers: dict[str, str] | None = None) -> StreamConnection:
        conn = StreamConnection(port, path, dict(headers or {}))
        conn.connect()
        with self._lock:
            self._pending.append(conn)
            self.connections.append(conn)
        return conn

    def open_bars(self, port: int, headers: dict[str, str] | None = None, **query: object) -> StreamConnection:
        return self.open(port, f"/api/v1/bars/stream?{urlencode(query)}", headers)

    def drop(self, conn: StreamConnection) -> None:
        """The client's own disconnect (made by the reading thread, which owns the selector)."""
        done = threading.Event()
        with self._lock:
            self._dropping.append((conn, done))
        if not done.wait(5):
            raise AssertionError("the reader thread did not drop the connection")

    def _unregister(self, conn: StreamConnection) -> None:
        try:
            self._selector.unregister(conn.sock)  # type: ignore[arg-type]
        except (KeyError, ValueError, OSError):
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pending, self._pending = self._pending, []
                dropping, self._dropping = self._dropping, []
            for conn, done in dropping:
                if conn in pending:
                    pending.remove(conn)
                self._unregister(conn)
                conn.close()
                done.set()
            for conn in pending:
                if not conn.ended:
                    self._selector.register(conn.sock, selectors.EVENT_READ, conn)  # type: ignore[arg-type]
            for key, _ in self._selector.select(0.02):
                conn = key.data
                conn.read_ready()
                if conn.ended:
                    self._unregister(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in list(self.connections):
            conn.close()
        self._selector.close()
