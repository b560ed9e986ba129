"""The stream operations on the worker's ROUTER: stream_open and stream_interest (shared/streams.py).

A stream's series is the subscription book's publishing entry for it (worker/live/subscriptions.py), started by the
first stream or poll. stream_open answers with the series' snapshot as soon as it has a history, also while it is
interrupted (its events then say what follows); stream_interest renews each HTTP worker's clients, which keep the
series alive and out of eviction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.bars import BarRequest, InvalidBarRequest
from shared.errors import BridgeError, ErrorCode
from shared.streams import StreamInterest, StreamOpen
from worker.contracts.resolver import ResolvedContract
from worker.live.series import LiveSeries
from worker.live.subscriptions import Reply, SubscriptionBook, Waiter, series_key

STREAM_OPS = ("stream_open", "stream_interest")
WithContract = Callable[[BarRequest, float, Reply, Callable[[ResolvedContract], None]], None]


class StreamDesk:
    def __init__(self, book: SubscriptionBook, answer_timeout: float) -> None:
        self._book = book
        self._answer_timeout = answer_timeout  # BAR_TIMEOUT: how long a stream_open may wait for the history
        self.opened = 0

    def handle(self, op: str, body: dict[str, Any], deadline: float, reply: Reply, with_contract: WithContract) -> None:
        """One stream operation from the ROUTER, validated; `deadline` is the caller's (epoch seconds), and
        `with_contract` resolves the series' contract first (the service's)."""
        try:
            parsed = StreamOpen.from_wire(body) if op == "stream_open" else StreamInterest.from_wire(body)
        except InvalidBarRequest as exc:
            reply(None, BridgeError(ErrorCode.INVALID_REQUEST, str(exc), fields=exc.fields))
            return
        if isinstance(parsed, StreamInterest):
            reply({"unknown": self.interest(parsed)}, None)
            return
        timeout = min(self._answer_timeout, deadline - time.time())
        if timeout <= 0:
            reply(None, BridgeError(ErrorCode.TWS_TIMEOUT, "the request's deadline passed before it arrived"))
            return
        until = time.monotonic() + timeout
        with_contract(parsed.request, until, reply, lambda contract: self.open(parsed, contract, until, reply))

    def open(self, opening: StreamOpen, contract: ResolvedContract, deadline: float, reply: Reply) -> None:
        request = opening.request
        key = series_key(request, contract)

        def ready(series: LiveSeries) -> None:
            reply(series.snapshot(opening.after, opening.backfill).to_wire(), None)

        def failed(answer: dict[str, Any] | None, error: BridgeError | None) -> None:
            notice = (answer or {}).get("notice") or {}
            reply(None, error or BridgeError(ErrorCode.NO_DATA, "TWS has no bars for this series now: "
                                             f"{notice.get('message', 'no data')}", notice.get("tws_code")))

        self.opened += 1
        self._book.join(key, request, contract, True, deadline, Waiter(ready, failed), held=True)
        series = self._book.get(key, request.duration)
        if series is not None:
            series.opened_at = time.monotonic()  # a client until its HTTP worker's interest says otherwise

    def interest(self, interest: StreamInterest) -> list[str]:
        """Renew one HTTP worker's clients per series; the ids no series is live for."""
        now = time.monotonic()
        unknown = []
        for sid, clients in interest.series.items():
            series = self._book.series(sid)
            if series is None:
                unknown.append(sid)
                continue
            series.interest.renew(interest.http_worker, clients, now)
            if clients > 0:
                self._book.touch(series)
        return unknown

    def stats(self) -> dict[str, Any]:
        now, ttl, book = time.monotonic(), self._book.idle_ttl, self._book
        series = {s.id: {"clients": s.interest.clients(now, ttl), "http_workers": s.interest.workers(now, ttl),
                         "status": s.status if s.has_history else "starting", "seq": book.publisher.seq(s.id),
                         "bars": len(s.bars.bars)} for s in book.publishing()}
        return {**book.publisher.stats(), "opened": self.opened, "clock_probes": book.watch.probes,
                "gap_fills": book.gaps.fills,
                "series": series}
