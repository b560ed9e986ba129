"""BarCache: answers whose end lies in the past are kept for good (LRU, bounded in bytes); answers ending now are kept
for a time-to-live. The clock is injected."""

from __future__ import annotations

from typing import Any

import pytest

from worker.history.bar_cache import BYTES_PER_BAR, BarCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(bars: int) -> dict[str, Any]:
    return {"bars": [{"time": n, "close": float(n)} for n in range(bars)], "notice": None}


def size_of(bars: int) -> int:
    """What one answer costs in the budget: its bars plus one for the envelope."""
    return BYTES_PER_BAR * (bars + 1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> BarCache:
    return BarCache(size_of(9) * 3, clock)  # room for three answers of nine bars


# ---- hits and misses ---------------------------------------------------------------------------------------------

def test_an_unknown_key_is_a_miss(cache: BarCache) -> None:
    assert cache.get("a") is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_a_kept_answer_is_a_hit_and_the_same_object(cache: BarCache) -> None:
    kept = answer(9)
    cache.put("a", kept, None)
    assert cache.get("a") is kept
    assert cache.get("a") is kept
    assert (cache.hits, cache.misses) == (2, 0)


def test_stats_count_entries_bytes_hits_misses_and_the_hit_ratio(cache: BarCache) -> None:
    assert cache.stats() == {"entries": 0, "bytes": 0, "max_bytes": size_of(9) * 3, "hits": 0, "misses": 0,
                             "hit_ratio": None}
    cache.put("a", answer(9), None)
    cache.put("b", answer(0), 5.0)
    cache.get("a")
    cache.get("a")
    cache.get("b")
    cache.get("c")
    cache.get("c")
    cache.get("c")
    assert cache.stats() == {"entries": 2, "bytes": size_of(9) + size_of(0), "max_bytes": size_of(9) * 3,
                             "hits": 3, "misses": 3, "hit_ratio": 0.5}


def test_the_hit_ratio_is_rounded_to_four_places(cache: BarCache) -> None:
    cache.put("a", answer(1), None)
    cache.get("a")
    cache.get("x")
    cache.get("x")
    assert cache.stats()["hit_ratio"] == 0.3333


# ---- time-to-live ------------------------------------------------------------------------------------------------

def test_an_answer_with_a_ttl_expires(cache: BarCache, clock: Clock) -> None:
    cache.put("a", answer(3), 5.0)
    clock.now += 4.99
    assert cache.get("a") is not None
    clock.now += 0.01
    assert cache.get("a") is None
    assert cache.stats()["entries"] == 0 and cache.size == 0  # an expired entry found is dropped


def test_a_zero_or_negative_ttl_keeps_nothing(cache: BarCache) -> None:
    cache.put("a", answer(3), 0.0)
    cache.put("b", answer(3), -1.0)
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.size == 0


def test_putting_again_replaces_the_answer_and_its_ttl(cache: BarCache, clock: Clock) -> None:
    cache.put("a", answer(3), 5.0)
    newer = answer(4)
    cache.put("a", newer, None)
    clock.now += 3600
    assert cache.get("a") is newer
    assert cache.size == size_of(4)


# ---- immutable entries ---------------------------------------------------------------------------------------------

def test_an_immutable_answer_never_expires(cache: BarCache, clock: Clock) -> None:
    kept = answer(9)
    cache.put("past", kept, None)
    clock.now += 10 * 365 * 86400
    assert cache.get("past") is kept


def test_an_immutable_answer_leaves_only_by_lru_eviction(cache: BarCache) -> None:
    cache.put("past", answer(9), None)
    cache.put("b", answer(9), None)
    cache.put("c", answer(9), None)
    cache.put("d", answer(9), None)
    assert cache.get("past") is None


# ---- LRU by bytes ------------------------------------------------------------------------------------------------

def test_the_least_recently_used_answer_is_evicted_beyond_the_byte_budget(cache: BarCache) -> None:
    for key in "abc":
        cache.put(key, answer(9), None)
    assert cache.size == cache.max_bytes
    cache.get("a")  # a is now the most recently used; b the least
    cache.put("d", answer(9), None)
    assert cache.get("b") is None
    assert all(cache.get(key) is not None for key in "acd")
    assert cache.size == cache.max_bytes


def test_eviction_is_by_bytes_not_by_entries(cache: BarCache) -> None:
    for key in "abcdef":
        cache.put(key, answer(0), None)  # six small answers fit
    assert cache.stats()["entries"] == 6
    cache.put("big", answer(28), None)  # 29 units of 30: room for just one small answer beside it
    assert [key for key in "abcdef" if cache.get(key) is not None] == ["f"]
    assert cache.get("big") is not None
    assert cache.size <= cache.max_bytes


def test_an_answer_larger_than_the_whole_budget_is_not_kept_and_evicts_nothing(cache: BarCache) -> None:
    cache.put("a", answer(9), None)
    cache.put("huge", answer(100), None)
    assert cache.get("huge") is None
    assert cache.get("a") is not None
    assert cache.size == size_of(9)


def test_size_follows_puts_replacements_and_evictions(cache: BarCache) -> None:
    cache.put("a", answer(2), None)
    cache.put("b", answer(3), None)
    assert cache.size == size_of(2) + size_of(3)
    cache.put("a", answer(5), None)
    assert cache.size == size_of(5) + size_of(3)
    for key in "cdefg":
        cache.put(key, answer(9), None)
    assert cache.size <= cache.max_bytes
    assert cache.size == sum(size_of(9) for _ in range(3))
