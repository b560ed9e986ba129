"""The planner: every believed-session part of the wanted spans is fetched by IB-legal windows, as few as allowed."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest

from shared.ib_limits import LONGEST_DURATION, duration_allowed
from sim import trading_calendar as cal
from tests.worker.history.sim_contracts import calendar
from worker.history.calendar import SessionCalendar
from worker.history.coverage import Coverage, Span
from worker.history.planner import DAILY_BAR_SIZES, Window, plan, shift_back

NY = cal.NEW_YORK
AAPL_RTH = calendar("AAPL", True)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=NY).timestamp())


def session_parts(cal_: SessionCalendar, wanted: list[Span]) -> Coverage:
    return Coverage(s.clip(w) for w in wanted for s in cal_.sessions(w))


def test_five_regular_sessions_of_1_sec_bars_are_65_windows_of_1800_s() -> None:
    wanted = [Span(at(2025, 3, 10), at(2025, 3, 15))]  # Monday to Friday
    windows = plan("1 secs", wanted, AAPL_RTH)
    assert len(windows) == 65
    assert {w.duration for w in windows} == {"1800 S"}
    assert [w.end for w in windows] == sorted((w.end for w in windows), reverse=True)  # newest first


def test_a_year_of_1_min_bars_is_one_window_per_trading_day() -> None:
    wanted = [Span(at(2025, 1, 1), at(2026, 1, 1))]
    windows = plan("1 min", wanted, AAPL_RTH)
    assert len(windows) == len(cal.trading_days(cal.CalendarKind.US_EQUITY, date(2025, 1, 1), date(2025, 12, 31)))
    assert len(windows) == 250
    assert {w.duration for w in windows} == {"1 D"}


def test_a_1_d_window_ends_at_the_session_end_and_covers_from_the_previous_one() -> None:
    monday = AAPL_RTH.session_of_day(date(2025, 1, 27))
    friday = AAPL_RTH.session_of_day(date(2025, 1, 24))
    assert monday is not None and friday is not None
    [window] = plan("1 min", [Span(monday.start, monday.end)], AAPL_RTH)
    assert window == Window(monday.end, "1 D", Span(friday.end, monday.end))
    assert window.end_text == "20250127-21:00:00"


def test_nothing_is_planned_for_a_weekend_or_a_known_holiday() -> None:
    weekend = [Span(at(2025, 3, 15), at(2025, 3, 17))]
    good_friday = [Span(at(2025, 4, 18), at(2025, 4, 19))]
    for size in ("1 secs", "1 min", "2 mins", "5 mins", "1 hour", "1 day"):
        assert plan(size, weekend, AAPL_RTH) == []
        assert plan(size, good_friday, AAPL_RTH) == []


def test_nothing_is_planned_before_the_head_timestamp() -> None:
    head = at(2025, 3, 12, 9, 30)
    windows = plan("1 min", [Span(at(2025, 3, 1), at(2025, 3, 15))], AAPL_RTH, head)
    assert len(windows) == 3  # Wednesday to Friday
    assert min(w.covers.start for w in windows) >= head
    assert plan("1 secs", [Span(at(2025, 3, 1), at(2025, 3, 12))], AAPL_RTH, head) == []
    daily = plan("1 day", [Span(at(2025, 3, 1), at(2025, 3, 15))], AAPL_RTH, head)
    assert len(daily) == 1 and daily[0].covers.start <= at(2025, 3, 12)  # the head's day is fetched whole


def test_a_2_min_window_takes_two_sessions() -> None:
    windows = plan("2 mins", [Span(at(2025, 3, 10), at(2025, 3, 15))], AAPL_RTH)
    assert [w.duration for w in windows] == ["2 D"] * 3


def test_calendar_windows_shift_by_the_wall_clock() -> None:
    end = at(2025, 3, 14, 16)
    assert shift_back(AAPL_RTH, end, 1, "W") == at(2025, 3, 7, 16)  # across the DST change of 9 March
    assert shift_back(AAPL_RTH, at(2025, 3, 31, 16), 1, "M") == at(2025, 2, 28, 16)
    assert shift_back(AAPL_RTH, at(2024, 2, 29, 16), 1, "Y") == at(2023, 2, 28, 16)


def test_a_daily_window_never_starts_inside_a_session() -> None:
    # the end of a half day (13:00) a year back is 13:00 of a regular day: the start moves to that day's close
    half = AAPL_RTH.session_of_day(date(2025, 11, 28))
    assert half is not None
    [window] = plan("1 day", [Span(at(2025, 11, 28), at(2025, 11, 29))], AAPL_RTH)
    assert window.end == half.end
    assert AAPL_RTH.session_at(window.covers.start) is None


CASES = [("AAPL", True), ("AAPL", False), ("EUR", False), ("BTC", False), ("ES", False), ("ES", True),
         ("SPX", True)]


def _random_wanted(rng: random.Random) -> list[Span]:
    start = at(2024, 1, 1) + rng.randrange(0, 3 * 365 * 86400)
    spans = []
    for _ in range(rng.randrange(1, 4)):
        length = rng.choice([600, 3600, 86400, 5 * 86400, 40 * 86400, 200 * 86400])
        a = start + rng.randrange(0, 86400) // 60 * 60
        spans.append(Span(a, a + rng.randrange(60, length) // 60 * 60))
        start = spans[-1].end + rng.randrange(60, 10 * 86400)
    return list(Coverage(spans))


@pytest.mark.parametrize("bar_size", sorted(LONGEST_DURATION))
def test_random_plans_are_legal_and_cover_every_believed_session_part(bar_size: str) -> None:
    rng = random.Random(f"planner-{bar_size}")
    for case in range(40):
        symbol, use_rth = CASES[case % len(CASES)]
        cal_ = calendar(symbol, use_rth)
        wanted = _random_wanted(rng)
        if bar_size in ("1 secs", "5 secs") and sum(w.seconds for w in wanted) > 20 * 86400:
            wanted = wanted[:1]
        windows = plan(bar_size, wanted, cal_)
        assert all(duration_allowed(bar_size, w.duration) for w in windows)
        union = Coverage(w.covers for w in windows)
        parts = session_parts(cal_, wanted)
        if bar_size in DAILY_BAR_SIZES:  # daily bars are dated at midnight: every wanted trading day is covered
            days = [cal_.midnight(d) for d, _ in cal_.trading_days(Span(wanted[0].start - 2 * 86400,
                                                                         wanted[-1].end + 2 * 86400))]
            for t in days:
                if any(w.start <= t < w.end for w in wanted):
                    assert union.covers(Span(t, t + 1)), (symbol, wanted, t)
        else:
            for part in parts:
                assert union.covers(part), (symbol, use_rth, wanted, part)
        if bar_size not in DAILY_BAR_SIZES:  # no window that could be skipped: each one holds a wanted believed part
            for w in windows:
                assert parts.missing(w.covers) != [w.covers], (symbol, wanted, w)
        assert len({(w.end, w.duration) for w in windows}) == len(windows)  # no request twice


def test_a_plan_of_spans_already_covered_elsewhere_asks_only_for_the_gaps() -> None:
    store = Coverage([Span(at(2025, 3, 10), at(2025, 3, 12)), Span(at(2025, 3, 13), at(2025, 3, 20))])
    missing = store.missing(Span(at(2025, 3, 3), at(2025, 3, 20)))
    windows = plan("1 min", missing, AAPL_RTH)
    days = sorted(datetime.fromtimestamp(w.end, NY).date().day for w in windows)
    assert days == [3, 4, 5, 6, 7, 12]
    for w in windows:
        assert not store.covers(w.covers)
