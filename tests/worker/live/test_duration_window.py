"""The window of an IB duration at a moment, and a live series kept within it: at every moment the bars a
subscription holds are those a fresh request for the same duration answers, across the close, the overnight roll
and the open, for a stock (regular and all hours), FX, a future, and daily bars. The simulator's history (what a
fresh request answers) and its keepUpToDate forming bar are the reference; the hours come from its contract
details, looked up once at the start as the bridge does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.bars import BAR_SECONDS
from shared.ib_limits import duration_seconds
from sim.history import build_history, forming_bar
from sim.instruments import Instrument, Universe
from sim.messages import Bar as SimBar
from sim.messages import HistoryQuery, SimError
from worker.contracts.trading_sessions import parse_hours
from worker.history.upstream import to_bar
from worker.live.duration_window import LiveBars, window_start

NY = "America/New_York"
UNIVERSE = Universe.load()


def at(text: str, tz: str = NY) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


# ---- window_start ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "unit", "now", "start"), [
    (1800, "S", "2025-01-27 10:00:30", "2025-01-27 09:30:30"),
    (1, "W", "2025-01-27 10:00", "2025-01-20 10:00"),
    (1, "W", "2025-03-12 10:00", "2025-03-05 10:00"),  # across the DST change: wall-clock, 167 hours
    (1, "M", "2025-03-31 10:00", "2025-02-28 10:00"),  # the day clamped to the shorter month
    (2, "M", "2025-01-15 10:00", "2024-11-15 10:00"),
    (1, "Y", "2024-02-29 10:00", "2023-02-28 10:00"),
])
def test_window_start_is_wall_clock_arithmetic_in_the_exchange_zone(count: int, unit: str, now: str,
                                                                    start: str) -> None:
    assert window_start(count, unit, at(now), NY) == at(start)


# ---- a live series against fresh requests ------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    symbol: str
    use_rth: bool
    bar_size: str
    duration: str
    what: str
    moments: tuple[tuple[str, str, int], ...]  # (first, last, step seconds): when updates arrive and fresh is asked

    @property
    def instrument(self) -> Instrument:
        return next(i for i in UNIVERSE.instruments if i.symbol == self.symbol)

    def query(self, duration: str | None = None) -> HistoryQuery:
        return HistoryQuery("", self.bar_size, duration or self.duration, self.use_rth, self.what, 2, True)


def fresh(case: Case, now: float, tz: str, duration: str | None = None) -> list[dict]:
    """What a fresh request for the duration answers at `now` (forming bar included), as the bridge reads it."""
    try:
        answer = build_history(case.instrument, case.query(duration), now)
    except SimError:  # "HMDS query returned no data"
        return []
    return [bridge_bar(b, tz) for b in answer.bars]


def bridge_bar(bar: SimBar, tz: str) -> dict:
    return to_bar((bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.wap, bar.count), tz)


def moments(case: Case) -> list[float]:
    out: list[float] = []
    for first, last, step in case.moments:
        t = at(first)
        while t <= at(last):
            out.append(t)
            t += step
    return out


MON, TUE = "2025-01-27", "2025-01-28"
# Updates come at least once a bar while the market is open (a gap only where it is closed), as TWS sends them.
CASES = [
    # the issue: a session's first bars stay while it lasts, and go when the next one opens
    Case("AAPL", True, "1 min", "1 D", "TRADES", ((f"{MON} 10:00:30", f"{MON} 10:06:30", 20),)),
    Case("AAPL", True, "1 min", "1 D", "TRADES", ((f"{MON} 15:58:10", f"{MON} 16:02:10", 30),
                                                  (f"{TUE} 09:29:10", f"{TUE} 09:33:10", 20))),
    Case("AAPL", True, "5 mins", "2 D", "TRADES", ((f"{MON} 15:50:10", f"{MON} 16:10:10", 120),
                                                   (f"{TUE} 09:20:10", f"{TUE} 09:45:10", 60))),
    Case("AAPL", False, "5 mins", "1 D", "TRADES", ((f"{MON} 19:50:10", f"{MON} 20:10:10", 120),
                                                    (f"{TUE} 03:50:10", f"{TUE} 04:20:10", 60))),
    # FX: the trading day rolls at 17:00 New York, not at midnight
    Case("EUR", False, "5 mins", "1 D", "MIDPOINT", ((f"{MON} 16:40:10", f"{MON} 17:20:10", 60),)),
    Case("EUR", False, "15 mins", "2 D", "MIDPOINT", ((f"{MON} 16:40:10", f"{MON} 17:40:10", 300),)),
    # Globex: the session opens 18:00 New York the evening before and halts 17:00-18:00
    Case("ES", False, "5 mins", "1 D", "TRADES", ((f"{MON} 16:45:10", f"{MON} 18:20:10", 120),)),
    Case("ES", True, "5 mins", "1 D", "TRADES", ((f"{MON} 15:50:10", f"{MON} 16:10:10", 120),
                                                 (f"{TUE} 09:25:10", f"{TUE} 09:45:10", 60))),
    # time-based windows move with the clock, and empty after the close
    Case("AAPL", True, "1 min", "1800 S", "TRADES", ((f"{MON} 09:45:10", f"{MON} 09:50:10", 30),)),
    Case("AAPL", True, "1 min", "1800 S", "TRADES", ((f"{MON} 15:58:10", f"{MON} 16:35:10", 30),)),
    Case("AAPL", True, "30 mins", "1 W", "TRADES", ((f"{TUE} 09:20:10", f"{TUE} 10:40:10", 300),)),
    # daily bars: a new trading day's bar pushes out the oldest day
    Case("AAPL", True, "1 day", "5 D", "TRADES", ((f"{MON} 15:50:10", f"{MON} 16:10:10", 600),
                                                  (f"{TUE} 09:20:10", f"{TUE} 09:45:10", 300))),
    Case("EUR", False, "1 day", "3 D", "MIDPOINT", ((f"{MON} 16:50:10", f"{MON} 17:10:10", 300),)),
]


def ids(case: Case) -> str:
    return f"{case.symbol}-{'rth' if case.use_rth else 'all'}-{case.bar_size}-{case.duration}".replace(" ", "")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_a_live_series_holds_what_a_fresh_request_answers_at_every_moment(case: Case) -> None:
    times = moments(case)
    details = case.instrument.details(times[0])  # looked up once, when the subscription starts
    tz = details.time_zone_id
    hours = details.liquid_hours if case.use_rth else details.trading_hours
    live = LiveBars(case.duration, parse_hours(hours, tz), _seconds(case.bar_size))
    live.reset(fresh(case, times[0], tz))
    shapes = {_shape(live.bars)}
    for now in times[1:]:
        forming = bridge_bar(forming_bar(case.instrument, case.query(), now), tz)
        live.update(forming, now)
        expected = fresh(case, now, tz)
        got = live.bars_for(case.duration, now)
        assert [b["time"] for b in got] == [b["time"] for b in expected], datetime.fromtimestamp(now, ZoneInfo(NY))
        if expected:
            assert got[-1] == expected[-1]  # the forming bar as of now
        shapes.add(_shape(got))
    assert len(shapes) > 1, "the scenario moves the window (its start or its length)"


SHORTER = [(CASES[2], "1 D"), (CASES[5], "1 D"), (CASES[9], "600 S")]


@pytest.mark.parametrize(("case", "shorter"), SHORTER, ids=[f"{ids(c)}-as-{s}" for c, s in SHORTER])
def test_a_shorter_duration_served_from_a_longer_series_is_its_fresh_window(case: Case, shorter: str) -> None:
    times = moments(case)
    details = case.instrument.details(times[0])
    tz = details.time_zone_id
    hours = details.liquid_hours if case.use_rth else details.trading_hours
    live = LiveBars(case.duration, parse_hours(hours, tz), _seconds(case.bar_size))
    live.reset(fresh(case, times[0], tz))
    for now in times[1:]:
        live.update(bridge_bar(forming_bar(case.instrument, case.query(), now), tz), now)
        expected = fresh(case, now, tz, shorter)
        assert [b["time"] for b in live.bars_for(shorter, now)] == [b["time"] for b in expected]


def _shape(bars: list[dict]) -> tuple[int | None, int]:
    return (bars[0]["time"] if bars else None, len(bars))


def _seconds(bar_size: str) -> int:
    return BAR_SECONDS[bar_size]


# ---- updates -----------------------------------------------------------------------------------------------------

def bar(epoch: float, close: float = 1.0, tz: str = NY) -> dict:
    return to_bar((str(int(epoch)), close, close, close, close, 10, close, 1), tz)


def test_an_update_older_than_the_forming_bar_changes_nothing() -> None:
    live = LiveBars("1 D", parse_hours("", NY), 60)
    live.reset([bar(at("2025-01-27 10:00")), bar(at("2025-01-27 10:01"))])
    live.update(bar(at("2025-01-27 09:59"), close=5.0), at("2025-01-27 10:01:30"))
    assert [b["close"] for b in live.bars] == [1.0, 1.0]


def test_without_a_tws_time_the_forming_bar_stands_for_now() -> None:
    live = LiveBars("120 S", parse_hours("", NY), 60)
    live.reset([bar(at("2025-01-27 10:00")), bar(at("2025-01-27 10:01"))])
    live.update(bar(at("2025-01-27 10:02")), None)
    assert [b["date"] for b in live.bars_for("120 S", None)] == ["20250127 10:01:00", "20250127 10:02:00"]


def test_an_empty_series_answers_nothing() -> None:
    live = LiveBars("1 D", parse_hours("", NY), 60)
    assert live.bars_for("1 D", None) == []


# ---- a series' window (IB's longest duration) answering the durations of other units ------------------------------

SERIES_CASES = [
    # 1-minute bars: the series holds "1 D" and the last 86,400 s; "N S" polls are windows of it
    (Case("AAPL", True, "1 min", "1 D", "TRADES", ((f"{MON} 09:31:10", f"{MON} 10:40:10", 60),)),
     ("900 S", "1800 S", "3600 S")),
    (Case("AAPL", False, "1 min", "1 D", "TRADES", ((f"{MON} 19:40:10", f"{MON} 20:20:10", 60),
                                                     (f"{TUE} 03:59:10", f"{TUE} 04:40:10", 60))),
     ("1800 S", "3600 S")),
    # FX across the 17:00 roll: "3600 S" reaches back into the day that just ended, which the series kept
    (Case("EUR", False, "1 min", "1 D", "MIDPOINT", ((f"{MON} 16:20:10", f"{MON} 17:30:10", 30),)),
     ("1800 S", "3600 S")),
    # 5-minute bars: the series holds "1 W"; "N D" polls are the last sessions inside it
    (Case("AAPL", True, "5 mins", "1 W", "TRADES", ((f"{MON} 15:40:10", f"{MON} 16:10:10", 120),
                                                     (f"{TUE} 09:25:10", f"{TUE} 10:10:10", 60))),
     ("1 D", "2 D", "3600 S")),
    (Case("EUR", False, "5 mins", "1 W", "MIDPOINT", ((f"{MON} 16:40:10", f"{MON} 17:20:10", 60),)),
     ("1 D", "3600 S")),
]


@pytest.mark.parametrize(("case", "polls"), SERIES_CASES, ids=[ids(c) for c, _ in SERIES_CASES])
def test_a_duration_the_series_covers_is_answered_exactly_as_a_fresh_request(case: Case,
                                                                           polls: tuple[str, ...]) -> None:
    times = moments(case)
    details = case.instrument.details(times[0])
    tz = details.time_zone_id
    hours = details.liquid_hours if case.use_rth else details.trading_hours
    live = LiveBars(case.duration, parse_hours(hours, tz), _seconds(case.bar_size),
                    retain_seconds=duration_seconds(case.duration))
    live.reset(fresh(case, times[0], tz), times[0])
    covered = dict.fromkeys(polls, 0)
    for now in times[1:]:
        live.update(bridge_bar(forming_bar(case.instrument, case.query(), now), tz), now)
        for poll in polls:
            if live.covers(poll, now):
                covered[poll] += 1
                expected = fresh(case, now, tz, poll)
                got = live.bars_for(poll, now)
                assert [b["time"] for b in got] == [b["time"] for b in expected], (poll, now)
                assert got[-1:] == expected[-1:]
    assert all(covered.values()), f"every poll duration was answered from the series at some moment: {covered}"


def test_a_duration_reaching_before_what_the_series_holds_is_not_covered() -> None:
    details = next(i for i in UNIVERSE.instruments if i.symbol == "AAPL").details(at("2025-01-27 09:45"))
    case = Case("AAPL", True, "1 min", "1 D", "TRADES", ())
    live = LiveBars("1 D", parse_hours(details.liquid_hours, details.time_zone_id), 60, retain_seconds=86400)
    now = at("2025-01-27 09:45:10")
    live.reset(fresh(case, now, details.time_zone_id), now)
    assert live.covers("900 S", now)  # from 09:30:10: inside today's session
    assert not live.covers("3600 S", now)  # from 08:45: the hours do not show that nothing traded before 09:30
    assert live.covers("1 D", now)
