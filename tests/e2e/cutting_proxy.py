"""A loopback TCP proxy a test can cut: every connection through it is closed at once, as a network failure would
(the client sees its connection end mid-stream), while new connections pass again."""

from __future__ import annotations

import selectors
import socket
import threading

from tests.ports import free_port


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._cut_requested = threading.Event()
        self._cut_done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cutting-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Close every connection through the proxy now (done by the proxy's thread, which owns the sockets)."""
        self._cut_done.clear()
        self._cut_requested.set()
        if not self._cut_done.wait(5):
            raise AssertionError("the proxy did not cut its connections")

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._cut_requested.is_set():
                self._cut_requested.clear()
                for sock in list(self._peers):
                    self._close(sock)
                self._cut_done.set()
            for key, _ in self._selector.select(0.02):
                if key.data is None:
                    self._accept()
                else:
                    self._pump(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        for sock in (client, upstream):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, True)
        self._peers[client], self._peers[upstream] = upstream, client
        self.accepted += 1

    def _pump(self, sock: socket.socket) -> None:
        peer = self._peers.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(sock)
            return
        try:
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._peers.pop(s, None)
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in list(self._peers):
            self._close(sock)
        self._listener.close()
        self._selector.close()
