"""Publishes live series' events once, numbered per series, on the worker's ZeroMQ PUB socket (shared/streams.py).

One `Publisher` per worker process: its `incarnation` is random at start, and each series' `seq` runs 1, 2, 3, ...
for as long as the process lives, also across the series' subscription ending and starting again, so a receiver never
sees a number twice. A completed bar is published once per incarnation: a second `bar` for a time already published
is refused here whatever asks for it (a value TWS changes later is a `revision`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import zmq

from shared.streams import StreamEvent

log = logging.getLogger("tws.publisher")

Send = Callable[[list[bytes]], None]


class Publisher:
    def __init__(self, send: Send, incarnation: str | None = None) -> None:
        self.incarnation = incarnation or secrets.token_hex(8)
        self._send = send
        self._seq: dict[str, int] = {}
        self._last_bar: dict[str, int] = {}  # series -> the latest bar time published as `bar`
        self.published = 0
        self.send_failures = 0

    def seq(self, series: str) -> int:
        """The seq of the last event published for the series (0: none yet)."""
        return self._seq.get(series, 0)

    def publish(self, series: str, event: str, data: dict[str, Any]) -> int:
        seq = self._seq.get(series, 0) + 1
        self._seq[series] = seq
        self.published += 1
        try:
            self._send(StreamEvent(series, self.incarnation, seq, event, data).frames())
        except zmq.ZMQError as exc:  # the number is spent: receivers see the gap and re-open
            self.send_failures += 1
            log.warning("could not publish %s %d of %s: %s", event, seq, series, exc)
        return seq

    def bar(self, series: str, bar: dict[str, Any]) -> bool:
        """Publish a completed bar, unless a bar at or after its time was published already."""
        last = self._last_bar.get(series)
        if last is not None and bar["time"] <= last:
            log.warning("bar %s of %s was already published; not again", bar["date"], series)
            return False
        self._last_bar[series] = bar["time"]
        self.publish(series, "bar", bar)
        return True

    def stats(self) -> dict[str, Any]:
        return {"incarnation": self.incarnation, "events_published": self.published,
                "send_failures": self.send_failures}
