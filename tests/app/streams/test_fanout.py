"""The per-process fan-out over a real ZeroMQ SUB socket: each event reaches every receiver of its series, encoded
once; topics are subscribed only while they have receivers; the worker hears how many receivers each series has."""

from __future__ import annotations

from typing import Any

import orjson

from app.streams.client_buffer import ClientBuffer
from app.streams.fanout import Fanout
from app.streams.receiver import Receiver
from app.streams.request import StreamRequest
from shared.bars import BarRequest
from tests.app.streams.conftest import SERIES, A, Feed, Ops, bar, green_wait_until
from tests.sse import parse

OTHER = "272093|SMART|1 min|TRADES|rth"


def receiver(limit: int = 100) -> Receiver:
    return Receiver(StreamRequest(BarRequest("AAPL", "1 min", "1 D", include_forming=True)), ClientBuffer(limit))


def opened(fanout: Fanout, series: str = SERIES, seq: int = 0) -> Receiver:
    r = receiver()
    fanout.attach(r, series)
    r.apply_snapshot({"series": series, "incarnation": A, "seq": seq, "bars": [], "forming": None,
                      "status": {"status": "live", "reason": None}})
    r.buffer.take()
    return r


def test_an_event_reaches_every_receiver_of_its_series_and_no_other(fanout: Fanout, feed: Feed) -> None:
    first, second, other = opened(fanout), opened(fanout), opened(fanout, OTHER)
    feed.wait_subscribed(SERIES)
    feed.wait_subscribed(OTHER)
    feed.publish(1, "bar", bar(0))
    green_wait_until(lambda: len(first.buffer) and len(second.buffer), what="the bar fanned out")
    chunks = [first.buffer.take(), second.buffer.take()]
    assert chunks[0] == chunks[1] and [e.data for e in parse(chunks[0])] == [bar(0)]
    assert len(other.buffer) == 0


def test_a_topic_is_subscribed_while_it_has_receivers_and_the_worker_hears_0_when_the_last_leaves(
        fanout: Fanout, feed: Feed, ops: Ops) -> None:
    first, second = opened(fanout), opened(fanout)
    feed.wait_subscribed()
    fanout.detach(first)
    green_wait_until(lambda: {SERIES: 1} in [b["series"] for b in ops.bodies("stream_interest")],
                     what="interest reported")
    fanout.detach(second)
    feed.wait_subscribed(subscribed=False)
    green_wait_until(lambda: ops.bodies("stream_interest")[-1]["series"] == {SERIES: 0}, what="0 reported")
    assert feed.subscriptions == [b"\x01" + SERIES.encode() + b"\n", b"\x00" + SERIES.encode() + b"\n"]


def test_interest_is_reported_every_interval_with_the_pid_and_the_count_per_series(
        fanout: Fanout, feed: Feed, ops: Ops) -> None:
    opened(fanout), opened(fanout), opened(fanout, OTHER)
    green_wait_until(lambda: len(ops.bodies("stream_interest")) >= 3, what="three reports")
    body = ops.bodies("stream_interest")[-1]
    assert body["series"] == {SERIES: 2, OTHER: 1} and isinstance(body["http_worker"], int)


def test_receivers_of_a_series_the_worker_no_longer_knows_reopen(fanout: Fanout, feed: Feed, ops: Ops) -> None:
    ops.unknown = [SERIES]
    lost, kept = opened(fanout), opened(fanout, OTHER)
    green_wait_until(lambda: lost.reopen_needed, what="the receiver asked to re-open")
    assert not kept.reopen_needed


def test_a_malformed_message_is_dropped_and_the_gap_it_leaves_reopens(fanout: Fanout, feed: Feed) -> None:
    r = opened(fanout)
    feed.wait_subscribed()
    topic = SERIES.encode() + b"\n"
    malformed: list[tuple[bytes, ...]] = [(topic, b"{not json"), (topic, b'{"v": 1}'), (topic,),
                                          (topic, b"{}", b"{}")]
    for frames in malformed:
        feed.send(*frames)
    feed.publish(2, "update", bar(1))
    green_wait_until(lambda: r.reopen_needed, what="the gap seen")
    assert fanout.malformed == len(malformed)


def test_an_event_whose_series_is_not_its_topic_is_dropped(fanout: Fanout, feed: Feed) -> None:
    r = opened(fanout)
    feed.wait_subscribed()
    message: dict[str, Any] = {"v": 1, "series": OTHER, "incarnation": A, "seq": 1, "event": "bar", "data": bar(0)}
    feed.send(SERIES.encode() + b"\n", orjson.dumps(message))
    green_wait_until(lambda: fanout.malformed == 1, what="dropped")
    assert len(r.buffer) == 0
