"""Bar size and duration strings of reqHistoricalData, parsed as strictly as TWS parses them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sim.messages import SimError

# TWS's own list, in the words of its 321 reply (it names week and month bars "1W" and "1M" there, but the
# documented settings are "1 week" and "1 month").
_LEGAL = (
    "1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, 10 mins, 15 mins, 20 mins, "
    "30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, 1W, 1M"
)


@dataclass(frozen=True)
class BarSize:
    """A bar size: `seconds` for intraday sizes, or a calendar `unit` ("day", "week", "month")."""

    text: str
    seconds: int
    unit: str  # "sec", "day", "week" or "month"

    @property
    def intraday(self) -> bool:
        return self.unit == "sec"


def _sizes() -> dict[str, BarSize]:
    out: dict[str, BarSize] = {}
    for n in (1, 5, 10, 15, 30):
        out[f"{n} secs"] = BarSize(f"{n} secs", n, "sec")
    out["1 min"] = BarSize("1 min", 60, "sec")
    for n in (2, 3, 5, 10, 15, 20, 30):
        out[f"{n} mins"] = BarSize(f"{n} mins", 60 * n, "sec")
    out["1 hour"] = BarSize("1 hour", 3600, "sec")
    for n in (2, 3, 4, 8):
        out[f"{n} hours"] = BarSize(f"{n} hours", 3600 * n, "sec")
    out["1 day"] = BarSize("1 day", 86400, "day")
    out["1 week"] = BarSize("1 week", 7 * 86400, "week")
    out["1 month"] = BarSize("1 month", 31 * 86400, "month")
    return out


BAR_SIZES: dict[str, BarSize] = _sizes()


def validation_error(code: str, cause: str) -> SimError:
    """A 321 in TWS's wording: "Error validating request.-'<code>' : cause - <cause>"."""
    return SimError(321, f"Error validating request.-'{code}' : cause - {cause}")


def parse_bar_size(text: str) -> BarSize:
    """The BarSize for a barSizeSetting; anything TWS would refuse raises SimError 321."""
    size = BAR_SIZES.get(text)
    if size is None:
        raise validation_error("bK", f"Historical data bar size setting is invalid. Legal ones are: {_LEGAL}")
    return size


def is_small_bar(bar_size: str | BarSize) -> bool:
    """Bars of 30 seconds or less: the ones IB's historical-data pacing rules apply to."""
    size = bar_size if isinstance(bar_size, BarSize) else BAR_SIZES.get(bar_size)
    return size is not None and size.intraday and size.seconds <= 30


@dataclass(frozen=True)
class Duration:
    """A durationStr: `count` of `unit` ("S", "D", "W", "M" or "Y")."""

    count: int
    unit: str

    def approx_seconds(self) -> int:
        """Calendar length, for sanity caps only (months as 31 days, years as 366)."""
        per = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 31 * 86400, "Y": 366 * 86400}[self.unit]
        return self.count * per


# One positive integer, exactly one space, one unit letter; TWS refuses "1D", "1  D", "0 D", "1 d".
_DURATION = re.compile(r"([1-9][0-9]{0,8}) ([SDWMY])")

# TWS's limits per unit before it insists on a larger unit (its 321 wording, e.g. "... durations longer than
# 365 days must be made in years.").
_UNIT_LIMITS = {"S": (86400, "seconds", "days"), "D": (365, "days", "years"),
                "W": (52, "weeks", "years"), "M": (12, "months", "years")}  # fmt: skip
MAX_YEARS = 20


def parse_duration(text: str) -> Duration:
    """The Duration for a durationStr; malformed or oversized ones raise SimError 321."""
    m = _DURATION.fullmatch(text)
    if m is None:
        raise validation_error(
            "bP", f"Historical data duration is invalid: '{text}'. The format is 'integer{{SPACE}}unit' with unit "
            "S (seconds), D (days), W (weeks), M (months) or Y (years)",
        )  # fmt: skip
    d = Duration(int(m.group(1)), m.group(2))
    if d.unit in _UNIT_LIMITS:
        limit, name, bigger = _UNIT_LIMITS[d.unit]
        if d.count > limit:
            raise validation_error(
                "bH", f"Historical data requests for durations longer than {limit} {name} must be made in {bigger}."
            )
    elif d.count > MAX_YEARS:
        raise validation_error("bH", f"Historical data requests for durations longer than {MAX_YEARS} years are "
                                     "not supported.")  # fmt: skip
    return d
