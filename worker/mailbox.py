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
        self._woken = False  # a wake-up byte is in the pipe (or about to be)
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def fileno(self) -> int:
        return self._read_fd

    def put(self, event: Event) -> None:
        """Thread-safe: queue the event and wake the owner, unless a wake-up is already on its way."""
        self._queue.put(event)
        if not self._woken:
            self._woken = True
            with contextlib.suppress(BlockingIOError):  # pipe full: the owner is awake anyway
                os.write(self._write_fd, b"\0")

    def drain(self) -> list[Event]:
        """Owner thread only: every event queued so far, oldest first."""
        # Order matters: empty the pipe, then clear the flag, then read the queue. An event put before the flag is
        # cleared is read below; one put after it writes a new wake-up byte. None is ever left without one.
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 4096):
                pass
        self._woken = False
        events: list[Event] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        os.close(self._read_fd)
        os.close(self._write_fd)
