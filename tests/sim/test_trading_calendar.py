"""Specification of the simulator's trading calendar (all times New York)."""

from datetime import date, datetime

from sim.trading_calendar import (
    NEW_YORK,
    CalendarKind,
    last_sessions,
    session_at,
    session_for_day,
    sessions_between,
    trading_days,
)

STK, IND, FX, ES = CalendarKind.US_EQUITY, CalendarKind.US_INDEX, CalendarKind.FX, CalendarKind.CME_EQUITY


def ny(text: str) -> int:
    return int(datetime.strptime(text, "%Y%m%d %H:%M").replace(tzinfo=NEW_YORK).timestamp())


def hours(kind: CalendarKind, rth: bool, day: str) -> tuple[str, str] | None:
    s = session_for_day(kind, rth, date.fromisoformat(day))
    if s is None:
        return None
    fmt = "%Y%m%d %H:%M"
    return (
        datetime.fromtimestamp(s.start, NEW_YORK).strftime(fmt),
        datetime.fromtimestamp(s.end, NEW_YORK).strftime(fmt),
    )


def test_regular_and_extended_stock_sessions() -> None:
    assert hours(STK, True, "2025-10-15") == ("20251015 09:30", "20251015 16:00")
    assert hours(STK, False, "2025-10-15") == ("20251015 04:00", "20251015 20:00")


def test_no_weekend_sessions() -> None:
    assert hours(STK, True, "2025-10-18") is None
    assert hours(STK, False, "2025-10-19") is None


def test_nyse_full_holidays() -> None:
    closed = [
        "2024-03-29",
        "2024-06-19",
        "2025-01-09",
        "2025-04-18",
        "2025-06-19",
        "2025-07-04",
        "2025-11-27",
        "2025-12-25",
        "2026-04-03",
        "2026-07-03",
        "2027-03-26",
        "2027-06-18",
        "2027-07-05",
        "2027-12-24",
    ]
    for day in closed:
        assert hours(STK, True, day) is None, day
        assert hours(STK, False, day) is None, day
    # New Year's Day 2028 is a Saturday: the Friday before is a normal trading day.
    assert hours(STK, True, "2027-12-31") == ("20271231 09:30", "20271231 16:00")


def test_early_closes_end_at_13_and_extended_at_17() -> None:
    for day in ("2024-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2027-11-26"):
        d = day.replace("-", "")
        assert hours(STK, True, day) == (f"{d} 09:30", f"{d} 13:00"), day
        assert hours(STK, False, day) == (f"{d} 04:00", f"{d} 17:00"), day


def test_sessions_keep_local_hours_across_dst() -> None:
    before, after = session_for_day(STK, True, date(2025, 3, 7)), session_for_day(STK, True, date(2025, 3, 10))
    assert before is not None and after is not None
    assert (after.start - before.start) == 3 * 86400 - 3600  # the clock jumped forward on Sunday
    assert hours(STK, True, "2025-11-03") == ("20251103 09:30", "20251103 16:00")


def test_index_trades_regular_hours_only() -> None:
    assert hours(IND, False, "2025-10-15") == ("20251015 09:30", "20251015 16:00")


def test_fx_runs_from_sunday_17_to_friday_17() -> None:
    assert hours(FX, False, "2025-10-13") == ("20251012 17:00", "20251013 17:00")  # Monday's day starts Sunday
    assert hours(FX, True, "2025-10-17") == ("20251016 17:00", "20251017 17:00")
    assert session_at(FX, False, ny("20251012 17:30")) is not None  # Sunday evening trades
    assert session_at(FX, False, ny("20251012 16:59")) is None
    assert session_at(FX, False, ny("20251017 17:00")) is None  # Friday close
    assert session_at(FX, False, ny("20251015 17:00")) is not None  # continuous during the week


def test_es_globex_with_daily_halt_and_liquid_hours() -> None:
    assert hours(ES, False, "2025-10-13") == ("20251012 18:00", "20251013 17:00")
    assert hours(ES, True, "2025-10-13") == ("20251013 09:30", "20251013 16:00")
    assert session_at(ES, False, ny("20251014 17:30")) is None  # 17:00-18:00 halt
    assert session_at(ES, False, ny("20251014 18:00")) is not None
    assert hours(ES, False, "2025-11-28") == ("20251127 18:00", "20251128 13:15")


def test_sessions_between_and_last_sessions() -> None:
    found = sessions_between(STK, True, ny("20251016 12:00"), ny("20251021 10:00"))
    assert [s.day.isoformat() for s in found] == ["2025-10-16", "2025-10-17", "2025-10-20", "2025-10-21"]
    last = last_sessions(STK, True, ny("20250707 08:00"), 3)  # before Monday's open; Friday July 4 closed
    assert [s.day.isoformat() for s in last] == ["2025-07-01", "2025-07-02", "2025-07-03"]


def test_trading_days_skip_weekends_and_holidays() -> None:
    days = trading_days(STK, date(2025, 1, 6), date(2025, 1, 12))
    assert [d.day for d in days] == [6, 7, 8, 10]  # 2025-01-09: National Day of Mourning


def test_holidays_come_from_rules_in_any_year() -> None:
    assert hours(STK, True, "2031-11-27") is None  # Thanksgiving 2031
    assert hours(STK, True, "2031-11-28") == ("20311128 09:30", "20311128 13:00")  # the day after: early close
    assert hours(STK, True, "2040-03-30") is None  # Good Friday 2040


def test_es_trades_cmes_short_session_on_the_nyse_holidays_cme_keeps_open() -> None:
    # MLK day and Presidents' Day: 17:00 Chicago the evening before to 12:00 Chicago, no liquid hours
    assert hours(ES, False, "2025-01-20") == ("20250119 18:00", "20250120 13:00")
    assert hours(ES, True, "2025-01-20") is None
    assert hours(ES, False, "2033-02-21") == ("20330220 18:00", "20330221 13:00")
    assert session_at(ES, False, ny("20250120 12:59")) is not None
    assert session_at(ES, False, ny("20250120 13:00")) is None
    assert hours(ES, False, "2025-01-21") == ("20250120 18:00", "20250121 17:00")
    # the days CME closes too: Good Friday, Christmas
    assert hours(ES, False, "2025-04-18") is None and hours(ES, False, "2025-12-25") is None
