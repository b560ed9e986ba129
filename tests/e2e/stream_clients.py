"""Event-stream clients for end-to-end tests and the bench: raw HTTP/1.1 GETs on loopback, many of them served by one
selector thread, each response's chunked body decoded and parsed into events (tests/sse.py) as bytes arrive, every
event stamped with the wall-clock time it was read (to compare with the simulator's send times)."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
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
    _inbox: list[tuple[float, bytes]] = field(default_factory=list)  # read, not parsed yet
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

    def receive(self) -> None:
        """Read what arrived, stamped now; parsing waits until every ready connection was read, so that one
        connection's parsing never delays another's time stamp."""
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
        self._inbox.append((time.time(), data))

    def process(self) -> None:
        inbox, self._inbox = self._inbox, []
        for at, data in inbox:
            self._parse(at, data)

    def _parse(self, now: float, data: bytes) -> None:
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
    """A thread reading any number of `StreamConnection`s (one selector); connections may be added any time. The
    thread owns the selector and the sockets: other threads hand it work (`_call`)."""

    def __init__(self, loads: Callable[[str], Any] | None = None) -> None:
        self._loads = loads
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._calls: list[tuple[Callable[[], None], threading.Event]] = []
        self._stop = threading.Event()
        self._parsing = True
        self.connections: list[StreamConnection] = []
        self._thread = threading.Thread(target=self._run, name="stream-readers", daemon=True)
        self._thread.start()

    def open(self, port: int, path: str, headers: dict[str, str] | None = None) -> StreamConnection:
        conn = StreamConnection(port, path, dict(headers or {}))
        if self._loads is not None:
            conn.parser.loads = self._loads
        conn.connect()
        self.connections.append(conn)
        self._call(lambda: self._selector.register(conn.sock, selectors.EVENT_READ, conn))  # type: ignore[arg-type]
        return conn

    def open_bars(self, port: int, headers: dict[str, str] | None = None, **query: object) -> StreamConnection:
        return self.open(port, f"/api/v1/bars/stream?{urlencode(query)}", headers)

    def drop(self, conn: StreamConnection) -> None:
        """The client's own disconnect."""
        def drop() -> None:
            self._unregister(conn)
            conn.close()
        self._call(drop)

    def hold_parsing(self) -> None:
        """From now on only read and stamp (a measuring window: no parsing delays the next read)."""
        def hold() -> None:
            self._parsing = False
        self._call(hold)

    def parse_held(self) -> None:
        """Parse everything read while parsing was held, and parse as bytes come again."""
        def resume() -> None:
            self._parsing = True
            for conn in self.connections:
                conn.process()
        self._call(resume)

    def _call(self, work: Callable[[], None]) -> None:
        done = threading.Event()
        with self._lock:
            self._calls.append((work, done))
        if not done.wait(30):
            raise AssertionError("the reader thread did not do what it was asked")

    def _unregister(self, conn: StreamConnection) -> None:
        try:
            self._selector.unregister(conn.sock)  # type: ignore[arg-type]
        except (KeyError, ValueError, OSError):
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                calls, self._calls = self._calls, []
            for work, done in calls:
                work()
                done.set()
            ready = [key.data for key, _ in self._selector.select(0.02)]  # epoll: an empty one waits too
            for conn in ready:
                conn.receive()
            for conn in ready:
                if self._parsing:
                    conn.process()
                if conn.ended:
                    self._unregister(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in list(self.connections):
            conn.close()
        self._selector.close()
