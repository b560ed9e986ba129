"""IB's documented limits on one historical data request, as data: the longest duration per bar size; and the
bridge's own bound on a range it splits into such requests.

IB's table ("Valid Duration and Bar Size Settings for Historical Data Requests") lists which bar sizes each duration
allows; read per bar size it gives the longest window TWS guarantees (real TWS is sometimes more lenient; past the
table it may answer 162 "Historical Market Data Service error message:Time length exceed max."). A duration is allowed
when its length, counted with the units below, is at most the longest one for its bar size; shorter is always allowed.
The simulator keeps its own copy of this table (sim/ never imports bridge code); the two must agree.
"""

from __future__ import annotations

# IB's duration units counted in seconds, as the rule counts them (a month is 30 days, a year 365)
UNIT_SECONDS: dict[str, int] = {"S": 1, "D": 86_400, "W": 7 * 86_400, "M": 30 * 86_400, "Y": 365 * 86_400}

# IB barSizeSetting -> the longest durationStr IB guarantees for it
LONGEST_DURATION: dict[str, str] = {
    "1 secs": "1800 S", "5 secs": "3600 S", "10 secs": "14400 S", "15 secs": "14400 S", "30 secs": "28800 S",
    "1 min": "1 D", "2 mins": "2 D",
    "3 mins": "1 W", "5 mins": "1 W", "10 mins": "1 W", "15 mins": "1 W", "20 mins": "1 W",
    "30 mins": "1 M", "1 hour": "1 M", "2 hours": "1 M", "3 hours": "1 M", "4 hours": "1 M", "8 hours": "1 M",
    "1 day": "1 Y", "1 week": "1 Y", "1 month": "1 Y",
}


# The longest range one bar request may ask for in all: the history planner splits it into IB-legal windows (one of
# LONGEST_DURATION each); this bounds the plan (and its store), not one TWS request. Counted with UNIT_SECONDS.
LONGEST_RANGE = "50 Y"


def duration_seconds(duration: str) -> int:
    """The length of an IB durationStr ("N S|D|W|M|Y", already validated) in the table's seconds."""
    count, unit = duration.split(" ")
    return int(count) * UNIT_SECONDS[unit]


# The most of one unit TWS takes before it insists on a larger one (error 321, e.g. "Historical data requests for
# durations longer than 86400 seconds must be made in days."); years are bounded by the table
UNIT_MAX: dict[str, int] = {"S": 86_400, "D": 365, "W": 52, "M": 12}


def duration_allowed(bar_size: str, duration: str) -> bool:
    """Whether IB's table guarantees `duration` for `bar_size` (both already valid IB strings), written in a unit TWS
    takes for that length."""
    count, unit = duration.split(" ")
    if int(count) > UNIT_MAX.get(unit, int(count)):
        return False
    return duration_seconds(duration) <= duration_seconds(LONGEST_DURATION[bar_size])


def range_allowed(duration: str) -> bool:
    """Whether a planned range of `duration` (a valid IB string) is within LONGEST_RANGE."""
    return duration_seconds(duration) <= duration_seconds(LONGEST_RANGE)
