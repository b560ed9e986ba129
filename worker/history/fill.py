"""One fill: the planner's windows for one series, sent upstream a few at a time (paced by the outbox), each answer
written to the store with the span it covers. A request that fits its deadline waits for its fill; a job
(worker/history/jobs.py) runs one in the background.

At most `parallel` windows are queued or open at once, so a long fill never takes the whole pacing line: other
requests wait behind a few of its windows, not behind all of them. A window TWS answers as empty (162 "no data", a
holiday) is stored as an empty covered span, so it is never asked again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.bars import MAX_LIMIT, BarRequest
from shared.errors import BridgeError
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_fetcher import BarFetcher
from worker.history.coverage import Span
from worker.history.planner import Window
from worker.history.store import BarStore, SeriesKey

log = logging.getLogger("tws.history_fill")

FILL_PARALLEL = 4  # windows of one fill queued or open at once

Progress = Callable[["Fill"], None]
Finished = Callable[["Fill", BridgeError | None], None]


def utc_end(epoch: int) -> str:
    """A window's end as TWS reads it without a zone: "yyyymmdd-HH:MM:SS" in UTC."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%d-%H:%M:%S")


def window_request(request: BarRequest, window: Window) -> BarRequest:
    """The upstream request for one window of `request`'s series."""
    # every contract field kept (an option's strike, a future's expiry): only the range and the page change
    return replace(request, duration=window.duration, end_datetime=utc_end(window.end), start_datetime="",
                   page_token="", limit=MAX_LIMIT, include_forming=False)


@dataclass(eq=False)
class Fill:
    request: BarRequest
    contract: ResolvedContract
    series: SeriesKey
    windows: list[Window]  # newest first; taken from the end as they are sent
    complete_before: int  # bars starting at or after this are not complete: never stored
    deadline: Callable[[], float]  # monotonic deadline for the next window's wait and answer
    on_progress: Progress
    on_finished: Finished
    parallel: int = FILL_PARALLEL
    total: int = 0
    done: int = 0
    bars: int = 0
    error: BridgeError | None = None
    finished: bool = False
    _open: dict[int, tuple[Window, Callable[..., None]]] = field(default_factory=dict)  # by send number

    def __post_init__(self) -> None:
        self.total = self.total or len(self.windows)
        self._queue = list(reversed(self.windows))  # pop() gives the newest first

    @property
    def waiting(self) -> list[Window]:
        """The windows not sent yet (a job's eta)."""
        return list(self._queue)


class FillRunner:
    """Starts fills and feeds their windows to the bar fetcher. Owned by the worker's thread."""

    def __init__(self, fetcher: BarFetcher, store: BarStore) -> None:
        self._fetcher = fetcher
        self._store = store
        self.windows_sent = 0

    def start(self, fill: Fill) -> None:
        if not fill._queue:
            self._finish(fill, None)
            return
        self._feed(fill)

    def cancel(self, fill: Fill, error: BridgeError) -> None:
        """Stop: windows not sent yet never are; open ones are withdrawn (cancelled at TWS when sent)."""
        if fill.finished:
            return
        fill._queue.clear()
        for window, reply in list(fill._open.values()):
            self._fetcher.abandon(window_request(fill.request, window), fill.contract, reply)
        fill._open.clear()
        self._finish(fill, error)

    def _feed(self, fill: Fill) -> None:
        while fill._queue and len(fill._open) < fill.parallel and not fill.finished:
            window = fill._queue[-1]
            fill._queue.pop()
            self.windows_sent += 1
            reply = self._answer_for(fill, window, self.windows_sent)
            fill._open[self.windows_sent] = (window, reply)
            self._fetcher.fetch(window_request(fill.request, window), fill.contract, fill.deadline(), reply,
                                cache=False)
        if not fill._queue and not fill._open and not fill.finished:
            self._finish(fill, None)

    def _answer_for(self, fill: Fill, window: Window, number: int) -> Callable[[dict[str, Any] | None,
                                                                                  BridgeError | None], None]:
        def answer(result: dict[str, Any] | None, error: BridgeError | None) -> None:
            if fill._open.pop(number, None) is None:
                return  # cancelled meanwhile: abandoned, never called
            if error is None and result is not None:  # stored even when the fill failed meanwhile: TWS answered it
                covered = Span(window.covers.start, max(window.covers.start, min(window.covers.end,
                                                                                  fill.complete_before)))
                bars = [b for b in result["bars"] if covered.start <= b["time"] < covered.end]
                if covered:
                    self._store.write(fill.series, covered, bars)
                fill.done += 1
                fill.bars += len(bars)
            if fill.finished:
                return
            if error is not None or result is None:
                log.info("fill %s %s: window ending %s failed: %s", fill.series.text, fill.request.range_text,
                         utc_end(window.end), error.code if error else "no result")
                fill._queue.clear()
                self._finish(fill, error)
                return
            fill.on_progress(fill)
            self._feed(fill)
        return answer

    def _finish(self, fill: Fill, error: BridgeError | None) -> None:
        if fill.finished:
            return
        fill.finished = True
        fill.error = error
        fill.on_finished(fill, error)
