"""IB's limits on how long a historical request may be for its bar size, as data.

IB's "Valid Duration and Bar Size Settings for Historical Data Requests" (historical data limitations page) lists, for
each duration, the bar sizes it allows. What is guaranteed for a bar size is the longest duration whose row allows it.
The rule (shared with the bridge, which keeps its own copy in shared/): a duration is allowed when its length, counted
S = 1 s, D = 86,400 s, W = 7 D, M = 30 D, Y = 365 D, is at most that longest duration counted the same way; shorter
ones always are. Past it TWS answers 162 "Historical Market Data Service error message:Time length exceed max."
Real TWS is sometimes more lenient (users page 1-minute bars 10 days at a time); `lenient_durations` models that.
"""

from __future__ import annotations

from sim.bar_sizes import BAR_SIZES, BarSize, Duration, parse_bar_size, parse_duration
from sim.messages import SimError

TIME_LENGTH_EXCEEDED = SimError(162, "Historical Market Data Service error message:Time length exceed max.")

UNIT_SECONDS = {"S": 1, "D": 86_400, "W": 7 * 86_400, "M": 30 * 86_400, "Y": 365 * 86_400}

# IB's table: duration, smallest and largest bar size it allows.
IB_TABLE: tuple[tuple[str, str, str], ...] = (
    ("60 S", "1 secs", "1 min"),
    ("120 S", "1 secs", "2 mins"),
    ("1800 S", "1 secs", "30 mins"),
    ("3600 S", "5 secs", "1 hour"),
    ("14400 S", "10 secs", "3 hours"),
    ("28800 S", "30 secs", "8 hours"),
    ("1 D", "1 min", "1 day"),
    ("2 D", "2 mins", "1 day"),
    ("1 W", "3 mins", "1 week"),
    ("1 M", "30 mins", "1 month"),
    ("1 Y", "1 day", "1 month"),
)


def length_seconds(duration: Duration) -> int:
    """A duration's length by the rule's counting (a month is 30 days, a year 365)."""
    return duration.count * UNIT_SECONDS[duration.unit]


def _longest() -> dict[str, str]:
    order = list(BAR_SIZES)  # ascending, 1 secs .. 1 month
    longest: dict[str, str] = {}
    for duration, smallest, largest in IB_TABLE:
        length = length_seconds(parse_duration(duration))
        for size in order[order.index(smallest):order.index(largest) + 1]:
            if size not in longest or length > length_seconds(parse_duration(longest[size])):
                longest[size] = duration
    missing = set(order) - set(longest)
    if missing:
        raise AssertionError(f"IB's table leaves bar sizes without a duration: {sorted(missing)}")
    return longest


# "1 secs" -> "1800 S", "1 min" -> "1 D", "30 mins" -> "1 M", "1 day" -> "1 Y", ...
LONGEST_DURATION: dict[str, str] = _longest()


def check_duration(size: BarSize, duration: Duration) -> None:
    """SimError 162 "Time length exceed max." when `duration` is longer than IB guarantees for `size`."""
    limit = parse_duration(LONGEST_DURATION[size.text])
    if length_seconds(duration) > length_seconds(limit):
        raise TIME_LENGTH_EXCEEDED


def allowed(bar_size: str, duration: str) -> bool:
    """Whether IB's table guarantees `duration` for `bar_size` (both as TWS spells them)."""
    try:
        check_duration(parse_bar_size(bar_size), parse_duration(duration))
    except SimError:
        return False
    return True
