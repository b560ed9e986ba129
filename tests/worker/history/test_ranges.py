"""The range a request asks for, by IB's duration rules, and where its complete bars end."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.bars import BarRequest
from worker.history.coverage import Span
from worker.history.ranges import complete_before, requested_span

NY = ZoneInfo("America/New_York")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=NY).timestamp())


def sessions_before(end: int, count: int) -> list[Span]:
    days = [at(f"2025-01-{d:02d}T09:30:00") for d in (21, 22, 23, 24, 27, 28)]  # Mon 20th: MLK day
    return [Span(s, s + 23_400) for s in days if s < end][-count:]


def test_seconds_weeks_and_months_are_spans_before_the_end():
    now = at("2025-01-28T11:00:00")
    r = BarRequest(symbol="AAPL", bar_size="1 secs", duration="1800 S", end_datetime="20250128 10:00:00")
    assert requested_span(r, "America/New_York", now, sessions_before) == Span(at("2025-01-28T09:30:00"),
                                                                               at("2025-01-28T10:00:00"))
    r = BarRequest(symbol="AAPL", bar_size="5 mins", duration="1 M", end_datetime="20250128 10:00:00")
    assert requested_span(r, "America/New_York", now, sessions_before).start == at("2024-12-28T10:00:00")


def test_days_count_sessions_not_calendar_days():
    now = at("2025-01-28T11:00:00")
    r = BarRequest(symbol="AAPL", bar_size="1 min", duration="3 D")  # ends now: today, Monday 27th, Friday 24th
    assert requested_span(r, "America/New_York", now, sessions_before) == Span(at("2025-01-24T09:30:00"), now)


def test_an_end_in_the_future_is_now_and_a_start_names_the_range():
    now = at("2025-01-28T11:00:00")
    r = BarRequest(symbol="AAPL", bar_size="1 min", duration="", start_datetime="20250127 09:30:00",
                   end_datetime="20250130 16:00:00")
    assert requested_span(r, "America/New_York", now, sessions_before) == Span(at("2025-01-27T09:30:00"), now)


def test_an_intraday_bar_is_complete_once_its_period_is_over():
    r = BarRequest(symbol="AAPL", bar_size="1 min", duration="1 D")
    edge = complete_before(r, "America/New_York", at("2025-01-28T11:00:30"))
    assert at("2025-01-28T10:59:00") < edge <= at("2025-01-28T11:00:00")  # 10:59 complete, 11:00 forming


def test_daily_weekly_and_monthly_bars_wait_for_their_period():
    now = at("2025-01-29T17:00:00")  # a Wednesday, after the close
    day = BarRequest(symbol="AAPL", bar_size="1 day", duration="1 M")
    week = BarRequest(symbol="AAPL", bar_size="1 week", duration="1 Y")
    month = BarRequest(symbol="AAPL", bar_size="1 month", duration="1 Y")
    assert complete_before(day, "America/New_York", now) == at("2025-01-29T00:00:00")
    assert complete_before(week, "America/New_York", now) == at("2025-01-27T00:00:00")
    assert complete_before(month, "America/New_York", now) == at("2025-01-01T00:00:00")
