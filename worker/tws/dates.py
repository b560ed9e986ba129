"""Reading the time strings TWS sends: bar dates (formatDate=2) and the start/end of a historical answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("America/New_York")


def parse_tws_time(text: str, default_zone: str) -> float | None:
    """Epoch seconds of "yyyymmdd HH:MM:SS[ Zone]", "yyyymmdd  HH:MM:SS" (older TWS), "yyyymmdd-HH:MM:SS" (UTC),
    or epoch digits; None when the text is none of these."""
    text = text.strip()
    if text.isdigit() and len(text) > 8:
        return float(text)
    try:
        if len(text) >= 17 and text[8] == "-":
            return datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp()
        parts = text.split()
        if len(parts) >= 2:
            local = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")
            return local.replace(tzinfo=zone(parts[2] if len(parts) > 2 else default_zone)).timestamp()
    except ValueError:
        return None
    return None


def bar_time(date: str, tz: str) -> tuple[float, bool]:
    """(epoch seconds of the bar's start, is it a daily-or-larger bar) for a formatDate=2 bar date."""
    if len(date) == 8 and date.isdigit():
        day = datetime.strptime(date, "%Y%m%d").replace(tzinfo=zone(tz))
        return day.timestamp(), True
    parsed = parse_tws_time(date, tz)
    return (parsed if parsed is not None else 0.0), False


def format_local(epoch: float, tz: str, daily: bool) -> str:
    """The bar's `date` in the API: "yyyymmdd HH:MM:SS" in the exchange's time zone, or "yyyymmdd" for daily bars."""
    seconds = int(epoch)
    return time.strftime("%Y%m%d" if daily else "%Y%m%d %H:%M:%S",
                         time.gmtime(seconds + _utc_offset(tz, seconds // 900)))


def format_iso(epoch: float, tz: str, daily: bool) -> str:
    """The bar's `datetime` in the API: ISO 8601 with the exchange's UTC offset at that instant
    ("2025-01-27T09:30:00-05:00"), or the date ("2025-01-27") for daily and larger bars. JavaScript's `new Date()`
    and Python's `datetime.fromisoformat` read both."""
    seconds = int(epoch)
    offset = _utc_offset(tz, seconds // 900)
    if daily:
        return time.strftime("%Y-%m-%d", time.gmtime(seconds + offset))
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds + offset))}{sign}{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=4096)
def _utc_offset(tz: str, quarter_hour: int) -> int:
    """The zone's UTC offset in seconds during a quarter of an hour (zone changes happen on quarter hours): a
    large answer has thousands of bars but only a few distinct offsets, so they are looked up once."""
    offset = datetime.fromtimestamp(quarter_hour * 900, zone(tz)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def period_end(start: float, bar_seconds: int, tz: str, daily: bool) -> float:
    """When a bar that started at `start` is complete (daily and larger bars end at the next period's midnight)."""
    if not daily:
        return start + bar_seconds
    day = datetime.fromtimestamp(start, zone(tz))
    if bar_seconds >= 28 * 86400:  # monthly
        nxt = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        return nxt.timestamp()
    return (day + timedelta(days=bar_seconds // 86400)).timestamp()


class TwsClock:
    """TWS's current time, estimated on the owner thread: the latest reading TWS gave (currentTime, or the end of an
    answer that ends now) advanced by the real time elapsed since. TWS's clock runs in real time, so the estimate
    is as good as the reading (a second's resolution); a simulator running faster than real time is underestimated."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._reading: tuple[float, float] | None = None  # (TWS epoch, monotonic when read)

    def observe(self, tws_epoch: float) -> None:
        self._reading = (tws_epoch, self._monotonic())

    def now(self) -> float | None:
        if self._reading is None:
            return None
        epoch, at = self._reading
        return epoch + (self._monotonic() - at)
