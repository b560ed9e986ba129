"""What the subscription book does when the connection changes: lost, IB unreachable (1100/2110), TWS's verdict
(1101: the subscriptions are gone; 1102: kept), and a reconnect. A mixin of SubscriptionBook
(worker/live/subscriptions.py), which holds the entries; the series' own reactions are worker/live/series.py's.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from shared.errors import BridgeError
from worker.live.gap_fill import GapFiller
from worker.live.series import LiveSeries

if TYPE_CHECKING:
    from worker.history.upstream import UpstreamRequests

log = logging.getLogger("tws.subscriptions")

RESUBSCRIBE_PATIENCE_S = 3600.0


class ConnectionEvents:
    _subs: OrderedDict[tuple[Any, str], LiveSeries]
    _series: dict[str, LiveSeries]
    _upstream: UpstreamRequests
    gaps: GapFiller
    resubscribed: int

    def _request(self, entry: LiveSeries, deadline: float) -> None:
        raise NotImplementedError

    def _close(self, entry: LiveSeries) -> None:
        raise NotImplementedError

    def connection_lost(self, error: BridgeError) -> None:
        """TWS forgot every request; callers waiting for a history fail now, the rest wait for resubscribe."""
        self.gaps.forget()
        for entry in list(self._subs.values()):
            entry.upstream = None
            entry.live = False
            entry.interrupt(error.message)
            waiters, entry.waiters = entry.waiters, []
            for waiter in waiters:
                waiter.failed(None, error)

    def outage(self, reason: str) -> None:
        """1100/2110: the series' streams are interrupted; polls are still answered from memory meanwhile."""
        for entry in self._series.values():
            entry.interrupt(reason)

    def data_kept(self) -> None:
        """1102: TWS kept the subscriptions; their updates resume (worker/live/series.py: a bar that completed unseen
        meanwhile makes its subscription be requested again)."""
        for entry in self._subs.values():
            if entry.upstream is not None:
                entry.resumed()

    def _missed(self, entry: LiveSeries) -> None:
        """A subscription TWS kept missed bars: cancel it and request it again, in full."""
        self._close(entry)
        self._resubscribe([entry], "bars missed during an outage")

    def resubscribe_all(self, reason: str) -> None:
        """After a reconnect or 1101: request every subscription again, in full (TWS dropped them)."""
        for entry in self._subs.values():
            entry.interrupt(reason)
            if entry.upstream is not None:
                self._upstream.discard(entry.upstream)  # TWS already dropped it (1101): nothing to cancel
                entry.upstream = None
        self._resubscribe(list(self._subs.values()), reason)

    def _resubscribe(self, entries: list[LiveSeries], reason: str) -> None:
        if entries:
            log.info("resubscribing %d subscription(s) after %s", len(entries), reason)
        for entry in entries:
            self.resubscribed += 1
            # no caller waits on it: it may wait as long as IB's pacing needs (the 15-second identical rule)
            self._request(entry, time.monotonic() + RESUBSCRIBE_PATIENCE_S)
