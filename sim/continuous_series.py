"""A continuous future's (CONTFUT) historical bars: each bar is the bar of the future that was the front month then.

IB's continuous futures stitch the front contract's own bars, without back-adjustment; the front month of a session
is the one sim.futures' family names for that session's trading day (ES rolls 8 days before expiry), so every bar
of a session, and the daily bar, comes from one contract. TWS refuses an end date/time for CONTFUT (10339, its own
text below); live updates are refused too (see sim.data_kinds.check_instrument).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim import trading_calendar as cal
from sim.price_path import INTRADAY_SAMPLES, BarValues

if TYPE_CHECKING:
    from sim.data_kinds import Series
    from sim.futures import FutureFamily
    from sim.instruments import Instrument

CONTFUT_END_CODE = 10339
CONTFUT_END = "Set historical data query end date/time to null for continuous future"


class ContinuousSeries:
    def __init__(self, family: FutureFamily, calendar: cal.CalendarKind,
                 series_of: Callable[[Instrument], Series]) -> None:
        self.family, self.calendar, self.series_of = family, calendar, series_of
        self._series: dict[int, Series] = {}

    def front_at(self, t: int) -> Instrument:
        """The front future of the session containing `t` (a Globex session runs 18:00 to 17:00 the next day: its
        trading day is the day it ends)."""
        session = cal.session_at(self.calendar, False, t)
        return self.family.front(session.end - 1 if session is not None else t)

    def bar(self, start: int, end: int, nominal: int, asof: float,
            samples: int = INTRADAY_SAMPLES) -> BarValues | None:
        front = self.front_at(start)
        series = self._series.get(front.con_id)
        if series is None:
            series = self._series[front.con_id] = self.series_of(front)
        return series.bar(start, end, nominal, asof, samples)
