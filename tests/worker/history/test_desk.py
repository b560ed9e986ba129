"""The history desk, with the real store (in memory), planner and calendar, and a fake upstream: what it asks TWS
for, what it stores, when it answers from the store, and when a range becomes a job."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from shared.protocol import BarsJson
from sim import trading_calendar as cal
from tests.worker.history.sim_contracts import instrument, resolved
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.calendar import SessionCalendar
from worker.history.desk import HistoryDesk
from worker.history.jobs import JobBook
from worker.history.memory_store import MemoryStore
from worker.tws.dates import TwsClock

AAPL = resolved(instrument("AAPL"))
NOW = datetime(2025, 2, 4, 12, 0, tzinfo=cal.NEW_YORK).timestamp()


def minute_bars(end: str, duration_sessions: list[tuple[float, float]]) -> list[dict[str, Any]]:
    return [{"date": "x", "time": int(t), "datetime": "x", "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
             "volume": 1, "wap": 1.0, "count": 1}
            for start, stop in duration_sessions for t in range(int(start), int(stop), 60)]


class FakeUpstream:
    """The bar fetcher's place: records each request; the test answers with the simulator calendar's bars."""

    def __init__(self) -> None:
        self.asked: list[BarRequest] = []
        self.refuse: BridgeError | None = None
        self.refusals = 1_000_000  # how many requests get `refuse`

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Any,
              cache: bool = True) -> None:
        self.asked.append(request)
        if self.refuse is not None and self.refusals > 0:
            self.refusals -= 1
            reply(None, self.refuse)
            return
        end = _end_of(request)
        sessions = [(s.start, s.end) for s in cal.last_sessions(cal.CalendarKind.US_EQUITY, True, end, 1)]
        reply({"bars": minute_bars("", sessions), "notice": None}, None)

    def abandon(self, request: BarRequest, contract: ResolvedContract, reply: Any) -> None:
        return


def _end_of(request: BarRequest) -> float:
    if not request.end_datetime:
        return NOW
    if "-" in request.end_datetime:
        return datetime.strptime(request.end_datetime, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return datetime.strptime(request.end_datetime, "%Y%m%d %H:%M:%S").replace(tzinfo=cal.NEW_YORK).timestamp()


def make_desk(store: MemoryStore, upstream: FakeUpstream, estimate: float = 0.0) -> tuple[HistoryDesk, JobBook]:
    clock = TwsClock()
    clock.observe(NOW)
    jobs = JobBook(store, lambda: desk.fills, lambda r, c, w: estimate)
    desk = HistoryDesk(upstream, BarCache(1 << 20), store, clock, jobs,  # type: ignore[arg-type]
                       SessionCalendar.for_contract, lambda r, c, w: estimate,
                       lambda r, c, d, then: then(None, None), lambda r, d, reply, then: then(AAPL), 15.0, 5.0)
    return desk, jobs


def ask(desk: HistoryDesk, **fields: Any) -> dict[str, Any]:
    answers: list[tuple[dict[str, Any] | None, BridgeError | None]] = []
    request = BarRequest(symbol="AAPL", bar_size="1 min", **{"duration": "", **fields})
    desk.fetch(request, AAPL, time.monotonic() + 5, lambda result, error: answers.append((result, error)))
    assert len(answers) == 1, "answered once, at once (the fake upstream answers synchronously)"
    result, error = answers[0]
    assert error is None, error
    assert result is not None
    return result


def bars_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    bars = result["bars"]
    return bars.decoded() if isinstance(bars, BarsJson) else bars


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(1 << 30)


def test_a_range_of_a_week_is_one_window_per_session_and_then_comes_from_the_store(store: MemoryStore) -> None:
    upstream = FakeUpstream()
    desk, _ = make_desk(store, upstream)
    week = {"start_datetime": "20250127 09:30:00", "end_datetime": "20250131 16:00:00"}
    first = ask(desk, **week)
    assert [r.duration for r in upstream.asked] == ["1 D"] * 5  # Monday to Friday, newest first
    assert first["count"] == 5 * 390 and first["ttl"] is None
    again, _ = make_desk(store, upstream)  # a new worker on the same store
    assert bars_of(ask(again, **week)) == bars_of(first)
    assert len(upstream.asked) == 5, "nothing asked again"


def test_a_request_inside_one_window_is_sent_as_asked_and_stored(store: MemoryStore) -> None:
    upstream = FakeUpstream()
    desk, _ = make_desk(store, upstream)
    ask(desk, duration="1 D", end_datetime="20250131 16:00:00")
    assert [(r.duration, r.end_datetime) for r in upstream.asked] == [("1 D", "20250131 16:00:00")]
    fresh, _ = make_desk(store, upstream)
    assert ask(fresh, duration="1 D", end_datetime="20250131 16:00:00")["count"] == 390
    assert len(upstream.asked) == 1, "yesterday's request after a restart: from the store"


def test_a_range_whose_schedule_is_too_long_is_a_job_and_the_repeat_joins_it(store: MemoryStore) -> None:
    upstream = FakeUpstream()
    upstream.refuse = BridgeError(ErrorCode.TWS_TIMEOUT, "never answered here")
    desk, _ = make_desk(store, upstream, estimate=60.0)
    month = {"start_datetime": "20250102 09:30:00", "end_datetime": "20250131 16:00:00"}
    pending = ask(desk, **month)
    assert pending["status"] == "pending" and pending["job"]["total"] == 20
    assert ask(desk, **month)["job"]["id"] == pending["job"]["id"]


def test_a_fill_refused_for_pacing_becomes_a_job_instead_of_a_429(store: MemoryStore) -> None:
    upstream = FakeUpstream()
    upstream.refuse = BridgeError(ErrorCode.PACING_LIMITED, "IB's pacing rules allow this request in 12 s")
    upstream.refusals = 1  # the fill's first window: its turn would come after the deadline
    desk, jobs = make_desk(store, upstream, estimate=0.0)  # the estimate says it fits; the outbox knows better
    week = {"start_datetime": "20250127 09:30:00", "end_datetime": "20250131 16:00:00"}
    answer = ask(desk, **week)
    assert answer["status"] == "pending", answer
    assert jobs.get(answer["job"]["id"]).state == "done"  # the job took the windows (the fake answers at once)
    assert ask(desk, **week)["count"] == 5 * 390


def test_pages_cover_the_range_once_with_one_end(store: MemoryStore) -> None:
    upstream = FakeUpstream()
    desk, _ = make_desk(store, upstream)
    week = {"start_datetime": "20250127 09:30:00", "end_datetime": "20250131 16:00:00", "limit": 700}
    seen: list[dict[str, Any]] = []
    page = ask(desk, **week)
    while True:
        seen += bars_of(page)
        if page["next_page_token"] is None:
            break
        page = ask(desk, **week, page_token=page["next_page_token"])
    assert [b["time"] for b in seen] == sorted({b["time"] for b in seen}) and len(seen) == 5 * 390


def test_a_limit_cuts_a_request_inside_one_window_into_pages_too(store: MemoryStore) -> None:
    upstream = FakeUpstream()
    desk, _ = make_desk(store, upstream)
    day = {"duration": "1 D", "end_datetime": "20250131 16:00:00", "limit": 100}
    seen: list[dict[str, Any]] = []
    page = ask(desk, **day)
    while True:
        assert page["count"] <= 100
        seen += bars_of(page)
        if page["next_page_token"] is None:
            break
        page = ask(desk, **day, page_token=page["next_page_token"])
    assert len(seen) == 390 and [b["time"] for b in seen] == sorted({b["time"] for b in seen})
    assert len(upstream.asked) == 1, "the pages after the first come from the store"
