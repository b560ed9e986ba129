"""Hand-off from other threads (ibapi's reader, connect attempts) to the worker's owner thread.

Producers put plain tuples on a queue and write one byte to a pipe; the owner polls the pipe's read end with its
ZeroMQ sockets, so it wakes at once without locks around its state.
"""

from __future__ import annotations

import contextlib
import os
import queue
from typing import Any

Event = tuple[Any, ...]


class Mailbox:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def fileno(self) -> int:
        return self._read_fd

    def put(self, event: Event) -> None:
        """Thread-safe: queue the event and wake the owner."""
        self._queue.put(event)
        with contextlib.suppress(BlockingIOError):  # pipe full: the owner is awake anyway
            os.write(self._write_fd, b"\0")

    def drain(self) -> list[Event]:
        """Owner thread only: every event queued so far, oldest first."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 4096):
                pass
        events: list[Event] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        os.close(self._read_fd)
        os.close(self._write_fd)
