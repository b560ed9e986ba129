"""One HTTP worker shares itself fairly between its connections: a client that keeps its connection busy (requests
back to back, or pipelined) does not hold the others back until it stops. Under gevent a greenlet runs until it
waits; answering from memory never waits, so without a turn given after each answer one busy keep-alive connection
would be served to its end first (wrk at 64 connections: p50 0.4 ms, p99 1.3-1.6 s; docs/http-side.md)."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import threading

from tests.e2e.processes import BridgeProcess
from tests.e2e.raw_http import RawConnection
from tests.waiting import wait_until

PIPELINED = 400
REQUEST = b"GET /api/v1/no-such-route HTTP/1.1\r\nHost: fairness\r\n\r\n"  # answered by the HTTP worker alone


def test_a_request_on_another_connection_is_answered_while_a_pipelined_burst_is_served(tws, make_bridge) -> None:
    bridge: BridgeProcess = make_bridge(tws.port, workers=1)
    busy = socket.create_connection(("127.0.0.1", bridge.port), timeout=15)
    other = RawConnection(bridge.port)
    received = bytearray()  # what the busy connection has read so far
    reading = threading.Lock()

    def read_busy() -> None:
        while received.count(b"HTTP/1.1 404") < PIPELINED:
            with reading:
                chunk = busy.recv(1 << 16)
                if not chunk:
                    return
                received.extend(chunk)

    def answered_on_busy() -> int:
        """Answers the server has written on the busy connection by now: read, or waiting in the socket's buffer."""
        with reading:
            pending = struct.unpack("i", fcntl.ioctl(busy, termios.FIONREAD, b"\0\0\0\0"))[0]
            seen = bytes(received)
        answer_size = len(seen) // max(1, seen.count(b"HTTP/1.1 404"))
        return seen.count(b"HTTP/1.1 404") + pending // max(1, answer_size)

    reader = threading.Thread(target=read_busy, daemon=True)
    reader.start()
    try:
        assert other.exchange(REQUEST).status == 404  # the other connection is accepted and served once
        busy.sendall(REQUEST * PIPELINED)
        wait_until(lambda: b"HTTP/1.1 404" in received, what="the burst being served")
        assert other.exchange(REQUEST).status == 404
        served_before_other = answered_on_busy()
        reader.join(15)
        assert received.count(b"HTTP/1.1 404") == PIPELINED
        print(f"answers written on the busy connection before the other's: {served_before_other}")
        assert served_before_other < PIPELINED // 2, f"the other request waited for {served_before_other} answers"
    finally:
        busy.close()
        other.close()
