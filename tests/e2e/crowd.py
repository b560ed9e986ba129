"""Many client connections to one server, driven from one thread with a selector (not a thread per connection):
slow-loris clients trickling a request line or a header, a body trickling after its header, idle keep-alive clients,
and requests whose answer never comes. Every connection's bytes received and the moment it was closed are recorded."""

from __future__ import annotations

import resource
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TRICKLE_EVERY = 0.5  # seconds between two bytes of a slow client


@dataclass(frozen=True)
class Kind:
    name: str
    first: bytes  # sent at once on connect
    trickle: bytes = b""  # then one of these every TRICKLE_EVERY seconds, until the server closes


@dataclass(eq=False)
class Client:
    kind: Kind
    sock: socket.socket
    opened: float
    next_send: float
    received: bytes = b""
    closed_at: float | None = None
    last_sent: float = 0.0

    @property
    def open_for(self) -> float | None:
        return None if self.closed_at is None else self.closed_at - self.opened

    @property
    def answers(self) -> int:
        return self.received.count(b"HTTP/1.1 ")


def request_bytes(method: str, path: str, body: bytes = b"", content_length: int | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if method == "POST":
        length = len(body) if content_length is None else content_length
        head += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def raise_open_file_limit(needed: int) -> None:
    """The test process holds `needed` sockets at once: raise its soft limit when lower (never above the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise AssertionError(f"the test needs {needed} open files; this machine's hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@dataclass
class Crowd:
    port: int
    clients: list[Client] = field(default_factory=list)
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)

    def open(self, kind: Kind, count: int) -> list[Client]:
        made = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(kind.first)
            sock.setblocking(False)
            now = time.monotonic()
            client = Client(kind, sock, now, now + TRICKLE_EVERY, last_sent=now)
            self.selector.register(sock, selectors.EVENT_READ, client)
            made.append(client)
        self.clients += made
        return made

    def of(self, kind: Kind) -> list[Client]:
        return [c for c in self.clients if c.kind is kind]

    def send(self, clients: list[Client], data: bytes) -> None:
        for client in clients:
            client.sock.setblocking(True)
            client.sock.sendall(data)
            client.sock.setblocking(False)

    def run(self, until: float, done: Callable[[], bool] = lambda: False) -> None:
        """Trickle, read and record closes until `until` (monotonic) or until `done()`."""
        while (now := time.monotonic()) < until and not done():
            for key, _ in self.selector.select(timeout=min(0.05, max(0.0, until - now))):
                self._read(key.data)
            now = time.monotonic()
            for client in self.clients:
                if client.closed_at is None and client.kind.trickle and now >= client.next_send:
                    try:
                        client.sock.send(client.kind.trickle)
                        client.last_sent = now
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:  # the server closed it; the read side records when
                        self._read(client)
                    client.next_send = now + TRICKLE_EVERY

    def close(self) -> None:
        for client in self.clients:
            if client.closed_at is None:
                self.selector.unregister(client.sock)
            client.sock.close()
        self.selector.close()

    def _read(self, client: Client) -> None:
        if client.closed_at is not None:
            return
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the server
            data = b""
        if data:
            client.received += data
            return
        client.closed_at = time.monotonic()
        self.selector.unregister(client.sock)
