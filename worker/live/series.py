"""One live subscription's state: its bars, which of them are final, its status, and the events each change publishes.

The subscription book (worker/live/subscriptions.py) holds one `LiveSeries` per series, with IB's longest duration for
its bar size, whose events go to the publisher; and, for an include_forming poll whose window that one cannot answer,
one per (series, duration) that publishes nothing (its bars are replaced wholesale on a resubscription, as before
streams existed). Everything here runs on the worker's owner thread, so a snapshot and the publisher's seq always
agree: the snapshot holds exactly what the events up to its seq said.

Invariant: every bar but the last is final; the last is the forming bar unless `final_until` reached it (the close).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from shared.ib_limits import duration_seconds
from shared.streams import StreamSnapshot, series_id, status_data
from worker.contracts.resolver import ResolvedContract
from worker.live.duration_window import LiveBars
from worker.live.finality import ClockWatch, bar_end, forming_in
from worker.live.interest import Interest
from worker.live.publisher import Publisher
from worker.live.revisions import reconcile

if TYPE_CHECKING:
    from worker.history.upstream import Upstream

Bar = dict[str, Any]
SeriesKey = tuple[Any, ...]


class LiveSeries:
    def __init__(self, key: SeriesKey, request: BarRequest, contract: ResolvedContract,
                 publisher: Publisher | None = None, watch: ClockWatch | None = None) -> None:
        self.key = key
        self.request = request
        self.contract = contract
        self.publisher = publisher  # None: a poll's own window, published nowhere
        self.id = series_id(contract.con_id, request.exchange, request.bar_size, request.what_to_show,
                            request.use_rth)
        retain = duration_seconds(request.duration) if publisher is not None else 0
        self.bars = LiveBars(request.duration, contract.sessions(request.use_rth), request.bar_seconds, retain)
        self._watch = watch if publisher is not None else None
        self.upstream: Upstream | None = None
        self.live = False  # history received, updates flowing
        self.waiters: list[Any] = []  # callers waiting for its history (the book's)
        self.last_used = 0.0  # monotonic; the book sets it
        self.opened_at = float("-inf")  # the last stream_open (monotonic)
        self.requests = 0  # upstream requests made for it (1 + resubscriptions)
        self.has_history = False
        self.final_until: int | None = None  # the time of its latest final bar
        self.armed = False  # TWS's clock passed the forming bar's end: the bar's next update is final
        self.suspect = False  # updates resumed after 1102: the first later bar shows whether bars went unseen
        self.status, self.reason = "live", None
        self.interest = Interest()

    @property
    def forming(self) -> Bar | None:
        bars = self.bars.bars
        if bars and (self.final_until is None or bars[-1]["time"] > self.final_until):
            return bars[-1]
        return None

    def completed(self) -> list[Bar]:
        return self.bars.bars[:-1] if self.forming is not None else list(self.bars.bars)

    # ---- what TWS says ----------------------------------------------------------------------------------------

    def history(self, bars: list[Bar], tws_now: float | None) -> None:
        """TWS's answer to the subscription's request (the first, or a resubscription's)."""
        forming = forming_in(bars, self.request.bar_seconds, self.bars.sessions, tws_now)
        done = bars[:-1] if forming else bars
        if self.has_history and self.publisher is not None:
            self._restore(bars, done, forming, tws_now)
        else:
            self.bars.reset(bars, tws_now)
            self.final_until = done[-1]["time"] if done else None
        self.has_history = self.live = True
        self.status, self.reason = "live", None
        self.armed = self.suspect = False
        self._watch_forming()

    def _restore(self, bars: list[Bar], done: list[Bar], forming: bool, tws_now: float | None) -> None:
        """The bars completed meanwhile as `bar` events, in order, revisions of published ones, then `restored`."""
        was_forming, was_interrupted = self.forming, self.status == "interrupted"
        found = reconcile(self.completed(), self.final_until, done, bars[0]["time"] if bars else None)
        self.bars.restore(bars, tws_now, keep_older=found.reaches_back)
        for bar in found.revised:
            self._publish("revision", bar)
        if not found.reaches_back:
            self._publish("error", BridgeError(
                ErrorCode.RESUME_UNAVAILABLE, "after the reconnect TWS's history no longer reaches back to the "
                "last bar sent; bars in between may be missing: open the stream again").to_wire())
        for bar in found.completed:
            self._final(bar)
        if forming and bars[-1] != was_forming:
            self._publish("update", bars[-1])
        if was_interrupted:
            self._publish("status", status_data("restored"))

    def update(self, bar: Bar, tws_now: float | None) -> bool:
        """A keepUpToDate update: the forming bar rewritten, or a later bar (the forming one completed). False when
        it shows bars that completed unseen during an outage: the series must be requested again (not applied)."""
        bars = self.bars.bars
        last = bars[-1] if bars else None
        if last is not None and bar["time"] < last["time"]:
            return True  # older than the forming bar: changes nothing
        if last is not None and bar["time"] == last["time"]:
            changed = bar != last
            if changed:
                self.bars.update(bar, tws_now)
            if self.forming is None:  # final already: TWS repeats the last bar after the close
                if changed:
                    self._publish("revision", bar)
            elif self.armed:  # sent after TWS's clock passed the bar's end: its final values
                self._final(bar)
            elif changed:
                self._publish("update", bar)
            return True
        if self.suspect and last is not None:
            self.suspect = False
            if bar["time"] > self._end(last):  # a bar began and ended while TWS sent nothing
                self.interrupt("bars completed during the outage (1100/2110 until 1102) without an update")
                return False
        if last is not None and self.forming is not None:
            self._final(last)
        self.bars.update(bar, tws_now)
        self.armed = False
        self._publish("update", bar)
        self._watch_forming()
        return True

    def resumed(self) -> None:
        """1102: TWS kept the subscription and its updates resume. The first update of a later bar tells whether a
        bar went by unseen meanwhile (then `update` says so and the series is requested again)."""
        if not self.has_history:
            return
        self.suspect = True
        if self.publisher is not None and self.status == "interrupted":
            self.status, self.reason = "live", None
            self._publish("status", status_data("restored"))
        self._watch_forming()

    def clock_passed(self, reading: float) -> None:
        """TWS's clock read `reading`: if the forming bar has ended, its next update carries its final values."""
        forming = self.forming
        if forming is not None and self._end(forming) <= reading:
            self.armed = True

    def interrupt(self, reason: str) -> None:
        """The connection is lost, IB is unreachable (1100/2110), or TWS lost the subscription (1101)."""
        self.armed = False
        if self._watch is not None:
            self._watch.unwatch(self)
        if self.publisher is not None and self.has_history and self.status != "interrupted":
            self.status, self.reason = "interrupted", reason
            self._publish("status", status_data("interrupted", reason))

    def end(self, error: BridgeError) -> None:
        """The series ends for good: its streams get the error."""
        if self._watch is not None:
            self._watch.unwatch(self)
        if self.has_history:
            self._publish("error", error.to_wire())

    # ---- streams ----------------------------------------------------------------------------------------------

    def snapshot(self, after: int | None, backfill: int) -> StreamSnapshot:
        """What a stream starts from, as of the last event published: the completed bars after `after` (else the
        last `backfill`), the forming bar, the status. `gap`: bars after `after` may be missing from what is held."""
        assert self.publisher is not None
        done = self.completed()
        gap = False
        if after is not None:
            chosen = done[bisect.bisect_right(done, after, key=lambda b: b["time"]):]
            seconds, held, covered = self.request.bar_seconds, self.bars.bars, self.bars.covered_from
            if covered is not None:  # no bar starts between `after` and the next one after it
                gap = after + seconds < covered
            elif held:
                gap = after + seconds < held[0]["time"]
        else:
            chosen = done[-backfill:] if backfill else []
        return StreamSnapshot(self.id, self.publisher.incarnation, self.publisher.seq(self.id), chosen,
                              self.forming, status_data(self.status, self.reason), gap)

    # ---- publishing -------------------------------------------------------------------------------------------

    def _end(self, bar: Bar) -> float:
        return bar_end(bar, self.request.bar_seconds, self.bars.sessions)

    def _final(self, bar: Bar) -> None:
        self.final_until = bar["time"]
        self.armed = False
        if self._watch is not None:
            self._watch.unwatch(self)
        if self.publisher is not None:
            self.publisher.bar(self.id, bar)

    def _publish(self, event: str, data: dict[str, Any]) -> None:
        if self.publisher is not None:
            self.publisher.publish(self.id, event, data)

    def _watch_forming(self) -> None:
        if self._watch is None:
            return
        forming = self.forming
        if forming is None:
            self._watch.unwatch(self)
        else:
            self._watch.watch(self, self._end(forming))
