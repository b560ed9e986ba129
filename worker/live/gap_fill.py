"""Filling the hole a resubscription can leave: when the new history starts after the last bar a series published.

TWS answers a resubscription with IB's longest window as of now: "1 D" is the current session, so after an outage
across a session boundary (FX's 17:00 roll, a 24/7 market's midnight, an overnight outage) it no longer holds the bars
between the last one published and its own first one. Before the history is applied, one plain request for the same
window ending at its first bar asks for them (a past range: nothing of it can still change); updates arriving
meanwhile are held and applied after it, in order. If that answer does not reach back either, the series' streams get
`resume_unavailable` (worker/live/series.py): a hole is never silent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from shared.errors import BridgeError
from worker.history.upstream import Upstream, UpstreamRequests
from worker.live.series import LiveSeries

log = logging.getLogger("tws.subscriptions")

Bar = dict[str, Any]
FILL_PATIENCE_S = 120.0  # the fill may wait for IB's pacing; the series' streams stay interrupted meanwhile


@dataclass(eq=False)
class _Pending:
    bars: list[Bar]  # the resubscription's history, not applied yet
    tws_now: float | None
    upstream: Upstream
    updates: list[Bar] = field(default_factory=list)  # keepUpToDate updates that came meanwhile


class GapFiller:
    def __init__(self, upstream: UpstreamRequests, apply: Callable[[LiveSeries, list[Bar], float | None], None],
                 update: Callable[[LiveSeries, Bar], None]) -> None:
        self._upstream = upstream
        self._apply = apply  # the book's: apply a history to the series and answer its waiters
        self._update = update  # the book's: apply one update
        self._pending: dict[LiveSeries, _Pending] = {}
        self.fills = 0

    def needed(self, entry: LiveSeries, bars: list[Bar]) -> bool:
        """Whether a resubscription's history leaves bars after the last one published unaccounted for."""
        final = entry.final_until
        return (entry.publisher is not None and entry.has_history and final is not None and bool(bars)
                and bars[0]["time"] > final)

    def start(self, entry: LiveSeries, bars: list[Bar], tws_now: float | None) -> None:
        end = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(bars[0]["time"]))  # UTC: TWS's "yyyymmdd-HH:MM:SS"
        request = replace(entry.request, end_datetime=end, include_forming=False)
        upstream = Upstream(request, entry.contract, False, _Handler(self, entry))
        self._pending[entry] = _Pending(bars, tws_now, upstream)
        self.fills += 1
        log.info("series %s: its new history starts after the last bar published; asking TWS for %s up to %s",
                 entry.id, request.duration, end)
        self._upstream.start(upstream, time.monotonic() + FILL_PATIENCE_S)

    def holds(self, entry: LiveSeries, bar: Bar) -> bool:
        """An update for a series waiting for its fill is kept for later."""
        pending = self._pending.get(entry)
        if pending is None:
            return False
        pending.updates.append(bar)
        return True

    def cancel(self, entry: LiveSeries) -> None:
        """The series is dropped, or requested again: its fill is not wanted any more."""
        pending = self._pending.pop(entry, None)
        if pending is not None:
            self._upstream.cancel(pending.upstream)

    def forget(self) -> None:
        """The connection is gone: TWS forgot the fills with everything else."""
        self._pending.clear()

    def _done(self, entry: LiveSeries, upstream: Upstream, older: list[Bar]) -> None:
        pending = self._pending.get(entry)
        if pending is None or pending.upstream is not upstream:
            return  # cancelled or superseded
        del self._pending[entry]
        first = pending.bars[0]["time"]
        self._apply(entry, [b for b in older if b["time"] < first] + pending.bars, pending.tws_now)
        for bar in pending.updates:
            self._update(entry, bar)


class _Handler:
    def __init__(self, filler: GapFiller, entry: LiveSeries) -> None:
        self._filler = filler
        self._entry = entry

    def history_done(self, upstream: Upstream, bars: list[Bar], end: str) -> None:
        self._filler._done(self._entry, upstream, bars)

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        if error is not None:
            log.warning("series %s: the bars before its new history could not be fetched: %s", self._entry.id,
                        error.message)
        self._filler._done(self._entry, upstream, [])  # applied without them: its streams hear the hole

    def updated(self, upstream: Upstream, bar: Bar) -> None:  # pragma: no cover - not keepUpToDate
        return
