"""What a stream client asked for, validated (app/schemas.py `BarsStreamQuerySchema`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.bars import BarRequest

# The BarRequest fields that name a series (the `request` of the worker's stream_open)
SERIES_FIELDS = ("symbol", "bar_size", "what_to_show", "use_rth", "sec_type", "exchange", "currency")


@dataclass(frozen=True)
class StreamRequest:
    series: BarRequest  # the series' fields, validated as the worker will (duration: IB's longest for the bar size)
    backfill: int = 0  # completed bars to send first when the client has none
    after: int | None = None  # epoch seconds of the last bar the client has (Last-Event-ID), or None

    @property
    def series_fields(self) -> dict[str, Any]:
        return {name: getattr(self.series, name) for name in SERIES_FIELDS}

    @property
    def series_key(self) -> tuple[Any, ...]:
        """The series as the client named it: clients naming it alike share what the process learned about it."""
        return tuple(getattr(self.series, name) for name in SERIES_FIELDS)
