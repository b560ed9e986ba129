"""What a stream client asked for, validated (app/schemas.py `BarsStreamQuerySchema`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.bars import BarRequest
from shared.streams import SERIES_FIELDS, StreamOpen


@dataclass(frozen=True)
class StreamRequest:
    series: BarRequest  # the series' subscription request (shared.streams.series_request), validated as the worker will
    backfill: int = 0  # completed bars to send first when the client has none
    after: int | None = None  # epoch seconds of the last bar the client has (Last-Event-ID), or None

    @property
    def series_fields(self) -> dict[str, Any]:
        return {name: getattr(self.series, name) for name in SERIES_FIELDS}

    def open_body(self, after: int | None, backfill: int) -> dict[str, Any]:
        """The body of a stream_open for this series."""
        return StreamOpen(self.series, after, backfill).to_wire()

    @property
    def series_key(self) -> tuple[Any, ...]:
        """The series as the client named it: clients naming it alike share what the process learned about it."""
        return tuple(getattr(self.series, name) for name in SERIES_FIELDS)
