"""The believed sessions: built from contract details, equal to the simulator's ("TWS's") calendar for years."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from sim import trading_calendar as cal
from tests.worker.history.sim_contracts import calendar, instrument, resolved
from worker.contracts.resolver import ResolvedContract
from worker.history.calendar import SessionCalendar, holiday_rules
from worker.history.coverage import Span

NY = cal.NEW_YORK
FOUR_YEARS = Span(int(datetime(2024, 1, 1, tzinfo=NY).timestamp()), int(datetime(2028, 1, 1, tzinfo=NY).timestamp()))
CASES = [("AAPL", True), ("AAPL", False), ("SPX", True), ("SPX", False), ("EUR", True), ("EUR", False),
         ("BTC", True), ("BTC", False), ("ES", True), ("ES", False)]


def sim_sessions(symbol: str, use_rth: bool, span: Span) -> list[Span]:
    kind = instrument(symbol).calendar
    return [Span(s.start, s.end) for s in cal.sessions_between(kind, use_rth, span.start, span.end)]


@pytest.mark.parametrize(("symbol", "use_rth"), CASES)
def test_the_believed_sessions_of_2024_to_2027_equal_the_simulators(symbol: str, use_rth: bool) -> None:
    believed = calendar(symbol, use_rth).sessions(FOUR_YEARS)
    expected = sim_sessions(symbol, use_rth, FOUR_YEARS)
    assert len(believed) == len(expected)
    assert believed == expected


@pytest.mark.parametrize(("symbol", "use_rth"), CASES)
@pytest.mark.parametrize("lookup_day", [date(2024, 11, 27), date(2025, 7, 3), date(2026, 12, 23)])
def test_details_looked_up_in_a_holiday_week_give_the_same_calendar(symbol: str, use_rth: bool,
                                                                      lookup_day: date) -> None:
    lookup = datetime.combine(lookup_day, datetime.min.time(), NY).timestamp() + 10 * 3600
    assert calendar(symbol, use_rth, lookup).sessions(FOUR_YEARS) == sim_sessions(symbol, use_rth, FOUR_YEARS)


def test_the_calendar_works_for_any_year_by_rules() -> None:
    aapl = calendar("AAPL", True)
    days = [datetime.fromtimestamp(s.start, NY).date() for s in aapl.sessions(Span(
        int(datetime(2031, 12, 20, tzinfo=NY).timestamp()), int(datetime(2032, 1, 5, tzinfo=NY).timestamp())))]
    assert date(2031, 12, 25) not in days and date(2032, 1, 1) not in days  # Christmas, New Year
    assert date(2031, 12, 24) in days  # a half day
    half = aapl.session_of_day(date(2031, 12, 24))
    assert half is not None and datetime.fromtimestamp(half.end, NY).hour == 13
    assert date(2031, 12, 27) not in days  # a Saturday
    old = aapl.session_of_day(date(1999, 3, 10))
    assert old is not None and datetime.fromtimestamp(old.start, NY).strftime("%H:%M") == "09:30"


def test_sessions_keep_their_wall_clock_hours_across_dst() -> None:
    eur = calendar("EUR", False)
    for day in (date(2030, 3, 8), date(2030, 3, 11), date(2030, 11, 1), date(2030, 11, 4)):
        s = eur.session_of_day(day)
        assert s is not None
        assert datetime.fromtimestamp(s.start, NY).strftime("%H:%M") == "17:00"
        assert datetime.fromtimestamp(s.end, NY).strftime("%H:%M") == "17:00"


def test_fx_and_crypto_trade_through_nyse_holidays() -> None:
    assert calendar("EUR", False).session_of_day(date(2029, 7, 4)) is not None
    assert calendar("BTC", False).session_of_day(date(2029, 12, 25)) is not None
    assert calendar("BTC", False).session_of_day(date(2029, 12, 29)) is not None  # a Saturday
    assert calendar("EUR", False).session_of_day(date(2029, 12, 29)) is None


def test_holiday_families_are_chosen_by_security_type_and_venue() -> None:
    assert holiday_rules(resolved(instrument("AAPL"))).name == "nyse"
    assert holiday_rules(resolved(instrument("SPX"))).name == "nyse"
    assert holiday_rules(resolved(instrument("ES"))).name == "cme_equity"
    assert holiday_rules(resolved(instrument("EUR"))).name == "none"
    assert holiday_rules(resolved(instrument("BTC"))).name == "none"
    london = ResolvedContract(1, "VOD", "STK", "SMART", "LSE", "GBP", "VOD", "", "Europe/London")
    assert holiday_rules(london).name == "none"


def test_without_hours_every_weekday_is_believed_open_all_day() -> None:
    bare = ResolvedContract(1, "X", "STK", "SMART", "NYSE", "USD", "X", "", "America/New_York")
    cal_ = SessionCalendar.for_contract(bare, True)
    s = cal_.session_of_day(date(2025, 3, 12))
    assert s is not None and s.seconds == 86400
    assert cal_.session_of_day(date(2025, 3, 15)) is None  # Saturday
    assert cal_.session_of_day(date(2025, 4, 18)) is None  # Good Friday


def test_the_details_ranges_win_over_the_pattern() -> None:
    # a contract whose details announce an early close and a closure that no rule knows
    hours = "20250303:0930-20250303:1600;20250304:CLOSED;20250305:0930-20250305:1200;20250306:0930-20250306:1600"
    c = ResolvedContract(1, "X", "STK", "SMART", "NYSE", "USD", "X", "", "US/Eastern", hours, hours)
    cal_ = SessionCalendar.for_contract(c, True)
    assert cal_.session_of_day(date(2025, 3, 4)) is None
    noon = cal_.session_of_day(date(2025, 3, 5))
    assert noon is not None and datetime.fromtimestamp(noon.end, NY).hour == 12
    assert cal_.session_of_day(date(2025, 3, 7)) is not None  # past the ranges: the pattern


def test_previous_end_skips_closed_days() -> None:
    aapl = calendar("AAPL", True)
    monday = aapl.session_of_day(date(2025, 1, 27))
    friday = aapl.session_of_day(date(2025, 1, 24))
    assert monday is not None and friday is not None
    assert aapl.previous_end(monday) == friday.end


def test_es_believes_cmes_short_session_on_nyse_holidays_cme_keeps_open() -> None:
    globex, liquid = calendar("ES", False), calendar("ES", True)
    mlk = globex.session_of_day(date(2031, 1, 20))  # far from the details' week: by rule
    assert mlk is not None and datetime.fromtimestamp(mlk.end, NY).strftime("%d %H:%M") == "20 13:00"
    assert liquid.session_of_day(date(2031, 1, 20)) is None
    assert globex.session_of_day(date(2031, 4, 11)) is None  # Good Friday: CME closes too
