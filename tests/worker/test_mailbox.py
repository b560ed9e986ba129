"""The hand-off from ibapi's threads to the owner thread: a queue plus a wake-up pipe."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator

import pytest

from worker.mailbox import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.close()


def readable(box: Mailbox) -> bool:
    return bool(select.select([box.fileno()], [], [], 0)[0])


def test_an_empty_mailbox_drains_nothing_and_is_not_readable(mailbox: Mailbox) -> None:
    assert mailbox.drain() == []
    assert not readable(mailbox)


def test_put_wakes_the_owner_and_drain_returns_events_oldest_first(mailbox: Mailbox) -> None:
    mailbox.put(("ready", 1, 7))
    assert readable(mailbox)
    mailbox.put(("bar", 1, 3, ("1737993600", 1.0, 2.0, 0.5, 1.5, 10, 1.2, 4)))
    mailbox.put(("closed", 1))
    assert mailbox.drain() == [("ready", 1, 7), ("bar", 1, 3, ("1737993600", 1.0, 2.0, 0.5, 1.5, 10, 1.2, 4)),
                               ("closed", 1)]
    assert not readable(mailbox)
    assert mailbox.drain() == []


def test_a_full_pipe_does_not_block_producers_nor_lose_events(mailbox: Mailbox) -> None:
    count = 200_000  # far more wake-up bytes than a pipe holds
    for i in range(count):
        mailbox.put(("n", i))
    events = mailbox.drain()
    assert events == [("n", i) for i in range(count)]
    assert not readable(mailbox)


def test_drain_collects_every_event_from_several_producer_threads(mailbox: Mailbox) -> None:
    producers, per_producer = 8, 2000
    start = threading.Barrier(producers)

    def produce(p: int) -> None:
        start.wait()
        for i in range(per_producer):
            mailbox.put(("event", p, i))

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    collected: list[tuple[object, ...]] = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        collected.extend(mailbox.drain())  # drain while producers run, as the owner thread does
    for t in threads:
        t.join()
    collected.extend(mailbox.drain())

    assert len(collected) == producers * per_producer
    for p in range(producers):
        assert [e[2] for e in collected if e[1] == p] == list(range(per_producer))  # each producer's order kept
    assert mailbox.drain() == []


def test_fileno_is_the_read_end_of_a_non_blocking_pipe(mailbox: Mailbox) -> None:
    assert not os.get_blocking(mailbox.fileno())
