"""Historical bars as TWS would answer reqHistoricalData, keepUpToDate updates and reqHeadTimeStamp.

Pure functions of (instrument, query, now): the server owns the clock and the sockets.

Rules modelled (IB's documentation and observed TWS behaviour):
- A bar's date is its start; intraday bars are aligned to the clock (5-min bars at :00, :05, ...) and clipped
  to the session, so hourly RTH bars start 09:30, 10:00, 11:00, ...
- Bars start before the end time; with end = now the last bar is the current, incomplete one. A bar that started
  before an explicit end is returned whole (as known at `now`), so a bar is identical whichever request returns it.
- Durations: at most what IB's table guarantees for the bar size (sim.duration_limits), unless lenient.
  "N S" = bars starting in the last N seconds; "N D" = the last N sessions (trading days); "N W",
  "N M", "N Y" = the calendar weeks/months/years before the end. Weekly/monthly bars always cover their whole
  week/month (up to now) and are dated by their first trading day.
- startDateStr/endDateStr: the end time and the end minus the calendar duration, formatDate-1 style with zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sim import data_kinds
from sim import trading_calendar as cal
from sim.bar_sizes import BarSize, Duration, parse_bar_size, parse_duration, validation_error
from sim.datetimes import (
    WARNING_2174,
    format_bar_time,
    format_day,
    format_head_timestamp,
    format_range_time,
    parse_end_datetime,
)
from sim.duration_limits import check_duration
from sim.instruments import Instrument, Universe
from sim.messages import Bar, HistoryQuery, SimError
from sim.price_path import DAILY_SAMPLES, BarValues

KNOWN_WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY",
                      "OPTION_IMPLIED_VOLATILITY", "FEE_RATE", "SCHEDULE", "AGGTRADES")  # fmt: skip
MAX_INTRADAY_BARS = 50_000  # a cap even when durations are lenient: "Time length exceed max." past it
HMDS = "Historical Market Data Service error message:"


@dataclass(frozen=True)
class HistoryAnswer:
    bars: list[Bar]  # oldest first; with end = now the LAST bar is the current, incomplete bar (as TWS)
    start: str  # startDateStr for historicalData/historicalDataEnd
    end: str  # endDateStr
    notices: list[tuple[int, str]]  # warnings to send with the request's reqId first, e.g. (2174, "...")


# ---- validation ---------------------------------------------------------------------------------------------------


def _check_what(inst: Instrument, what: str, size: BarSize) -> None:
    if what not in KNOWN_WHAT_TO_SHOW:
        raise validation_error("bO", f"Historical data query data type is invalid: '{what}'")
    if not data_kinds.offers(inst, what):
        token = str(size.seconds) if size.intraday else {"day": "1d", "week": "1w", "month": "1m"}[size.unit]
        raise data_kinds.refuse_missing(inst, what, token)


def _check_subscribed(inst: Instrument) -> None:
    if not inst.subscribed:
        venue = inst.primary_exchange or inst.exchange
        raise SimError(354, f"Requested market data is not subscribed. Delayed market data is available."
                            f"{inst.symbol} {venue}/TOP/ALL")  # fmt: skip


def _no_data(inst: Instrument, what: str) -> SimError:
    kind = data_kinds.KIND_NAMES.get(what, what)
    return SimError(162, f"{HMDS}HMDS query returned no data: {inst.local_symbol}@{inst.exchange} {kind}")


def _validate(inst: Instrument, q: HistoryQuery, lenient_durations: bool) -> tuple[BarSize, Duration]:
    size = parse_bar_size(q.bar_size)
    duration = parse_duration(q.duration)
    if q.format_date not in (1, 2):
        raise validation_error("bF", f"Invalid formatDate: {q.format_date}. Legal ones are: 1, 2")
    if q.keep_up_to_date and q.end_datetime.strip():
        raise validation_error("bQ", "End date not supported with live updates.")
    if q.keep_up_to_date and size.intraday and size.seconds < 5:
        raise validation_error("bQ", "Live updates are supported for bar sizes of 5 secs or more.")
    data_kinds.check_query(q)
    _check_what(inst, q.what_to_show, size)
    if not lenient_durations:
        check_duration(size, duration)  # IB's documented table (sim.duration_limits)
    if size.intraday and duration.approx_seconds() / size.seconds > MAX_INTRADAY_BARS:
        raise SimError(162, f"{HMDS}Time length exceed max.")
    return size, duration


# ---- sessions and bar layout ----------------------------------------------------------------------------------


def _in_data(inst: Instrument, day: date) -> bool:
    last = inst.last_date
    return day >= inst.first_date and (last is None or day <= last)


def _sessions(inst: Instrument, rth: bool, start: float, end: float) -> list[cal.Session]:
    return [s for s in cal.sessions_between(inst.calendar, rth, start, end) if _in_data(inst, s.day)]


def _bar_edges(s: cal.Session, seconds: int) -> list[tuple[int, int]]:
    """Clock-aligned bars of `seconds` inside session `s`, clipped to it. Only crypto sessions span a DST change, so
    aligning on the session's wall-clock midnight stays aligned for the whole session (crypto: see
    trading_calendar.session_for_day)."""
    local = datetime.fromtimestamp(s.start, cal.NEW_YORK)
    wall = local.hour * 3600 + local.minute * 60 + local.second
    midnight = s.start - wall
    t = midnight + (wall // seconds) * seconds
    edges: list[tuple[int, int]] = []
    while t < s.end:
        edges.append((max(t, s.start), min(t + seconds, s.end)))
        t += seconds
    return edges


def _shift_back(end: float, d: Duration) -> float:
    """The end time minus a calendar duration (local wall-clock arithmetic for D/W/M/Y)."""
    if d.unit == "S":
        return end - d.count
    local = datetime.fromtimestamp(end, cal.NEW_YORK)
    if d.unit in ("D", "W"):
        back = local - timedelta(days=d.count * (7 if d.unit == "W" else 1))
    else:
        months = d.count * (12 if d.unit == "Y" else 1)
        y, m = divmod(local.year * 12 + local.month - 1 - months, 12)
        m += 1
        day = min(local.day, [31, 29 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 28, 31, 30, 31, 30, 31, 31,
                              30, 31, 30, 31][m - 1])  # fmt: skip
        back = local.replace(year=y, month=m, day=day)
    return back.timestamp()  # aware datetime arithmetic is wall-clock arithmetic: DST-safe


def _window_sessions(inst: Instrument, rth: bool, end: float, d: Duration) -> tuple[list[cal.Session], float]:
    """The sessions a request covers and the earliest bar start it admits."""
    if d.unit == "D":
        found = [s for s in cal.last_sessions(inst.calendar, rth, end, d.count) if _in_data(inst, s.day)]
        return found, (found[0].start if found else end)
    start = _shift_back(end, d)
    return _sessions(inst, rth, start, end), start


def _to_bar(v: BarValues, date_str: str) -> Bar:
    return Bar(date_str, v.open, v.high, v.low, v.close, v.volume, v.wap, v.count)


def _aggregate(days: list[tuple[date, BarValues]]) -> BarValues:
    volume = sum(v.volume for _, v in days)
    if volume > 0:  # float(): crypto volumes are Decimals
        wap = round(sum(v.wap * float(v.volume) for _, v in days) / float(volume), 8)
    elif days[0][1].volume < 0:
        wap = -1.0
    else:
        wap = round(sum(v.wap for _, v in days) / len(days), 8)
    count = sum(v.count for _, v in days) if days[0][1].count >= 0 else -1
    return BarValues(days[0][1].open, max(v.high for _, v in days), min(v.low for _, v in days), days[-1][1].close,
                     volume if volume >= 0 else -1, wap, count)  # fmt: skip


def _group_key(day: date, unit: str) -> tuple[int, int]:
    return (day.isocalendar()[0], day.isocalendar()[1]) if unit == "week" else (day.year, day.month)


def _group_days(inst: Instrument, key: tuple[int, int], unit: str) -> list[date]:
    if unit == "week":
        first = date.fromisocalendar(key[0], key[1], 1)
        last = first + timedelta(days=6)
    else:
        first = date(key[0], key[1], 1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return [d for d in cal.trading_days(inst.calendar, first, last) if _in_data(inst, d)]


class _Builder:
    """Bars of one request: one PricePath (memo tables) shared by all its bars."""

    def __init__(self, inst: Instrument, q: HistoryQuery, size: BarSize, now: float, legacy: bool,
                 universe: Universe | None) -> None:
        self.inst, self.q, self.size, self.now, self.legacy = inst, q, size, now, legacy
        self.path = data_kinds.series_for(inst, q.what_to_show, now, universe)
        self.zone = inst.zone

    def intraday(self, start: int, end: int) -> Bar | None:
        v = self.path.bar(start, end, self.size.seconds, min(end, self.now))
        if v is None:
            return None
        fmt = format_bar_time(start, self.zone, self.inst.time_zone, self.q.format_date, self.legacy)
        return _to_bar(v, fmt)

    def daily_values(self, day: date) -> BarValues | None:
        s = cal.session_for_day(self.inst.calendar, self.q.use_rth, day)
        if s is None or s.start > self.now:
            return None
        return self.path.bar(s.start, s.end, 86400, min(s.end, self.now), DAILY_SAMPLES)

    def grouped(self, days: list[date]) -> list[Bar]:
        """Daily bars for `days`, or the weekly/monthly bars of the groups those days fall in."""
        if self.size.unit == "day":
            out = [(d, self.daily_values(d)) for d in days]
            return [_to_bar(v, format_day(d)) for d, v in out if v is not None]
        bars: list[Bar] = []
        for key in dict.fromkeys(_group_key(d, self.size.unit) for d in days):
            vals = [(d, v) for d in _group_days(self.inst, key, self.size.unit) if (v := self.daily_values(d))]
            if vals:
                bars.append(_to_bar(_aggregate(vals), format_day(vals[0][0])))
        return bars


# ---- public API -----------------------------------------------------------------------------------------------


def build_history(instrument: Instrument, query: HistoryQuery, now: float, legacy_dates: bool = False,
                  lenient_durations: bool = False, universe: Universe | None = None) -> HistoryAnswer:
    """The bars (and warnings) TWS would send for reqHistoricalData at time `now`; SimError for refusals.
    `lenient_durations` serves durations past IB's table (up to MAX_INTRADAY_BARS intraday bars). `universe`: where
    a continuous future's contracts and an option's underlying are found."""
    size, duration = _validate(instrument, query, lenient_durations)
    parsed = parse_end_datetime(query.end_datetime, instrument.time_zone, now)
    _check_subscribed(instrument)
    data_kinds.check_instrument(instrument, query, now)
    end = now if parsed.epoch is None else min(parsed.epoch, now)
    notices = [(2174, WARNING_2174)] if parsed.zone_missing else []
    sessions, window_start = _window_sessions(instrument, query.use_rth, end, duration)
    builder = _Builder(instrument, query, size, now, legacy_dates, universe)
    bars: list[Bar] = []
    if size.intraday:
        for s in sessions:
            for a, b in _bar_edges(s, size.seconds):
                if window_start <= a < end and (bar := builder.intraday(a, b)) is not None:
                    bars.append(bar)
    else:
        days = [s.day for s in sessions if duration.unit in ("D", "S") or s.start >= window_start]
        bars = builder.grouped(days)
    if not bars:
        raise _no_data(instrument, query.what_to_show)
    zone, name = instrument.zone, instrument.time_zone
    start_str = format_range_time(_shift_back(end, duration), zone, name, legacy_dates)
    return HistoryAnswer(bars, start_str, format_range_time(end, zone, name, legacy_dates), notices)


def forming_bar(instrument: Instrument, query: HistoryQuery, now: float, legacy_dates: bool = False,
                universe: Universe | None = None) -> Bar:
    """The bar a keepUpToDate historicalDataUpdate carries at `now`: the bar containing now (as of now), or when
    the market is closed the last bar of the last session (TWS keeps repeating it)."""
    return live_bar(instrument, query, now, legacy_dates, universe)[1]


def live_bar(instrument: Instrument, query: HistoryQuery, now: float, legacy_dates: bool = False,
             universe: Universe | None = None) -> tuple[int, Bar]:
    """(its start in epoch seconds, the bar) of `forming_bar`."""
    size = parse_bar_size(query.bar_size)
    builder = _Builder(instrument, query, size, now, legacy_dates, universe)
    kind, rth = instrument.calendar, query.use_rth
    session = cal.last_session_started(kind, rth, now)
    while session is not None and not _in_data(instrument, session.day):
        if session.day < instrument.first_date:
            session = None
        else:
            session = cal.last_session_started(kind, rth, session.start - 1)
    if session is None:
        raise _no_data(instrument, query.what_to_show)
    if not size.intraday:
        return session.start, builder.grouped([session.day])[-1]
    edges = _bar_edges(session, size.seconds)
    current = [e for e in edges if e[0] <= now < e[1]]
    a, b = current[0] if current else edges[-1]
    bar = builder.intraday(a, b)
    assert bar is not None
    return a, bar


def bar_as_of(instrument: Instrument, query: HistoryQuery, start: int, now: float, legacy_dates: bool = False,
              universe: Universe | None = None) -> Bar:
    """The bar `live_bar` reported as starting at `start`, as known at `now`: its final values once it has ended."""
    size = parse_bar_size(query.bar_size)
    builder = _Builder(instrument, query, size, now, legacy_dates, universe)
    session = cal.session_at(instrument.calendar, query.use_rth, start)
    assert session is not None, "a bar live_bar reported starts inside a session"
    if not size.intraday:
        return builder.grouped([session.day])[-1]
    a, b = next(e for e in _bar_edges(session, size.seconds) if e[0] == start)
    bar = builder.intraday(a, b)
    assert bar is not None
    return bar


def head_timestamp(instrument: Instrument, use_rth: bool, what_to_show: str, format_date: int) -> str:
    """The earliest data point for reqHeadTimeStamp: the start of the first session on or after the first date."""
    _check_what(instrument, what_to_show, parse_bar_size("1 day"))
    _check_subscribed(instrument)
    day = instrument.first_date
    for _ in range(30):
        s = cal.session_for_day(instrument.calendar, use_rth, day)
        if s is not None:
            return format_head_timestamp(s.start, format_date)
        day += timedelta(days=1)
    raise _no_data(instrument, what_to_show)
