"""Reading Server-Sent Events as a browser's EventSource does (the WHATWG parsing rules), for tests and the bench."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str  # `event:` ("message" when absent)
    data: Any  # the `data:` lines joined, parsed as JSON
    id: str | None  # `id:` of this event, when it had one


@dataclass
class SseParser:
    """Feed bytes as they arrive; complete events come out. Comments (heartbeats) and `retry:` are counted."""

    loads: Callable[[str], Any] = json.loads  # the bench reads thousands of events a second: orjson.loads
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    last_event_id: str | None = None
    _pending: bytes = b""
    _kind: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        self._pending += chunk
        events: list[Event] = []
        while True:
            line, sep, rest = self._pending.partition(b"\n")
            if not sep:
                return events
            self._pending = rest
            text = line.decode().removesuffix("\r")
            if text == "":
                if self._data:
                    events.append(Event(self._kind or "message", self.loads("\n".join(self._data)), self._id))
                self._kind, self._data, self._id = "", [], None
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.comments.append(value)
            elif name == "event":
                self._kind = value
            elif name == "data":
                self._data.append(value)
            elif name == "id":
                self._id = self.last_event_id = value
            elif name == "retry" and value.isdigit():
                self.retry = int(value)


def parse(stream: bytes) -> list[Event]:
    return SseParser().feed(stream)
