"""Waiting on a condition with a deadline: the only way tests synchronise with other threads and processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.01, what: str = "",
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Poll `condition` until it returns something truthy and return that; fail at the deadline. `sleep` waits
    between polls (gevent.sleep in a test whose greenlets must run meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout} s (last value {value!r})")
        sleep(interval)
