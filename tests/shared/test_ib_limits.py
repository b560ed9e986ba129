"""IB's longest duration per bar size, as data, and the rule that counts a duration's length."""

from __future__ import annotations

import pytest

from shared.bars import BAR_SECONDS
from shared.ib_limits import LONGEST_DURATION, duration_allowed, duration_seconds

# IB's table as documented: duration -> (smallest, largest) bar size it allows
IB_TABLE = {"60 S": ("1 secs", "1 min"), "120 S": ("1 secs", "2 mins"), "1800 S": ("1 secs", "30 mins"),
            "3600 S": ("5 secs", "1 hour"), "14400 S": ("10 secs", "3 hours"), "28800 S": ("30 secs", "8 hours"),
            "1 D": ("1 min", "1 day"), "2 D": ("2 mins", "1 day"), "1 W": ("3 mins", "1 week"),
            "1 M": ("30 mins", "1 month"), "1 Y": ("1 day", "1 month")}
BY_SIZE = sorted(BAR_SECONDS, key=BAR_SECONDS.__getitem__)


def test_every_bar_size_has_a_longest_duration() -> None:
    assert set(LONGEST_DURATION) == set(BAR_SECONDS)


@pytest.mark.parametrize(("duration", "seconds"), [("60 S", 60), ("1 D", 86_400), ("2 W", 14 * 86_400),
                                                   ("1 M", 30 * 86_400), ("1 Y", 365 * 86_400)])
def test_durations_are_counted_with_a_30_day_month_and_a_365_day_year(duration: str, seconds: int) -> None:
    assert duration_seconds(duration) == seconds


def test_the_longest_duration_is_the_longest_row_of_ibs_table_that_allows_the_bar_size() -> None:
    for bar_size in BAR_SECONDS:
        rows = [d for d, (lo, hi) in IB_TABLE.items()
                if BY_SIZE.index(lo) <= BY_SIZE.index(bar_size) <= BY_SIZE.index(hi)]
        assert LONGEST_DURATION[bar_size] == max(rows, key=duration_seconds), bar_size


@pytest.mark.parametrize(("bar_size", "duration", "allowed"), [
    ("1 secs", "1800 S", True), ("1 secs", "3600 S", False), ("1 secs", "60 S", True),
    ("5 secs", "3600 S", True), ("5 secs", "1 D", False),
    ("10 secs", "14400 S", True), ("15 secs", "14401 S", False), ("30 secs", "28800 S", True),
    ("1 min", "86400 S", True), ("1 min", "1 D", True), ("1 min", "1 M", False), ("1 min", "2 D", False),
    ("2 mins", "2 D", True), ("3 mins", "1 W", True), ("20 mins", "8 D", False), ("30 mins", "1 M", True),
    ("30 mins", "30 D", True), ("8 hours", "31 D", False), ("1 day", "1 Y", True), ("1 day", "365 D", True),
    ("1 day", "53 W", False), ("1 week", "2 Y", False), ("1 month", "12 M", True),
])
def test_a_duration_is_allowed_up_to_the_longest_counted_in_seconds(bar_size: str, duration: str,
                                                                     allowed: bool) -> None:
    assert duration_allowed(bar_size, duration) is allowed


def test_a_duration_tws_wants_in_a_larger_unit_is_not_allowed() -> None:
    """TWS refuses "172800 S" (321: durations longer than 86400 seconds must be made in days), also for daily bars
    whose table allows a year; found by schemathesis (a 1d range's tail window was sent as "172800 S": 502)."""
    assert duration_allowed("1 day", "86400 S")
    assert not duration_allowed("1 day", "172800 S")
    assert duration_allowed("1 day", "365 D") and not duration_allowed("1 day", "366 D")
    assert duration_allowed("1 day", "52 W") and not duration_allowed("1 day", "53 W")
    assert duration_allowed("1 day", "12 M") and not duration_allowed("1 day", "13 M")
