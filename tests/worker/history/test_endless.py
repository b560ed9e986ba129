"""Series TWS gives only up to now (CONTFUT, ADJUSTED_LAST), through the history desk with the real store, calendar
and pages, and a fake bar fetcher: every range is one request without an end over a duration reaching its start,
trimmed; a start out of IB's reach is a 400; nothing is stored."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from sim import trading_calendar as cal
from tests.worker.history.sim_contracts import instrument, resolved
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.calendar import SessionCalendar
from worker.history.coverage import Span
from worker.history.desk import HistoryDesk, series_of
from worker.history.endless import reaching
from worker.history.jobs import JobBook
from worker.history.memory_store import MemoryStore
from worker.tws.dates import TwsClock

NOW = datetime(2025, 2, 4, 12, 0, tzinfo=cal.NEW_YORK).timestamp()
ES_CONTFUT = replace(resolved(instrument("ES", "FUT")), sec_type="CONTFUT")
AAPL = resolved(instrument("AAPL"))


def bar(t: int) -> dict[str, Any]:
    return {"date": "x", "time": t, "datetime": "x", "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
            "volume": 1, "wap": 1.0, "count": 1}


class Fetcher:
    """Stands in for the bar fetcher: records requests, answers every bar start of the duration back from NOW."""

    def __init__(self) -> None:
        self.asked: list[BarRequest] = []

    def fetch(self, request: BarRequest, contract: ResolvedContract, deadline: float, reply: Any,
              cache: bool = True) -> None:
        self.asked.append(request)
        count, unit = request.duration.split(" ")
        step = request.bar_seconds
        if unit == "S":
            first = int(NOW) - int(count)
        else:  # "N D" of daily bars: the last N trading days
            calendar = SessionCalendar.for_contract(contract, request.use_rth)
            days = [calendar.midnight(day) for day, _ in calendar.trading_days(
                Span(int(NOW) - 3 * int(count) * 86400, int(NOW)))]
            reply({"bars": [bar(t) for t in days[-int(count):]], "notice": None, "ttl": 15.0}, None)
            return
        start = first + (-first % step)
        reply({"bars": [bar(t) for t in range(start, int(NOW) - step + 1, step)], "notice": None, "ttl": 15.0}, None)

    def abandon(self, request: BarRequest, contract: ResolvedContract, reply: Any) -> None:
        return


def make_desk(store: MemoryStore, fetcher: Fetcher, contract: ResolvedContract) -> HistoryDesk:
    clock = TwsClock()
    clock.observe(NOW)
    jobs = JobBook(store, lambda: desk.fills, lambda r, c, w: 0.0)
    desk = HistoryDesk(fetcher, BarCache(1 << 20), store, clock, jobs,  # type: ignore[arg-type]
                       SessionCalendar.for_contract, lambda r, c, w: 0.0,
                       lambda r, c, d, then: then(None, None), lambda r, d, reply, then: then(contract), 15.0, 5.0)
    return desk


def ask(desk: HistoryDesk, contract: ResolvedContract,
        request: BarRequest) -> tuple[dict[str, Any] | None, BridgeError | None]:
    answers: list[tuple[dict[str, Any] | None, BridgeError | None]] = []
    desk.fetch(request, contract, time.monotonic() + 5, lambda result, error: answers.append((result, error)))
    assert len(answers) == 1
    return answers[0]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(1 << 30)


def ny(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=cal.NEW_YORK).timestamp())


def test_a_contfut_range_in_the_past_is_asked_without_an_end_and_trimmed_to_the_range(store: MemoryStore) -> None:
    fetcher = Fetcher()
    desk = make_desk(store, fetcher, ES_CONTFUT)
    request = BarRequest(symbol="ES", bar_size="1 min", duration="", sec_type="CONTFUT", exchange="CME",
                         start_datetime="20250204-14:00:00", end_datetime="20250204-15:00:00")  # 09:00-10:00 NY
    result, error = ask(desk, ES_CONTFUT, request)
    assert error is None and result is not None
    (sent,) = fetcher.asked
    assert sent.end_datetime == "" and sent.start_datetime == ""
    seconds, unit = sent.duration.split(" ")
    assert unit == "S" and int(seconds) % 60 == 0 and 10860 <= int(seconds) <= 10920, \
        "3 hours and a bar back from noon (TWS's clock a moment later), in whole minutes"
    times = [b["time"] for b in result["bars"]]
    assert times == list(range(ny("2025-02-04 09:00"), ny("2025-02-04 10:00"), 60)), "[start, end), nothing more"
    assert store.coverage(series_of(request, ES_CONTFUT)).missing(Span(ny("2025-02-04 09:00"), int(NOW))), \
        "nothing written to the store"


def test_a_contfut_duration_ending_at_an_end_in_the_past_is_trimmed_to_that_end(store: MemoryStore) -> None:
    fetcher = Fetcher()
    desk = make_desk(store, fetcher, ES_CONTFUT)
    request = BarRequest(symbol="ES", bar_size="5 mins", duration="3600 S", sec_type="CONTFUT", exchange="CME",
                         end_datetime="20250204-16:00:00")
    result, _ = ask(desk, ES_CONTFUT, request)
    assert result is not None
    assert [b["time"] for b in result["bars"]] == list(range(ny("2025-02-04 10:00"), ny("2025-02-04 11:00"), 300))
    assert fetcher.asked[0].end_datetime == ""


def test_a_start_beyond_ibs_longest_duration_for_the_bar_size_is_a_400_and_nothing_is_asked(
        store: MemoryStore) -> None:
    fetcher = Fetcher()
    desk = make_desk(store, fetcher, ES_CONTFUT)
    request = BarRequest(symbol="ES", bar_size="1 min", duration="", sec_type="CONTFUT", exchange="CME",
                         start_datetime="20250130-14:00:00")
    result, error = ask(desk, ES_CONTFUT, request)
    assert result is None and error is not None
    assert error.code is ErrorCode.INVALID_REQUEST and error.http_status == 400
    assert "1 D" in error.fields["start_datetime"] and "ending now" in error.message
    assert fetcher.asked == []


def test_adjusted_last_daily_bars_over_months_are_one_request_of_trading_days_and_never_stored(
        store: MemoryStore) -> None:
    fetcher = Fetcher()
    desk = make_desk(store, fetcher, AAPL)
    request = BarRequest(symbol="AAPL", bar_size="1 day", duration="", start_datetime="20241104 00:00:00",
                         what_to_show="ADJUSTED_LAST")
    result, error = ask(desk, AAPL, request)
    assert error is None and result is not None
    (sent,) = fetcher.asked
    assert sent.end_datetime == "" and sent.what_to_show == "ADJUSTED_LAST"
    count, unit = sent.duration.split(" ")
    assert unit == "D" and 60 <= int(count) <= 66, "the trading days since 4 November"
    days = [b["time"] for b in result["bars"]]
    assert days and days[0] >= ny("2024-11-04 00:00") and days[-1] < ny("2025-02-04 00:00"), "today is forming"
    assert result["ttl"] == 15.0, "memory-cached for the short TTL only"
    assert store.coverage(series_of(request, AAPL)).missing(Span(days[0], days[-1])), "nothing stored"
    ask(desk, AAPL, request)
    assert len(fetcher.asked) == 2, "the store never answers it (the fetcher's memory cache may)"


def test_a_duration_ending_now_that_ib_allows_goes_as_asked_and_tws_answer_is_the_range(store: MemoryStore) -> None:
    fetcher = Fetcher()
    desk = make_desk(store, fetcher, ES_CONTFUT)
    request = BarRequest(symbol="ES", bar_size="5 mins", duration="7200 S", sec_type="CONTFUT", exchange="CME")
    result, _ = ask(desk, ES_CONTFUT, request)
    assert result is not None
    assert [(r.duration, r.end_datetime) for r in fetcher.asked] == [("7200 S", "")]
    assert [b["time"] for b in result["bars"]] == list(range(int(NOW) - 7200, int(NOW), 300)), \
        "every bar TWS gave but the forming one (none here): no trim by the bridge's clock"


def test_pages_of_an_endless_series_cover_the_range_once(store: MemoryStore) -> None:
    fetcher = Fetcher()
    desk = make_desk(store, fetcher, ES_CONTFUT)
    request = BarRequest(symbol="ES", bar_size="1 min", duration="", sec_type="CONTFUT", exchange="CME",
                         start_datetime="20250204-14:00:00", end_datetime="20250204-15:00:00", limit=25)
    seen: list[int] = []
    page = request
    for _ in range(5):
        result, error = ask(desk, ES_CONTFUT, page)
        assert error is None and result is not None
        seen += [b["time"] for b in result["bars"]]
        if result["next_page_token"] is None:
            break
        page = replace(request, page_token=result["next_page_token"])
    assert seen == list(range(ny("2025-02-04 09:00"), ny("2025-02-04 10:00"), 60))


@pytest.mark.parametrize(("bar_size", "start", "expected"), [
    ("1 min", "2025-02-04 11:00", "3660 S"),
    ("1 hour", "2025-01-20 12:00", "12 D"),  # 11 sessions since, and one more
    ("1 hour", "2024-12-20 12:00", "30 D"),
    ("1 hour", "2024-12-19 12:00", None),  # 31 sessions: past "1 M", IB's longest for hours
    ("1 hour", "2024-11-20 12:00", None),
    ("1 day", "2024-02-05 00:00", "252 D"),  # trading days: "N D" of daily bars reaches further than "1 Y"
    ("1 day", "2022-02-05 00:00", None),
])
def test_the_duration_is_the_shortest_of_ibs_that_reaches_the_start(bar_size: str, start: str,
                                                                    expected: str | None) -> None:
    calendar = SessionCalendar.for_contract(AAPL, True)
    assert reaching(bar_size, ny(start), NOW, calendar) == expected
