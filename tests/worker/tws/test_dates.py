"""Reading TWS's time strings: bar dates (formatDate=2) and the end of a historical answer."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from worker.tws.dates import bar_time, format_iso, format_local, parse_tws_time, period_end

NY = "America/New_York"


def at(text: str, tz: str = NY) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(("text", "expected"), [
    ("20250127 11:02:30 America/New_York", at("2025-01-27 11:02:30")),  # current TWS
    ("20250127 11:02:30 Europe/London", at("2025-01-27 11:02:30", "Europe/London")),  # a zone other than the default
    ("20250127 11:02:30", at("2025-01-27 11:02:30")),  # no zone: the default zone
    ("20250127  11:02:30", at("2025-01-27 11:02:30")),  # older TWS: two spaces
    ("20250127-16:02:30", at("2025-01-27 16:02:30", "UTC")),  # UTC form
    ("1737993750", 1737993750.0),  # epoch seconds (formatDate=2)
    ("  1737993750 ", 1737993750.0),
    ("20250707 09:30:00 America/New_York", at("2025-07-07 09:30:00")),  # summer time
])
def test_parse_tws_time_accepts_every_form(text: str, expected: float) -> None:
    assert parse_tws_time(text, NY) == expected


def test_the_default_zone_applies_when_the_text_names_none() -> None:
    assert parse_tws_time("20250127 11:02:30", "Asia/Tokyo") == at("2025-01-27 11:02:30", "Asia/Tokyo")


def test_an_unknown_zone_falls_back_to_new_york() -> None:
    assert parse_tws_time("20250127 11:02:30 Mars/Olympus", NY) == at("2025-01-27 11:02:30")


@pytest.mark.parametrize("text", ["", "now", "20250127", "20250132 11:02:30", "20250127 25:00:00",
                                  "20250127-25:02:30", "2025-01-27T11:02:30"])
def test_parse_tws_time_returns_none_for_anything_else(text: str) -> None:
    assert parse_tws_time(text, NY) is None


def test_bar_time_of_a_daily_bar_is_midnight_in_the_exchange_zone() -> None:
    assert bar_time("20250127", NY) == (at("2025-01-27 00:00:00"), True)
    assert bar_time("20250127", "Asia/Tokyo") == (at("2025-01-27 00:00:00", "Asia/Tokyo"), True)


def test_bar_time_of_an_intraday_bar_is_its_epoch() -> None:
    assert bar_time("1737993720", NY) == (1737993720.0, False)


def test_bar_time_also_reads_intraday_text_dates() -> None:
    assert bar_time("20250127 11:02:00 America/New_York", NY) == (at("2025-01-27 11:02:00"), False)


def test_format_local() -> None:
    assert format_local(at("2025-01-27 11:02:00"), NY, False) == "20250127 11:02:00"
    assert format_local(at("2025-01-27 00:00:00"), NY, True) == "20250127"
    assert format_local(datetime(2025, 1, 27, 16, 2, tzinfo=UTC).timestamp(), NY, False) == "20250127 11:02:00"


@pytest.mark.parametrize("bar_seconds", [1, 5, 60, 300, 3600, 28800])
def test_an_intraday_bar_ends_bar_seconds_after_its_start(bar_seconds: int) -> None:
    start = at("2025-01-27 11:00:00")
    assert period_end(start, bar_seconds, NY, False) == start + bar_seconds


def test_a_daily_bar_ends_at_the_next_midnight() -> None:
    assert period_end(at("2025-01-27 00:00:00"), 86400, NY, True) == at("2025-01-28 00:00:00")


def test_a_daily_bar_ends_at_local_midnight_across_a_dst_change() -> None:
    # 9 March 2025: New York springs forward, the day has 23 hours
    assert period_end(at("2025-03-09 00:00:00"), 86400, NY, True) == at("2025-03-10 00:00:00")
    assert at("2025-03-10 00:00:00") - at("2025-03-09 00:00:00") == 23 * 3600


def test_a_weekly_bar_ends_seven_days_later() -> None:
    assert period_end(at("2025-01-27 00:00:00"), 7 * 86400, NY, True) == at("2025-02-03 00:00:00")


@pytest.mark.parametrize(("start", "end"), [
    ("2025-01-01", "2025-02-01"), ("2025-01-31", "2025-02-01"), ("2025-02-01", "2025-03-01"),
    ("2024-12-01", "2025-01-01"), ("2024-02-01", "2024-03-01"),
])
def test_a_monthly_bar_ends_on_the_first_of_the_next_month(start: str, end: str) -> None:
    assert period_end(at(f"{start} 00:00:00"), 31 * 86400, NY, True) == at(f"{end} 00:00:00")


@pytest.mark.parametrize("local, zone_name, expected", [
    ("2025-01-27 09:30", "America/New_York", "2025-01-27T09:30:00-05:00"),
    ("2025-07-01 09:30", "America/New_York", "2025-07-01T09:30:00-04:00"),  # daylight saving time
    ("2025-03-09 03:00", "America/New_York", "2025-03-09T03:00:00-04:00"),  # the first hour after the change
    ("2025-01-27 09:15", "Asia/Kolkata", "2025-01-27T09:15:00+05:30"),  # half-hour offsets
    ("2025-01-27 08:00", "Europe/London", "2025-01-27T08:00:00+00:00"),
])
def test_format_iso_carries_the_exchange_offset_at_that_instant(local: str, zone_name: str, expected: str) -> None:
    epoch = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone_name)).timestamp()
    text = format_iso(epoch, zone_name, False)
    assert text == expected
    assert datetime.fromisoformat(text).timestamp() == epoch  # the same instant as the bar's `time`


def test_format_iso_of_a_daily_bar_is_its_date() -> None:
    midnight = datetime(2025, 1, 27, tzinfo=ZoneInfo("America/New_York")).timestamp()
    assert format_iso(midnight, "America/New_York", True) == "2025-01-27"
