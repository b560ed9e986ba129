"""Coverage: which spans of a series the store knows complete, merged, and what a span still lacks."""

from __future__ import annotations

import itertools
import random

import pytest

from worker.history.coverage import Coverage, Span


def test_touching_and_overlapping_spans_merge_into_one():
    c = Coverage([Span(20, 30), Span(0, 10), Span(10, 15), Span(12, 18)])
    assert list(c) == [Span(0, 18), Span(20, 30)]
    assert c.seconds == 28


def test_missing_lists_the_gaps_oldest_first():
    c = Coverage([Span(0, 10), Span(20, 30)])
    assert c.missing(Span(5, 40)) == [Span(10, 20), Span(30, 40)]
    assert c.missing(Span(0, 10)) == []
    assert c.missing(Span(-5, 0)) == [Span(-5, 0)]
    assert c.covers(Span(21, 29)) and not c.covers(Span(9, 11)) and c.covers(Span(3, 3))


def test_removing_a_span_keeps_what_was_around_it():
    c = Coverage([Span(0, 10), Span(20, 30)])
    c.remove(Span(5, 25))
    assert list(c) == [Span(0, 5), Span(25, 30)]


def test_a_span_cannot_end_before_it_starts():
    with pytest.raises(ValueError):
        Span(10, 5)


def test_coverage_agrees_with_a_set_of_seconds_on_random_operations():
    rng = random.Random(7)
    for _ in range(200):
        c, seconds = Coverage(), set()
        for _ in range(12):
            a = rng.randrange(0, 100)
            span = Span(a, a + rng.randrange(0, 20))
            if rng.random() < 0.7:
                c.add(span)
                seconds |= set(range(span.start, span.end))
            else:
                c.remove(span)
                seconds -= set(range(span.start, span.end))
        assert {t for s in c for t in range(s.start, s.end)} == seconds
        want = Span(rng.randrange(0, 60), 60 + rng.randrange(0, 60))
        gaps = {t for s in c.missing(want) for t in range(s.start, s.end)}
        assert gaps == set(range(want.start, want.end)) - seconds
        spans = list(c)
        assert all(a.end < b.start for a, b in itertools.pairwise(spans))  # disjoint and not touching
