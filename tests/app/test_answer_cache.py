"""The HTTP worker's cache of final answers: an LRU bounded in bytes, keyed by the validated request."""

from __future__ import annotations

from dataclasses import replace

from app.answer_cache import ENTRY_OVERHEAD, AnswerCache
from shared.bars import BarRequest

PAST = BarRequest("AAPL", "5 mins", "1 D", end_datetime="20250127 16:00:00")


def test_an_identical_request_gets_the_kept_body() -> None:
    cache = AnswerCache(1024 * 1024)
    cache.put(PAST, b'{"bars": []}')
    assert cache.get(replace(PAST)) == b'{"bars": []}'
    assert cache.stats()["hits"] == 1


def test_a_request_that_differs_in_any_field_is_a_miss() -> None:
    cache = AnswerCache(1024 * 1024)
    cache.put(PAST, b"{}")
    for other in (replace(PAST, duration="2 D"), replace(PAST, use_rth=False), replace(PAST, what_to_show="BID"),
                  replace(PAST, exchange="ISLAND"), replace(PAST, end_datetime="20250127 15:00:00")):
        assert cache.get(other) is None
    assert cache.stats()["misses"] == 5


def test_the_least_recently_used_go_first_when_the_bytes_are_spent() -> None:
    body = b"x" * 1000
    cache = AnswerCache(3 * (len(body) + ENTRY_OVERHEAD))
    requests = [replace(PAST, symbol=s) for s in ("A", "B", "C", "D")]
    for request in requests[:3]:
        cache.put(request, body)
    assert cache.get(requests[0]) == body  # A is now the most recent
    cache.put(requests[3], body)
    assert cache.get(requests[1]) is None, "B was the least recently used"
    assert all(cache.get(r) == body for r in (requests[0], requests[2], requests[3]))
    assert cache.stats()["bytes"] == cache.max_bytes


def test_replacing_an_entry_counts_its_bytes_once() -> None:
    cache = AnswerCache(1024 * 1024)
    cache.put(PAST, b"x" * 100)
    cache.put(PAST, b"y" * 50)
    assert cache.stats()["bytes"] == 50 + ENTRY_OVERHEAD and cache.get(PAST) == b"y" * 50


def test_an_answer_larger_than_the_cache_and_a_cache_of_0_keep_nothing() -> None:
    small = AnswerCache(100)
    small.put(PAST, b"x" * 200)
    off = AnswerCache(0)
    off.put(PAST, b"{}")
    assert small.get(PAST) is None and off.get(PAST) is None
    assert small.stats()["entries"] == off.stats()["entries"] == 0
