"""The per-process fan-out: one ZeroMQ SUB socket receives the TWS worker's events and hands each to the process's
receivers of that series, encoded once; and the interest heartbeat that keeps the worker's subscriptions open.

Everything here runs in greenlets of the HTTP worker process (gevent): the reader never waits on a client (a
receiver's `deliver` only appends to its buffer), so a slow client slows nobody. One timer gives every receiver its
heartbeat, so a client's greenlet waits for its buffer alone (no timeout made per wait). A topic is subscribed while the
process has a receiver for it. Every `interest_interval` seconds while it has receivers, the process tells the worker
how many it has per series (`stream_interest`), and at once with a count of 0 when the last one of a series leaves;
the series the worker answers it no longer knows are re-opened by their receivers.

Created in each process on first use (a ZeroMQ context must not cross fork()).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import gevent
import zmq.green as zmq
from gevent.event import Event
from zmq.utils.monitor import recv_monitor_message

from app.streams.receiver import Receiver, encode
from shared.errors import BridgeFailure
from shared.protocol import ProtocolError, WorkerReply
from shared.streams import StreamEvent, topic

log = logging.getLogger("http.streams")

Request = Callable[[str, dict[str, Any], float], WorkerReply]
RECEIVE_HWM = 100_000  # events queued in the SUB socket before ZeroMQ drops (each drop is a gap: a re-open)


class SeriesWatch:
    """The latest event this process saw of a series (for the include_forming answers it repeats). `confirmed`:
    an event arrived since the topic was subscribed and the feed's connection has not dropped since, so every later
    event of the series reaches this process, in order."""

    def __init__(self, series: str) -> None:
        self.series = series
        self.incarnation: str | None = None
        self.seq = 0
        self.confirmed = False
        self.used = time.monotonic()

    def saw(self, event: StreamEvent) -> None:
        self.incarnation, self.seq, self.confirmed = event.incarnation, event.seq, True

    def as_of(self, incarnation: str, seq: int) -> bool:
        """Whether nothing after event `seq` of `incarnation` can have happened unseen."""
        return self.confirmed and self.incarnation == incarnation and self.seq <= seq


class Fanout:
    def __init__(self, endpoint: str, request: Request, interest_interval: float = 5.0,
                 interest_timeout: float = 2.0, heartbeat: float = 15.0) -> None:
        self.endpoint = endpoint
        self._request = request  # the worker client's request(op, body, timeout)
        self.heartbeat = heartbeat
        self.interest_interval = interest_interval
        self.interest_timeout = interest_timeout
        self._receivers: dict[bytes, set[Receiver]] = {}  # topic -> receivers
        self._watches: dict[bytes, SeriesWatch] = {}  # topic -> what was seen of it (include_forming answers)
        self.on_feed_lost: list[Callable[[], None]] = []  # called when the feed's connection drops
        self.on_receivers: list[Callable[[int], None]] = []  # told the receivers' number after each change (metrics)
        self._ids: dict[tuple[Any, ...], str] = {}  # the series as clients name it -> its id
        self._departed: set[str] = set()  # series whose last receiver left since the last interest report
        self._pid = -1
        self._context: Any = None
        self._sub: Any = None
        self._monitor: Any = None
        self._greenlets: list[gevent.Greenlet] = []
        self._interest_due = Event()
        self.events_received = 0
        self.malformed = 0

    # -- receivers ---------------------------------------------------------------------------------------------------

    def series_id(self, key: tuple[Any, ...]) -> str | None:
        """The id of the series clients name `key`, when this process has opened it before."""
        return self._ids.get(key)

    def learn(self, key: tuple[Any, ...], series: str) -> None:
        self._ids[key] = series

    def attach(self, receiver: Receiver, series: str) -> None:
        """File `receiver` under `series` (moving it if it was under another), subscribing the topic if new."""
        if receiver.series == series:
            return
        self.detach(receiver)
        self._start()
        key = topic(series)
        receivers = self._receivers.get(key)
        if receivers is None:
            receivers = self._receivers[key] = set()
            if key not in self._watches:
                self._sub.setsockopt(zmq.SUBSCRIBE, key)
            self._departed.discard(series)
        receivers.add(receiver)
        receiver.series = series
        self._receivers_changed()

    def detach(self, receiver: Receiver) -> None:
        if receiver.series is None:
            return
        key = topic(receiver.series)
        receivers = self._receivers.get(key)
        if receivers is not None:
            receivers.discard(receiver)
            if not receivers:
                del self._receivers[key]
                if self._sub is not None and self._pid == os.getpid() and key not in self._watches:
                    self._sub.setsockopt(zmq.UNSUBSCRIBE, key)
                self._departed.add(receiver.series)
                self._interest_due.set()  # tell the worker now, not in up to 5 s
        receiver.series = None
        self._receivers_changed()

    def _receivers_changed(self) -> None:
        count = self.receivers
        for tell in self.on_receivers:
            tell(count)

    def watch(self, series: str) -> SeriesWatch:
        """What this process sees of `series` from now on (its topic subscribed while watched)."""
        self._start()
        key = topic(series)
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = SeriesWatch(series)
            if key not in self._receivers:
                self._sub.setsockopt(zmq.SUBSCRIBE, key)
        watch.used = time.monotonic()
        return watch

    def watching(self, series: str) -> SeriesWatch | None:
        return self._watches.get(topic(series)) if self._pid == os.getpid() else None

    def unwatch(self, series: str) -> None:
        key = topic(series)
        if self._watches.pop(key, None) is not None and key not in self._receivers and self._pid == os.getpid():
            self._sub.setsockopt(zmq.UNSUBSCRIBE, key)

    def watches(self) -> list[SeriesWatch]:
        return list(self._watches.values())

    @property
    def receivers(self) -> int:
        return sum(len(r) for r in self._receivers.values())

    def counts(self) -> dict[str, int]:
        return {key[:-1].decode(): len(r) for key, r in self._receivers.items()}

    # -- the greenlets -----------------------------------------------------------------------------------------------

    def _start(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        self._pid = pid
        self._receivers, self._watches, self._departed = {}, {}, set()  # a forked child inherits none of them
        self._context = zmq.Context()
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.RCVHWM, RECEIVE_HWM)
        self._sub.setsockopt(zmq.RECONNECT_IVL, 100)
        self._sub.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        self._monitor = self._sub.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self._sub.connect(self.endpoint)
        self._greenlets = [gevent.spawn(self._read), gevent.spawn(self._report_interest), gevent.spawn(self._beat),
                           gevent.spawn(self._watch_connection, self._monitor)]

    def close(self) -> None:
        """Stop the greenlets and close the socket (tests, shutdown)."""
        if self._pid != os.getpid():
            return
        gevent.killall(self._greenlets, block=True, timeout=2)
        self._sub.disable_monitor()
        self._monitor.close(linger=0)
        self._sub.close(linger=0)
        self._context.term()
        self._pid, self._sub, self._context, self._greenlets = -1, None, None, []

    def _read(self) -> None:
        sub = self._sub
        while True:
            self._handle(sub.recv_multipart(copy=True))

    def catch_up(self) -> None:
        """Take every event already delivered to this process's socket now, before the reading greenlet's next
        turn: an answer repeated from here (app/streams/forming_cache.py) must know of every event the TWS worker
        published before it was asked, even while this process is busy with other greenlets."""
        sub = self._sub
        if sub is None or self._pid != os.getpid():
            return
        for _ in range(RECEIVE_HWM):
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            self._handle(frames)

    def _handle(self, frames: list[bytes]) -> None:
        self.events_received += 1
        receivers, watch = self._receivers.get(frames[0]), self._watches.get(frames[0])
        if not receivers and watch is None:
            return  # unsubscribed a moment ago
        try:
            event = StreamEvent.from_frames(frames)
        except ProtocolError as exc:  # lost to its receivers: the next event's seq shows them the gap
            self.malformed += 1
            log.warning("dropped a malformed event on %r: %s", frames[0][:100], exc)
            return
        if watch is not None:
            watch.saw(event)
        if not receivers:
            return
        chunk = encode(event)
        for receiver in tuple(receivers):
            receiver.deliver(event, chunk)

    def _watch_connection(self, monitor: Any) -> None:
        """The feed's connection dropped (the TWS worker restarted): what was seen of each series may be stale, and
        events may have been lost; receivers learn it from the next event's seq or the interest report."""
        while True:
            if recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED:
                log.info("the worker's event feed disconnected")
                for watch in self._watches.values():
                    watch.confirmed = False
                for lost in self.on_feed_lost:
                    lost()

    def _beat(self) -> None:
        """Every receiver's heartbeat, all at once: one timer per process, not one per client and wait."""
        while True:
            gevent.sleep(self.heartbeat)
            for receivers in tuple(self._receivers.values()):
                for receiver in tuple(receivers):
                    receiver.beat()

    def _report_interest(self) -> None:
        while True:
            self._interest_due.wait(self.interest_interval)
            self._interest_due.clear()
            counts = {series: 0 for series in self._departed}
            counts.update(self.counts())
            if not counts:
                continue
            departed, self._departed = self._departed, set()
            try:
                reply = self._request("stream_interest", {"http_worker": os.getpid(), "series": counts},
                                      self.interest_timeout)
            except BridgeFailure as exc:
                log.warning("stream interest not reported: %s", exc.error.message)
                self._departed |= departed - set(self.counts())  # say it next time
                continue
            if reply.error is not None:
                log.warning("stream interest refused: %s", reply.error.message)
                continue
            unknown = (reply.result or {}).get("unknown")
            for series in unknown if isinstance(unknown, list) else []:
                for receiver in tuple(self._receivers.get(str(series).encode("ascii", "replace") + b"\n", ())):
                    receiver.request_reopen()
