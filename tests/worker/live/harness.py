"""The live package's test harness: the subscription book and the stream desk on UpstreamHarness (a fake ibapi client
behind the real outbox and pacing, one injected clock), with a publisher whose events are recorded."""

from __future__ import annotations

from typing import Any

from shared.bars import BarRequest
from shared.streams import StreamEvent, StreamInterest, StreamOpen, series_request
from tests.worker.fakes import TWS_END, BarValues, Replies, UpstreamHarness, ny
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import BarFetcher
from worker.history.upstream import to_bar
from worker.live.publisher import Publisher
from worker.live.streams import StreamDesk
from worker.live.subscriptions import SubscriptionBook
from worker.tws.dates import TwsClock

NY = "America/New_York"
IDLE_TTL = 300.0
NOW_TTL = 15.0
RTH_HOURS = "20250127:0930-20250127:1600;20250128:0930-20250128:1600"
AAPL_RTH = ResolvedContract(265598, "AAPL", "STK", "SMART", "NASDAQ", "USD", "AAPL", "", NY, RTH_HOURS, RTH_HOURS)
FIELDS = {"symbol": "AAPL", "bar_size": "1 min", "what_to_show": "TRADES", "use_rth": True, "sec_type": "STK",
          "exchange": "SMART", "currency": "USD"}
SERIES = "265598|SMART|1 min|TRADES|rth"


def values(hhmm: str, close: float = 100.0, day: str = "2025-01-27") -> BarValues:
    """A one-minute bar as TwsClient posts it (formatDate=2)."""
    return (str(ny(f"{day} {hhmm}")), close - 1, close + 1, close - 2, close, 1000, close - 0.5, 10)


def bar(hhmm: str, close: float = 100.0, day: str = "2025-01-27") -> dict[str, Any]:
    """The same bar as the worker holds and publishes it."""
    return to_bar(values(hhmm, close, day), NY)


def session(first: str, last: str, close: float = 100.0, day: str = "2025-01-27") -> list[BarValues]:
    """One-minute bars from `first` to `last` (the forming one), each closing at `close`."""
    start, end = ny(f"{day} {first}"), ny(f"{day} {last}")
    return [(str(t), close - 1, close + 1, close - 2, close, 1000, close - 0.5, 10) for t in range(start, end + 1, 60)]


class Recorder:
    """The PUB socket: every event published, decoded as a receiver would."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []

    def __call__(self, frames: list[bytes]) -> None:
        self.events.append(StreamEvent.from_frames(frames))

    def kinds(self, since: int = 0) -> list[str]:
        return [e.event for e in self.events[since:]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.event == kind]


class LiveHarness(UpstreamHarness):
    def __init__(self, max_subscriptions: int = 3) -> None:
        super().__init__()
        self.cache = BarCache(1024 * 1024, self.clock)
        self.tws_clock = TwsClock(self.clock)
        self.fetcher = BarFetcher(self.up, self.cache, self.tws_clock, NOW_TTL)
        self.published = Recorder()
        self.probes = 0
        self.publisher = Publisher(self.published, incarnation="00c0ffee00c0ffee")
        self.book = SubscriptionBook(self.up, self.timers, IDLE_TTL, max_subscriptions, self.cache,
                                     self.fetcher.ttl_for, self.tws_clock, self.publisher, probe=self._probe)
        self.desk = StreamDesk(self.book, 30.0)

    def _probe(self) -> None:
        self.probes += 1

    def open(self, fields: dict[str, Any] | None = None, after: int | None = None, backfill: int = 0,
             contract: ResolvedContract = AAPL_RTH, timeout: float = 30.0) -> Replies:
        replies = Replies()
        opening = StreamOpen(series_request(fields or FIELDS), after, backfill)
        self.desk.open(opening, contract, self.clock.now + timeout, replies)
        return replies

    def poll(self, request: BarRequest, contract: ResolvedContract = AAPL_RTH, timeout: float = 30.0) -> Replies:
        replies = Replies()
        self.book.fetch(request, contract, self.clock.now + timeout, replies)
        return replies

    def history(self, bars: list[BarValues], end: str = TWS_END, req_id: int | None = None) -> None:
        self.answer(bars, end, req_id)

    def update(self, bar_values: BarValues, req_id: int | None = None) -> None:
        self.up.on_update(self.last_id if req_id is None else req_id, bar_values)

    def interest(self, clients: int, series: str = SERIES, http_worker: int = 4242) -> list[str]:
        return self.desk.interest(StreamInterest(http_worker, {series: clients}))
