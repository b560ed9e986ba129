"""include_forming answers a live series' worker marked (`live`) are repeated by the HTTP worker exactly until that
series' next event on its SUB socket: kept only once the watch is confirmed and nothing later was seen, dropped on
any later event, another incarnation, at their age limit, and when the feed's connection drops."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask

from app.streams.fanout import Fanout
from app.streams.forming_cache import FormingAnswers
from app.streams.hub import forming_answers
from shared.bars import BarRequest
from shared.protocol import WorkerReply
from shared.streams import LiveAnswer
from tests.app.conftest import WorkerStub
from tests.app.streams.conftest import SERIES, A, B, Feed, bar, green_wait_until

POLL = BarRequest("AAPL", "1 min", "1 D", include_forming=True)


def confirmed(fanout: Fanout, feed: Feed, seq: int = 1) -> None:
    """The series watched and an event of it seen: from now on every event of it reaches this process."""
    fanout.watch(SERIES)
    feed.wait_subscribed()
    feed.publish(seq, "update", bar(0))
    green_wait_until(lambda: fanout.watching(SERIES).seq == seq, what="the event seen")


@pytest.fixture
def cache(fanout: Fanout) -> FormingAnswers:
    return FormingAnswers(fanout, max_age=30.0)


def test_an_answer_is_repeated_until_the_series_next_event(cache: FormingAnswers, fanout: Fanout, feed: Feed) -> None:
    confirmed(fanout, feed, seq=4)
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 4))
    assert cache.get(POLL) == b"answer" and cache.get(POLL) == b"answer"
    assert cache.get(replace(POLL, duration="2 D")) is None, "only the identical request"
    feed.publish(5, "update", bar(0, close=1.0))
    green_wait_until(lambda: cache.get(POLL) is None, what="the answer dropped at the next event")
    assert cache.stats()["hits"] >= 2


def test_an_answer_before_the_watch_is_confirmed_is_not_kept(cache: FormingAnswers, fanout: Fanout,
                                                              feed: Feed) -> None:
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 4))  # the topic was not subscribed yet: events may be lost
    assert cache.get(POLL) is None
    feed.wait_subscribed()
    feed.publish(5, "update", bar(0))
    green_wait_until(lambda: fanout.watching(SERIES).confirmed, what="confirmed")
    cache.put(POLL, b"later", LiveAnswer(SERIES, A, 5))
    assert cache.get(POLL) == b"later"


def test_an_answer_older_than_an_event_already_seen_is_not_kept(cache: FormingAnswers, fanout: Fanout,
                                                                 feed: Feed) -> None:
    confirmed(fanout, feed, seq=7)
    cache.put(POLL, b"stale", LiveAnswer(SERIES, A, 6))
    assert cache.get(POLL) is None


def test_an_answer_ahead_of_the_feed_is_kept_while_its_own_events_arrive(cache: FormingAnswers, fanout: Fanout,
                                                                          feed: Feed) -> None:
    confirmed(fanout, feed, seq=3)
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 5))  # events 4 and 5 were published before it, still on the way
    feed.publish(4, "update", bar(0, close=1.0))
    feed.publish(5, "update", bar(0, close=2.0))
    green_wait_until(lambda: fanout.watching(SERIES).seq == 5, what="events 4 and 5 seen")
    assert cache.get(POLL) == b"answer"


def test_another_incarnation_drops_the_answer(cache: FormingAnswers, fanout: Fanout, feed: Feed) -> None:
    confirmed(fanout, feed, seq=3)
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 3))
    feed.publish(1, "update", bar(0), incarnation=B)
    green_wait_until(lambda: cache.get(POLL) is None, what="dropped")


def test_an_answer_without_a_live_marker_is_not_kept(cache: FormingAnswers, fanout: Fanout, feed: Feed) -> None:
    confirmed(fanout, feed)
    cache.put(POLL, b"answer", None)
    assert cache.get(POLL) is None


def test_an_answer_is_asked_for_again_at_its_age_limit(fanout: Fanout, feed: Feed) -> None:
    cache = FormingAnswers(fanout, max_age=0.05)
    confirmed(fanout, feed)
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 1))
    assert cache.get(POLL) == b"answer"
    green_wait_until(lambda: cache.get(POLL) is None, what="expired")


def test_the_feed_dropping_forgets_everything(cache: FormingAnswers, fanout: Fanout, feed: Feed) -> None:
    confirmed(fanout, feed)
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 1))
    feed.socket.close(linger=0)  # the worker went away
    green_wait_until(lambda: not fanout.watching(SERIES).confirmed, what="the disconnect seen")
    assert cache.get(POLL) is None and cache.stats()["entries"] == 0


# ---- through POST /bars -----------------------------------------------------------------------------------------

@pytest.fixture
def polled(app_factory: Callable[..., Flask], stub: WorkerStub, feed: Feed) -> Iterator[tuple[Flask, list[Any]]]:
    live: list[Any] = [LiveAnswer(SERIES, A, 1).to_wire()]
    stub.handler = lambda request: WorkerReply(request.id, result={"bars": [bar(0)], "notice": None,
                                                                   "live": live[0]})
    app = app_factory(worker_events_endpoint=feed.endpoint)
    yield app, live
    forming_answers(app)._fanout.close()


BODY = {"symbol": "AAPL", "period": "1m", "duration": "1 D", "include_forming": True}


def test_a_live_answer_is_served_again_without_asking_the_worker(polled: tuple[Flask, list[Any]], stub: WorkerStub,
                                                                 feed: Feed) -> None:
    app, _ = polled
    client = app.test_client()
    first = client.post("/api/v1/bars", json=BODY)  # the worker's answer; the series watched from now on
    feed.wait_subscribed()
    feed.publish(1, "update", bar(0))
    with app.app_context():
        green_wait_until(lambda: forming_answers().stats() and forming_answers()._fanout.watching(SERIES).confirmed,
                         what="confirmed")
    second = client.post("/api/v1/bars", json=BODY)  # the worker's answer again, now kept
    asked = len(stub.requests)
    answers = [client.post("/api/v1/bars", json=BODY) for _ in range(5)]
    assert len(stub.requests) == asked == 2, "answered by the HTTP worker itself"
    assert all(a.data == first.data == second.data for a in answers)
    assert b"live" not in first.data, "the marker is the worker's, not the client's"
    health = client.get("/api/v1/health").get_json()
    assert health["http_worker"]["forming_answers"]["hits"] == 5


def test_an_event_already_delivered_drops_the_answer_before_the_reading_greenlet_runs(
        cache: FormingAnswers, fanout: Fanout, feed: Feed) -> None:
    """A busy HTTP worker may not have run its reading greenlet yet when a poll comes: what its socket holds counts."""
    import time

    import zmq

    confirmed(fanout, feed, seq=4)
    cache.put(POLL, b"answer", LiveAnswer(SERIES, A, 4))
    feed.publish(5, "update", bar(0, close=1.0))
    deadline = time.monotonic() + 5
    # wait, without yielding to any greenlet, until the event is in this process's SUB socket
    while not fanout._sub.getsockopt(zmq.EVENTS) & zmq.POLLIN:
        assert time.monotonic() < deadline, "the event never arrived"
    assert cache.get(POLL) is None, "an answer older than an event this process had received"
