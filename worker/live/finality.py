"""When a live series' forming bar is final, and the one case that needs TWS's clock: the session's close.

A forming bar is final when TWS's update for a later bar arrives (TWS sends the bar's last update, with its final
values, at the bar's end: sim/history_service.py), or when a history answered after its end holds it or a later bar.
At the close no later bar comes: TWS keeps repeating the last bar with its final values. Then the bar is final once
TWS's clock has passed its end and an update for it arrived after that. TWS's clock is known only from what TWS says
(currentTime, the end of an answer that ends now); messages on the socket are in order, so an update that arrives
after a reading at or past the bar's end was sent after its end.

`ClockWatch` asks TWS for its time (reqCurrentTime, one message whatever the number of series) when the estimate of
TWS's clock says a watched forming bar has ended and no later bar replaced it, and again while a reading says it has
not ended yet (a simulator with a frozen or slow clock); it never decides on the estimate alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from worker.contracts.trading_sessions import TradingSessions
from worker.timers import Timer, Timers
from worker.tws.dates import TwsClock, period_end

Bar = dict[str, Any]
PROBE_DELAY_S = 0.5  # past a bar's estimated end before TWS is asked: the next bar's update normally comes first
MIN_CHECK_S = 0.5
MAX_CHECK_S = 5.0  # the longest wait between checks, and between probes while readings come back short
MIN_PROBE_INTERVAL_S = 1.0  # currentTime has a resolution of one second


def bar_end(bar: Bar, bar_seconds: int, sessions: TradingSessions) -> float:
    """When the bar's period is over: its size after its start (daily and larger bars at the next period's midnight in
    the exchange's zone), or the end of its session when TWS's hours show it sooner (a 3-hour bar from 15:00 ends at
    the 16:00 close)."""
    daily = len(bar["date"]) == 8
    end = period_end(bar["time"], bar_seconds, sessions.zone_name, daily)
    if not daily:
        ranges = sessions.ranges
        i = bisect.bisect_right(ranges, bar["time"], key=lambda r: r.start) - 1
        if i >= 0 and bar["time"] < ranges[i].end:
            end = min(end, float(ranges[i].end))
    return end


def forming_in(bars: list[Bar], bar_seconds: int, sessions: TradingSessions, tws_now: float | None) -> bool:
    """Whether the last bar of a history answered at TWS time `tws_now` is still forming (its period not over)."""
    return bool(bars) and (tws_now is None or bar_end(bars[-1], bar_seconds, sessions) > tws_now)


class ClockWatch:
    def __init__(self, timers: Timers, clock: TwsClock, probe: Callable[[], None],
                 passed: Callable[[Any, float], None]) -> None:
        self._timers = timers
        self._clock = clock  # the estimate: used to decide when to ask, never what is final
        self._probe = probe  # sends reqCurrentTime
        self._passed = passed  # (key, reading): TWS's clock is past the end of the key's forming bar
        self._ends: dict[Any, float] = {}  # key -> when its forming bar ends (TWS epoch)
        self._timer: Timer | None = None
        self._probed = float("-inf")
        self._spacing = MIN_PROBE_INTERVAL_S  # doubles while readings come back short of the ends (a frozen clock)
        self.probes = 0

    def watch(self, key: Any, end: float) -> None:
        self._ends[key] = end
        self._schedule()

    def unwatch(self, key: Any) -> None:
        self._ends.pop(key, None)

    def reading(self, tws_now: float) -> None:
        """TWS said its time: every watched bar that has ended by then is reported, the rest checked again later."""
        short = bool(self._ends)
        for key, end in list(self._ends.items()):
            if end <= tws_now:
                del self._ends[key]
                self._passed(key, tws_now)
                short = False
        self._spacing = min(MAX_CHECK_S, self._spacing * 2) if short else MIN_PROBE_INTERVAL_S
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._ends:
            return
        estimate = self._clock.now()
        wait = MIN_CHECK_S if estimate is None else min(self._ends.values()) + PROBE_DELAY_S - estimate
        self._timer = self._timers.call_later(min(MAX_CHECK_S, max(MIN_CHECK_S, wait)), self._check)

    def _check(self) -> None:
        self._timer = None
        estimate = self._clock.now()
        due = estimate is None or any(end + PROBE_DELAY_S <= estimate for end in self._ends.values())
        if not due:
            self._schedule()
            return
        now = self._timers.clock()
        if now - self._probed >= self._spacing:
            self._probed = now
            self.probes += 1
            self._probe()  # its answer comes as reading(), which re-anchors the estimate and reschedules
        if self._timer is None and self._ends:  # no answer yet: ask again once the spacing allows
            wait = max(MIN_CHECK_S, self._probed + self._spacing - now)
            self._timer = self._timers.call_later(wait, self._check)
