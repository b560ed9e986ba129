"""The date/time strings of historical data: parsing endDateTime and formatting bar and range dates.

TWS accepts, for endDateTime (its error 10314 spells out the grammar):
- ""                              now
- "yyyymmdd HH:MM:SS Region/Zone" any tz-database zone ("US/Eastern" too)
- "yyyymmdd-HH:MM:SS"             UTC (the dash form)
- "yyyymmdd HH:MM:SS"             no zone: TWS uses its own zone and warns 2174 (we use the instrument's zone)
- "HH:MM:SS[ Zone]"               "yyyymmdd ... optional": today in that zone
A bare "yyyymmdd" is not in that grammar, so it is refused like any other malformed value.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sim.messages import SimError

# TWS's wording for both errors below (code 10314 "End Date/Time: The date, time, or time-zone entered is invalid").
END_DATE_INVALID = (
    "End Date/Time: The date, time, or time-zone entered is invalid. The correct format is yyyymmdd hh:mm:ss "
    "xx/xxx where yyyymmdd and xx/xxx are optional. E.g.: 20031126 15:59:00 US/Eastern  Note that there is a "
    "space between the date and time, and between the time and time-zone.  If no date is specified, current date "
    "is assumed. If no time-zone is specified, local time-zone is assumed(deprecated).  You can also provide "
    "yyyymmddd-hh:mm:ss time is in UTC. Note that there is a dash between the date and time in UTC notation."
)
END_DATE_ERROR_CODE = 10314

# Warning TWS sends (with the request's id) when endDateTime has no zone.
WARNING_2174 = (
    "Warning: You submitted request with date-time attributes without explicit time zone. Please switch to use "
    "yyyymmdd-hh:mm:ss in UTC or use instrument time zone, like US/Eastern. Implied time zone functionality will "
    "be removed in the next API release"
)

_UTC_FORM = re.compile(r"(\d{8})-(\d{2}:\d{2}:\d{2})")
_ZONED_FORM = re.compile(r"(?:(\d{8}) )?(\d{2}:\d{2}:\d{2})(?: ([A-Za-z][A-Za-z0-9_+\-/]*))?")


@dataclass(frozen=True)
class EndTime:
    """A parsed endDateTime: `epoch` None means "now"; `zone_missing` asks the caller to send warning 2174."""

    epoch: float | None
    zone_missing: bool = False


def _bad() -> SimError:
    return SimError(END_DATE_ERROR_CODE, END_DATE_INVALID)


def _combine(day: str, hms: str, zone: ZoneInfo | timezone) -> float:
    try:
        naive = datetime.strptime(f"{day} {hms}", "%Y%m%d %H:%M:%S")
    except ValueError:
        raise _bad() from None
    return naive.replace(tzinfo=zone).timestamp()


def parse_end_datetime(text: str, default_zone: str, now: float) -> EndTime:
    """Parse endDateTime; `default_zone` is used when the text names none, `now` for a missing date."""
    text = text.strip()
    if not text:
        return EndTime(None)
    m = _UTC_FORM.fullmatch(text)
    if m:
        return EndTime(_combine(m.group(1), m.group(2), UTC))
    m = _ZONED_FORM.fullmatch(text)
    if m is None:
        raise _bad()
    day, hms, zone_name = m.groups()
    try:
        zone = ZoneInfo(zone_name or default_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad() from None
    if day is None:
        day = datetime.fromtimestamp(now, zone).strftime("%Y%m%d")
    return EndTime(_combine(day, hms, zone), zone_missing=zone_name is None)


def format_bar_time(t: float, zone: ZoneInfo, zone_name: str, format_date: int, legacy: bool = False) -> str:
    """An intraday bar's date: formatDate 2 = epoch seconds; 1 = local time with zone (or legacy two spaces)."""
    if format_date == 2:
        return str(int(t))
    local = datetime.fromtimestamp(t, zone)
    if legacy:
        return local.strftime("%Y%m%d  %H:%M:%S")
    return f"{local.strftime('%Y%m%d %H:%M:%S')} {zone_name}"


def format_day(day: date) -> str:
    """Daily, weekly and monthly bars are dated "yyyymmdd" whatever formatDate says."""
    return day.strftime("%Y%m%d")


def format_range_time(t: float, zone: ZoneInfo, zone_name: str, legacy: bool = False) -> str:
    """startDateStr/endDateStr of historicalData(End).

    Current TWS sends them like a formatDate=1 bar date with the zone ("20231018 16:11:48 America/New_York"),
    whatever formatDate the request asked for; older TWS sent "20231018  16:11:48" (two spaces, no zone).
    """
    return format_bar_time(t, zone, zone_name, 1, legacy)


def format_head_timestamp(t: float, format_date: int) -> str:
    """headTimestamp's value: "yyyymmdd-HH:MM:SS" in UTC for formatDate 1, epoch seconds for 2."""
    if format_date == 2:
        return str(int(t))
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t))
