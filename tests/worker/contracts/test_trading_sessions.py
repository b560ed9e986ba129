"""Trading sessions from contract details' tradingHours / liquidHours: which trading day a moment belongs to, inside
the hours TWS gave (the ranges) and outside them (the daily roll the hours show), in both hours formats. The
simulator's own calendar is the reference for every kind of instrument it serves."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from sim import trading_calendar as cal
from sim.instruments import Universe
from worker.contracts.trading_sessions import parse_hours

NY = "US/Eastern"
CHICAGO = "US/Central"
STOCK_RTH = "20250127:0930-20250127:1600;20250128:0930-20250128:1600;20250201:CLOSED;20250202:CLOSED"
FX = "20250126:1700-20250127:1700;20250127:1700-20250128:1700;20250128:1700-20250129:1700"
ES_GLOBEX = "20250126:1700-20250127:1600;20250127:1700-20250128:1600"  # Chicago: 18:00-17:00 New York


def at(text: str, tz: str = NY) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_a_range_of_the_current_format_is_read_in_the_details_zone() -> None:
    sessions = parse_hours(STOCK_RTH, NY)
    first = sessions.ranges[0]
    assert (first.start, first.end, first.day) == (at("2025-01-27 09:30"), at("2025-01-27 16:00"), date(2025, 1, 27))
    assert len(sessions.ranges) == 2  # CLOSED days have no range


def test_a_session_that_opens_the_evening_before_belongs_to_the_day_it_ends_on() -> None:
    sessions = parse_hours(FX, NY)
    assert sessions.day_of(at("2025-01-27 16:59")) == date(2025, 1, 27)
    assert sessions.day_of(at("2025-01-27 17:00")) == date(2025, 1, 28)
    assert sessions.day_of(at("2025-01-26 17:00")) == date(2025, 1, 27)  # Sunday evening opens Monday


def test_a_futures_session_in_chicago_time_rolls_at_18_00_new_york() -> None:
    sessions = parse_hours(ES_GLOBEX, CHICAGO)
    assert sessions.day_of(at("2025-01-27 16:59")) == date(2025, 1, 27)
    assert sessions.day_of(at("2025-01-27 18:00")) == date(2025, 1, 28)
    assert sessions.start_of(date(2025, 1, 28)) == at("2025-01-27 18:00")


def test_outside_the_ranges_the_daily_roll_of_the_hours_applies() -> None:
    fx = parse_hours(FX, NY)
    assert fx.opening == -7 * 3600  # 17:00 the evening before
    assert fx.day_of(at("2025-01-20 17:30")) == date(2025, 1, 21)  # a week before the hours begin
    assert fx.day_of(at("2025-02-10 09:00")) == date(2025, 2, 10)  # weeks after they end
    assert fx.day_of(at("2025-07-14 17:30")) == date(2025, 7, 15)  # summer time: still 17:00 on the wall clock
    assert fx.start_of(date(2025, 7, 15)) == at("2025-07-14 17:00")


def test_outside_the_ranges_a_day_session_is_its_local_date() -> None:
    stock = parse_hours(STOCK_RTH, NY)
    assert stock.opening == 9 * 3600 + 1800
    assert stock.day_of(at("2025-01-24 15:59")) == date(2025, 1, 24)
    assert stock.day_of(at("2025-01-24 23:59")) == date(2025, 1, 24)
    assert stock.start_of(date(2025, 1, 24)) == at("2025-01-24 09:30")


def test_the_older_format_gives_ranges_on_the_entry_date_and_an_end_before_the_start_is_the_next_morning() -> None:
    sessions = parse_hours("20090507:0700-1830,1830-2330;20090508:CLOSED;20090510:1700-0500", NY)
    assert [(r.start, r.end, r.day) for r in sessions.ranges] == [
        (at("2009-05-07 07:00"), at("2009-05-07 18:30"), date(2009, 5, 7)),
        (at("2009-05-07 18:30"), at("2009-05-07 23:30"), date(2009, 5, 7)),
        (at("2009-05-10 17:00"), at("2009-05-11 05:00"), date(2009, 5, 10)),
    ]
    assert sessions.day_of(at("2009-05-07 20:00")) == date(2009, 5, 7)  # a day split in two ranges is one day


def test_a_range_ending_at_midnight_belongs_to_the_day_before() -> None:
    sessions = parse_hours("20250127:0000-20250128:0000;20250128:0000-20250128:2400", NY)
    assert [r.day for r in sessions.ranges] == [date(2025, 1, 27), date(2025, 1, 28)]
    assert sessions.day_of(at("2025-01-27 23:59")) == date(2025, 1, 27)
    assert sessions.day_of(at("2025-01-28 00:00")) == date(2025, 1, 28)


def test_a_session_split_by_a_break_is_one_trading_day() -> None:
    sessions = parse_hours("20250127:0900-20250127:1130;20250127:1230-20250127:1500", "Asia/Tokyo")
    assert {r.day for r in sessions.ranges} == {date(2025, 1, 27)}
    assert sessions.start_of(date(2025, 1, 27)) == at("2025-01-27 09:00", "Asia/Tokyo")


@pytest.mark.parametrize("hours", ["", "garbage", "2025012:0930-1600", "20250127:0930", "20250127:2500-2600",
                                   "20250127:0930-20250127:0900", "20250127:0930-20250230:1600",
                                   "20250127:0930-20250210:1600", "\x00;;", "20250127:xx30-1600"])
def test_unreadable_hours_give_no_ranges_and_the_local_date(hours: str) -> None:
    sessions = parse_hours(hours, NY)
    assert sessions.ranges == () and sessions.opening is None
    assert sessions.day_of(at("2025-01-27 23:00")) == date(2025, 1, 27)
    assert sessions.start_of(date(2025, 1, 27)) == at("2025-01-27 00:00")


def test_an_unreadable_entry_is_skipped_and_the_others_kept() -> None:
    sessions = parse_hours("20250127:0930-20250127:1600;nonsense;20250128:0930-20250128:1600", NY)
    assert [r.day for r in sessions.ranges] == [date(2025, 1, 27), date(2025, 1, 28)]


def test_an_unknown_zone_reads_new_york() -> None:
    assert parse_hours(STOCK_RTH, "Nowhere/Else").ranges == parse_hours(STOCK_RTH, NY).ranges


def _kinds() -> list[tuple[str, bool]]:
    seen: dict[cal.CalendarKind, str] = {}
    for inst in Universe.load().instruments:
        seen.setdefault(inst.calendar, inst.symbol)
    return [(symbol, rth) for symbol in seen.values() for rth in (True, False)]


@pytest.mark.parametrize(("symbol", "use_rth"), _kinds())
def test_every_moment_of_six_weeks_gets_the_simulators_trading_day(symbol: str, use_rth: bool) -> None:
    """The hours the simulator sends cover a week; the trading day must be right three weeks either side of it,
    across the DST change of 9 March 2025, for every calendar kind (stocks, index, FX, CME futures)."""
    inst = next(i for i in Universe.load().instruments if i.symbol == symbol)
    lookup = at("2025-03-05 10:00")
    details = inst.details(lookup)
    sessions = parse_hours(details.liquid_hours if use_rth else details.trading_hours, details.time_zone_id)
    moment, checked = lookup - 21 * 86400, 0
    while moment < lookup + 21 * 86400:
        session = cal.session_at(inst.calendar, use_rth, moment)
        if session is not None:
            assert sessions.day_of(moment) == session.day, datetime.fromtimestamp(moment, ZoneInfo(NY))
            assert sessions.start_of(session.day) == session.start
            checked += 1
        moment += 17 * 60
    assert checked > 600  # 6 weeks of sessions: RTH stock 28 x 6.5 h, FX 30 x 24 h, sampled every 17 min
