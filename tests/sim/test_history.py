"""Specification of simulated historical data: what TWS would answer for reqHistoricalData and friends."""

import itertools
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from sim.bar_sizes import is_small_bar
from sim.history import build_history, forming_bar, head_timestamp
from sim.instruments import Universe
from sim.messages import ContractSpec, HistoryQuery, SimError
from sim.trading_calendar import NEW_YORK

U = Universe.load()
AAPL = U.resolve_one(ContractSpec(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD"))
EUR = U.resolve_one(ContractSpec(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"))
ESZ6 = U.resolve_one(ContractSpec(local_symbol="ESZ6", sec_type="FUT", exchange="CME"))
NFLX = U.resolve_one(ContractSpec(symbol="NFLX", sec_type="STK", exchange="SMART", currency="USD"))


def ny(text: str) -> float:
    return datetime.strptime(text, "%Y%m%d %H:%M:%S").replace(tzinfo=NEW_YORK).timestamp()


LATER = ny("20251231 12:00:00")  # "now" for requests about October/November 2025


def q(bar: str = "5 mins", dur: str = "1 D", end: str = "", rth: bool = True, what: str = "TRADES", fmt: int = 1,
      keep: bool = False) -> HistoryQuery:  # fmt: skip
    return HistoryQuery(end, bar, dur, rth, what, fmt, keep)


def refused(code: int, *args: object, **kw: object) -> str:
    with pytest.raises(SimError) as err:
        build_history(*args, **kw)  # type: ignore[arg-type]
    assert err.value.code == code, err.value.message
    return err.value.message


def test_full_regular_day_has_78_five_minute_bars() -> None:
    a = build_history(AAPL, q(end="20251015 16:00:00 US/Eastern"), LATER)
    assert len(a.bars) == 78
    assert a.bars[0].date == "20251015 09:30:00 America/New_York"
    assert a.bars[-1].date == "20251015 15:55:00 America/New_York"
    assert (a.start, a.end) == ("20251014 16:00:00 America/New_York", "20251015 16:00:00 America/New_York")
    assert a.notices == []


def test_extended_hours_have_192_five_minute_bars() -> None:
    bars = build_history(AAPL, q(end="20251015 20:00:00 US/Eastern", rth=False), LATER).bars
    assert len(bars) == 192
    assert (bars[0].date[9:17], bars[-1].date[9:17]) == ("04:00:00", "19:55:00")


def test_early_close_day() -> None:
    end = "20251128 20:00:00 US/Eastern"
    rth = build_history(AAPL, q(end=end), LATER).bars
    assert len(rth) == 42 and rth[-1].date.startswith("20251128 12:55:00")
    assert len(build_history(AAPL, q(end=end, rth=False), LATER).bars) == 156  # 04:00-17:00


def test_hourly_bars_are_clock_aligned_and_clipped_to_the_session() -> None:
    bars = build_history(AAPL, q("1 hour", end="20251015 16:00:00 US/Eastern"), LATER).bars
    assert [b.date[9:14] for b in bars] == ["09:30", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]


def test_daily_bars_skip_holidays_and_weekends() -> None:
    bars = build_history(AAPL, q("1 day", "6 D", end="20250708 16:00:00 US/Eastern"), LATER).bars
    assert [b.date for b in bars] == ["20250630", "20250701", "20250702", "20250703", "20250707", "20250708"]
    bars = build_history(AAPL, q("1 day", "2 W", end="20250110 23:00:00 US/Eastern"), LATER).bars
    # From Friday 2024-12-27 23:00: New Year's Day and the 2025-01-09 day of mourning are closed.
    assert [b.date[4:] for b in bars] == ["1230", "1231", "0102", "0103", "0106", "0107", "0108", "0110"]


def test_weekly_and_monthly_bars_aggregate_days() -> None:
    end = "20251031 20:00:00 US/Eastern"
    days = build_history(AAPL, q("1 day", "1 M", end=end), LATER).bars
    month = build_history(AAPL, q("1 month", "1 M", end=end), LATER).bars
    october = [b for b in days if b.date.startswith("202510")]
    assert month[-1].date == "20251001"
    assert month[-1].open == october[0].open and month[-1].close == october[-1].close
    assert month[-1].high == max(b.high for b in october) and month[-1].volume == sum(b.volume for b in october)
    weeks = build_history(AAPL, q("1 week", "3 W", end=end), LATER).bars
    assert [b.date for b in weeks] == ["20251013", "20251020", "20251027"]


def test_end_date_forms_agree() -> None:
    zoned = build_history(AAPL, q(end="20251015 12:00:00 US/Eastern"), LATER)
    assert build_history(AAPL, q(end="20251015 12:00:00 America/New_York"), LATER).bars == zoned.bars
    assert build_history(AAPL, q(end="20251015 17:00:00 Europe/London"), LATER).bars == zoned.bars
    assert build_history(AAPL, q(end="20251015-16:00:00"), LATER).bars == zoned.bars  # UTC dash form
    bare = build_history(AAPL, q(end="20251015 12:00:00"), LATER)  # no zone: instrument zone + warning 2174
    assert bare.bars == zoned.bars
    assert [code for code, _ in bare.notices] == [2174]
    assert refused(10314, AAPL, q(end="2025-10-15 12:00"), LATER).startswith("End Date/Time")
    refused(10314, AAPL, q(end="20251015 12:00:00 Mars/Base"), LATER)
    refused(10314, AAPL, q(end="20251015"), LATER)


def test_format_dates() -> None:
    end = "20251015 10:00:00 US/Eastern"
    assert build_history(AAPL, q(end=end), LATER).bars[0].date == "20251015 09:30:00 America/New_York"
    legacy = build_history(AAPL, q(end=end), LATER, legacy_dates=True)
    assert legacy.bars[0].date == "20251015  09:30:00" and legacy.end == "20251015  10:00:00"
    assert build_history(AAPL, q(end=end, fmt=2), LATER).bars[0].date == str(int(ny("20251015 09:30:00")))
    assert build_history(AAPL, q("1 day", "2 D", end=end, fmt=2), LATER).bars[-1].date == "20251015"


def test_a_bar_is_the_same_whichever_request_returns_it() -> None:
    one = build_history(AAPL, q(end="20251015 16:00:00 US/Eastern"), LATER).bars
    other = build_history(AAPL, q(dur="3600 S", end="20251015 11:02:00 US/Eastern"), LATER).bars
    assert other and all(b in one for b in other)
    week = build_history(AAPL, q(dur="1 W", end="20251017 16:00:00 US/Eastern"), LATER).bars
    assert all(b in week for b in one)
    # A bar that straddles an explicit end is returned whole.
    assert other[-1].date == "20251015 11:00:00 America/New_York" and other[-1] in one


def test_forming_bar_grows_monotonically_and_completes() -> None:
    start = ny("20251015 10:30:00")
    query = q(keep=True)
    seen = [forming_bar(AAPL, query, start + s) for s in range(0, 300, 7)]
    assert all(b.date == "20251015 10:30:00 America/New_York" for b in seen)
    for before, after in itertools.pairwise(seen):
        assert after.high >= before.high and after.low <= before.low and after.volume >= before.volume
        assert after.open == before.open
    completed = [b for b in build_history(AAPL, q(end="20251015 16:00:00 US/Eastern"), LATER).bars
                 if b.date == seen[0].date]  # fmt: skip
    at_end = build_history(AAPL, q(), start + 300).bars[-1]  # exactly at its end: the completed bar
    assert at_end == completed[0]
    assert forming_bar(AAPL, query, start + 300).date == "20251015 10:35:00 America/New_York"  # next bar begins
    # With end = now the last bar is the incomplete current one, the same one keepUpToDate sends.
    now = start + 123
    assert build_history(AAPL, query, now).bars[-1] == forming_bar(AAPL, query, now)


def test_forming_bar_when_closed_repeats_the_last_bar_of_the_last_session() -> None:
    bar = forming_bar(AAPL, q(keep=True), ny("20251018 12:00:00"))  # Saturday
    assert bar.date == "20251017 15:55:00 America/New_York"
    daily = forming_bar(AAPL, q("1 day", keep=True), ny("20251018 12:00:00"))
    assert daily.date == "20251017"


def test_bar_invariants() -> None:
    for what in ("TRADES", "MIDPOINT", "BID", "ASK"):
        for bar in build_history(AAPL, q("1 min", what=what, end="20251015 16:00:00 US/Eastern"), LATER).bars:
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert isinstance(bar.volume, int) and isinstance(bar.count, int)
            if bar.volume > 0:
                assert bar.low <= bar.wap <= bar.high


def test_quote_series_have_no_size_and_sit_around_trades() -> None:
    end = "20251015 16:00:00 US/Eastern"
    mid = build_history(AAPL, q(what="MIDPOINT", end=end), LATER).bars
    bid = build_history(AAPL, q(what="BID", end=end), LATER).bars
    ask = build_history(AAPL, q(what="ASK", end=end), LATER).bars
    assert all(b.volume == -1 and b.count == -1 and b.wap == -1 for b in mid)
    assert all(b.close < m.close < a.close for b, m, a in zip(bid, mid, ask, strict=True))


def test_fx_has_no_trades_and_quotes_from_sunday_evening() -> None:
    msg = refused(162, EUR, q(end="20251015 12:00:00 US/Eastern"), LATER)
    assert "No historical market data for EUR/CASH@FXSUBPIP Last" in msg
    bars = build_history(EUR, q("1 min", "3600 S", end="20251012 18:00:00 US/Eastern", what="MIDPOINT"), LATER).bars
    assert len(bars) == 60 and bars[0].date.startswith("20251012 17:00:00")
    assert 0.7 < bars[0].close < 1.5
    msg = refused(162, EUR, q("1 min", "3600 S", end="20251012 16:00:00 US/Eastern", what="MIDPOINT"), LATER)
    assert msg.endswith("HMDS query returned no data: EUR.USD@IDEALPRO Midpoint")


def test_es_sessions() -> None:
    end = "20251015 17:00:00 US/Eastern"
    assert len(build_history(ESZ6, q(end=end), LATER).bars) == 78
    eth = build_history(ESZ6, q(end=end, rth=False), LATER).bars
    assert len(eth) == 276 and eth[0].date.startswith("20251014 18:00:00")


def test_validation_errors() -> None:
    assert "bar size setting is invalid" in refused(321, AAPL, q("1 sec"), LATER)
    assert "bar size setting is invalid" in refused(321, AAPL, q("5 minutes"), LATER)
    for bad in ("1D", "0 D", "1 d", "1  D", "-1 D", "1.5 D", ""):
        assert refused(321, AAPL, q(dur=bad), LATER).startswith("Error validating request.")
    assert "must be made in years" in refused(321, AAPL, q("1 day", "400 D"), LATER)
    refused(321, AAPL, q("1 day", "21 Y"), LATER)
    refused(321, AAPL, q(what="FOO"), LATER)
    refused(321, AAPL, q(fmt=3), LATER)
    refused(321, AAPL, q(keep=True, end="20251015 12:00:00 US/Eastern"), LATER)
    refused(321, AAPL, q("1 secs", "60 S", keep=True), LATER)
    assert "Time length exceed max" in refused(162, AAPL, q("1 secs", "1 W"), LATER)
    assert is_small_bar("30 secs") and not is_small_bar("1 min")


def test_no_data_and_not_subscribed() -> None:
    msg = refused(162, AAPL, q(dur="28800 S", end="20251127 16:00:00 US/Eastern"), LATER)  # Thanksgiving
    assert msg == "Historical Market Data Service error message:HMDS query returned no data: AAPL@SMART Trades"
    refused(162, AAPL, q(dur="86400 S", end="20251019 12:00:00 US/Eastern"), LATER)  # Sunday
    refused(162, ESZ6, q(end="20240601 12:00:00 US/Eastern"), LATER)  # before the contract's first date
    refused(162, AAPL, q("1 day", "1 Y", end="19800601 12:00:00 US/Eastern"), LATER)
    assert refused(354, NFLX, q(), LATER).startswith("Requested market data is not subscribed.")


def test_end_after_now_stops_at_now() -> None:
    now = ny("20251015 10:02:00")
    a = build_history(AAPL, q(end="20251016 16:00:00 US/Eastern"), now)
    assert a.bars[-1].date.startswith("20251015 10:00:00") and a.end == "20251015 10:02:00 America/New_York"


def test_head_timestamp() -> None:
    assert head_timestamp(AAPL, True, "TRADES", 1) == "19801212-14:30:00"
    assert head_timestamp(AAPL, False, "TRADES", 1) == "19801212-09:00:00"
    assert head_timestamp(AAPL, True, "TRADES", 2) == str(int(ny("19801212 09:30:00")))
    with pytest.raises(SimError):
        head_timestamp(EUR, True, "TRADES", 1)


def test_prices_are_the_same_in_every_process() -> None:
    code = ("from sim.history import build_history; from sim.instruments import Universe; "
            "from sim.messages import HistoryQuery; i = Universe.load().by_con_id(265598); "
            f"print(build_history(i, HistoryQuery('20251015 16:00:00 US/Eastern', '1 hour', '1 D', True, 'TRADES', 1,"
            f" False), {LATER}).bars[0])")  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, check=True)
    here = build_history(AAPL, replace(q("1 hour", end="20251015 16:00:00 US/Eastern")), LATER).bars[0]
    assert out.stdout.strip() == repr(here)
