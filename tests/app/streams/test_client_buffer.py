"""A client's buffer: updates coalesce to the latest, bars, revisions and statuses are never dropped, and a client
that lets too many of those pile up is given up (overflow)."""

from __future__ import annotations

from app.streams.client_buffer import ClientBuffer


def test_everything_pending_is_taken_in_order_as_one_write() -> None:
    buffer = ClientBuffer(limit=10)
    for chunk in (b"a", b"b", b"c"):
        assert buffer.put(chunk)
    assert buffer.ready.is_set()
    assert buffer.take() == b"abc"
    assert not buffer.ready.is_set() and buffer.take() == b""


def test_a_pending_update_is_replaced_by_the_next_one_after_what_came_between() -> None:
    buffer = ClientBuffer(limit=10)
    buffer.put(b"u1.", coalesce=True)
    buffer.put(b"bar.")
    buffer.put(b"u2.", coalesce=True)
    buffer.put(b"u3.", coalesce=True)
    assert len(buffer) == 2
    assert buffer.take() == b"bar.u3."


def test_updates_alone_never_overflow() -> None:
    buffer = ClientBuffer(limit=2)
    for n in range(10_000):
        assert buffer.put(b"u%d" % n, coalesce=True)
    assert buffer.take() == b"u9999" and not buffer.overflowed


def test_bars_are_kept_up_to_the_limit_and_one_more_overflows_the_client() -> None:
    buffer = ClientBuffer(limit=3)
    assert all(buffer.put(b"bar") for _ in range(3))
    assert buffer.put(b"u", coalesce=True)
    assert not buffer.put(b"bar")
    assert buffer.overflowed and buffer.ready.is_set()
    assert buffer.take() == b"", "an overflowed client gets nothing more: it resumes by Last-Event-ID"
    assert not buffer.put(b"u", coalesce=True) and buffer.ready.is_set()
