"""A real WorkerService on its own thread, connected to a simulated TWS, asked through a ZeroMQ REQ socket, and a
stream receiver on a real SUB socket that follows the protocol's rule (shared/streams.py): subscribe the topic first,
buffer, open, drop events with `seq <=` the snapshot's, apply the rest. Used by the worker-level stream tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import zmq

from shared.config import BridgeConfig
from shared.protocol import WorkerReply, WorkerRequest, decode_reply
from shared.streams import StreamEvent, StreamSnapshot, topic
from sim.harness import SimulatedTws
from tests.waiting import wait_until
from worker.service import WorkerService

AAPL_5S = {"symbol": "AAPL", "bar_size": "5 secs", "what_to_show": "TRADES", "use_rth": True, "sec_type": "STK",
           "exchange": "SMART", "currency": "USD"}


class LiveWorker:
    def __init__(self, tmp: Path, sim: SimulatedTws, **settings: Any) -> None:
        config = BridgeConfig(tws_port=sim.port, worker_endpoint=f"ipc://{tmp}/worker.sock", store_path="",
                              bar_timeout=10.0, reconnect_initial_delay=0.05, reconnect_max_delay=0.2,
                              tws_connect_timeout=3.0, watchdog_interval=30.0)
        self.config = replace(config, **settings)
        self.service = WorkerService(self.config)
        self.thread = threading.Thread(target=self.service.run, name="worker-under-test", daemon=True)
        self.ctx = zmq.Context()
        self.req = self.ctx.socket(zmq.REQ)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.connect(self.config.endpoint)
        self.receivers: list[Receiver] = []
        self.thread.start()
        wait_until(lambda: self.health()["connected"], timeout=10, what="worker connected to the simulator")

    def ask(self, op: str, body: dict[str, Any] | None = None, timeout: float = 15.0) -> WorkerReply:
        self.req.send(WorkerRequest.new(op, body or {}, time.time() + timeout).encode())
        assert self.req.poll(int(timeout * 1000)), f"no answer to {op}"
        return decode_reply(self.req.recv_multipart()).with_bars_decoded()

    def result(self, op: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.ask(op, body)
        assert reply.result is not None, reply.error
        return reply.result

    def health(self) -> dict[str, Any]:
        return self.result("health")

    def fresh(self, fields: dict[str, Any], duration: str) -> list[dict[str, Any]]:
        """A fresh full request of the series (completed bars only), as POST /bars answers it."""
        body = {k: v for k, v in fields.items()} | {"duration": duration}
        return self.result("bars", body)["bars"]

    def receiver(self, fields: dict[str, Any], **opening: Any) -> Receiver:
        receiver = Receiver(self, fields, opening)
        self.receivers.append(receiver)
        return receiver

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(10)
        for receiver in self.receivers:
            receiver.close()
        self.req.close(0)
        self.ctx.term()


@dataclass
class Receiver:
    """One stream, as the HTTP side follows it: the bars it would send its client, in order."""

    worker: LiveWorker
    fields: dict[str, Any]
    opening: dict[str, Any]
    bars: list[dict[str, Any]] = field(default_factory=list)  # the client's bar events: snapshot, then live
    events: list[StreamEvent] = field(default_factory=list)  # everything applied after the snapshot
    forming: dict[str, Any] | None = None
    statuses: list[str] = field(default_factory=list)
    seq: int = 0

    def __post_init__(self) -> None:
        self.sub = self.worker.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.connect(self.worker.config.events_endpoint)
        self.snapshot: StreamSnapshot | None = None
        self.series = ""

    def open(self) -> StreamSnapshot:
        probe = self.worker.result("stream_open", {"request": self.fields, "after": None, "backfill": 0})
        self.series = probe["series"]
        self.sub.setsockopt(zmq.SUBSCRIBE, topic(self.series))
        wait_until(self._subscribed, timeout=5, interval=0.05, what="the SUB socket receives the series")
        body = {"request": self.fields, "after": None, "backfill": 0, **self.opening}
        self.snapshot = StreamSnapshot.from_wire(self.worker.result("stream_open", body))
        self.bars = list(self.snapshot.bars)
        self.forming = self.snapshot.forming
        self.seq = self.snapshot.seq
        self.incarnation = self.snapshot.incarnation
        return self.snapshot

    def _subscribed(self) -> bool:
        """Subscriptions reach a PUB socket asynchronously: wait until an event of the series arrives."""
        return self.sub.poll(50) != 0 and bool(self.sub.recv_multipart())

    def pump(self) -> None:
        """Apply what arrived (buffered since the topic was subscribed)."""
        while self.sub.poll(0):
            event = StreamEvent.from_frames(self.sub.recv_multipart())
            assert event.incarnation == self.incarnation, "one worker, one incarnation"
            if event.seq <= self.seq:
                continue  # already in the snapshot
            assert event.seq == self.seq + 1, f"a gap in seq: {self.seq} then {event.seq}"
            self.seq = event.seq
            self.events.append(event)
            if event.event == "bar":
                assert not self.bars or event.data["time"] > self.bars[-1]["time"], "bars in order, once"
                self.bars.append(event.data)
            elif event.event == "revision":
                self.bars = [event.data if b["time"] == event.data["time"] else b for b in self.bars]
            elif event.event == "update":
                self.forming = event.data
            elif event.event == "status":
                self.statuses.append(event.data["status"])

    def kinds(self) -> list[str]:
        return [e.event for e in self.events]

    def wait_for(self, what: str, condition: Any, timeout: float = 20.0) -> Any:
        def check() -> Any:
            self.pump()
            return condition(self)
        return wait_until(check, timeout=timeout, interval=0.02, what=what)

    def close(self) -> None:
        self.sub.close(0)
