"""BarFetcher: answers without the forming bar, from the cache, by joining an identical request in flight, or by one
paced upstream request whose answer every waiting caller shares. A fake ibapi client records what is sent; TWS's
events are fed through UpstreamRequests as the service does; Timers and the modules' time.monotonic run on one
injected clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

import worker.history.bar_fetcher
import worker.history.upstream
from shared.bars import BarRequest
from shared.errors import ErrorCode
from tests.worker.fakes import (
    AAPL,
    LOST,
    MINUTE,
    NO_DATA,
    Replies,
    UpstreamHarness,
    minute_bar,
    ny,
    use_clock,
)
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import BarFetcher, request_key
from worker.tws.dates import TwsClock

NOW_TTL = 10.0
PAST = replace(MINUTE, end_datetime="20250127 10:00:00")
DAILY = BarRequest(symbol="AAPL", bar_size="1 day", duration="1 W")


class Harness(UpstreamHarness):
    def __init__(self) -> None:
        super().__init__()
        self.cache = BarCache(1024 * 1024, self.clock)
        self.tws_clock = TwsClock(self.clock)  # TWS's time, as the service observes it (reqCurrentTime, answers)
        self.fetcher = BarFetcher(self.up, self.cache, self.tws_clock, NOW_TTL)

    def fetch(self, request: BarRequest = MINUTE, timeout: float = 30.0) -> Replies:
        replies = Replies()
        self.fetcher.fetch(request, AAPL, self.clock.now + timeout, replies)
        return replies


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = Harness()
    use_clock(monkeypatch, harness.clock, worker.history.upstream, worker.history.bar_fetcher)
    return harness


# ---- coalescing --------------------------------------------------------------------------------------------------

def test_100_identical_fetches_make_one_upstream_request_and_get_100_identical_answers(h: Harness) -> None:
    replies = [h.fetch() for _ in range(100)]
    assert len(h.tws.historical) == 1
    assert h.fetcher.in_flight == 1 and h.fetcher.coalesced == 99
    assert all(r.calls == [] for r in replies)
    h.answer([minute_bar("10:59"), minute_bar("11:00"), minute_bar("11:01")])
    first = replies[0].result
    assert [b["date"] for b in first["bars"]] == ["20250127 10:59:00", "20250127 11:00:00", "20250127 11:01:00"]
    assert all(r.result == first for r in replies)
    assert h.fetcher.in_flight == 0 and h.up.open_count == 0


def test_different_requests_are_not_coalesced(h: Harness) -> None:
    h.fetch()
    h.fetch(replace(MINUTE, bar_size="5 mins"))
    h.fetch(replace(MINUTE, use_rth=False))
    h.fetch(PAST)
    assert len(h.tws.historical) == 4 and h.fetcher.in_flight == 4 and h.fetcher.coalesced == 0


def test_the_request_key_names_everything_that_makes_an_answer_differ() -> None:
    key = request_key(MINUTE, AAPL)
    assert key == request_key(replace(MINUTE), AAPL)
    for changed in (replace(MINUTE, bar_size="5 mins"), replace(MINUTE, duration="3600 S"),
                    replace(MINUTE, what_to_show="MIDPOINT"), replace(MINUTE, use_rth=False), PAST,
                    replace(MINUTE, exchange="ISLAND"), replace(MINUTE, limit=100), replace(MINUTE, page_token="p2"),
                    replace(MINUTE, duration="", start_datetime="20250127 09:30:00")):
        assert request_key(changed, AAPL) != key
    assert request_key(MINUTE, replace(AAPL, con_id=1)) != key


def test_an_upstream_error_is_every_waiters_answer_and_is_not_cached(h: Harness) -> None:
    replies = [h.fetch() for _ in range(10)]
    h.up.on_error(h.last_id, 321, "Error validating request")
    assert all(r.error.code is ErrorCode.TWS_REJECTED for r in replies)
    assert h.cache.stats()["entries"] == 0
    again = h.fetch(timeout=60)
    assert again.calls == []
    h.advance(15.25)  # the identical rule holds it, then it is asked again
    assert len(h.tws.historical) == 2


def test_a_timeout_is_every_waiters_answer(h: Harness) -> None:
    replies = [h.fetch(timeout=30) for _ in range(3)]
    h.advance(30)
    assert all(r.error.code is ErrorCode.TWS_TIMEOUT for r in replies)
    assert h.tws.cancelled == [1] and h.fetcher.in_flight == 0


def test_a_pacing_refusal_is_every_waiters_429(h: Harness) -> None:
    h.fetch()
    h.up.on_error(h.last_id, 321, "Error validating request")  # sent, not cached
    h.advance(1)
    replies = [h.fetch(timeout=5) for _ in range(3)]
    assert all(r.error.code is ErrorCode.PACING_LIMITED and r.error.retry_after for r in replies)
    assert h.fetcher.in_flight == 0 and len(h.tws.historical) == 1


# ---- cache -------------------------------------------------------------------------------------------------------

def test_the_next_identical_request_is_answered_from_the_cache_without_tws(h: Harness) -> None:
    first = h.fetch()
    h.answer([minute_bar("11:00"), minute_bar("11:01")])
    second = h.fetch()
    assert second.result == first.result
    assert len(h.tws.historical) == 1 and h.fetcher.in_flight == 0
    assert h.cache.stats()["hits"] == 1


def test_an_answer_ending_now_is_reused_for_the_now_ttl_then_asked_again(h: Harness) -> None:
    h.fetch()
    h.answer([minute_bar("11:00")])
    h.advance(NOW_TTL - 0.1)
    assert h.fetch().calls != []
    h.advance(0.1)
    late = h.fetch()
    assert late.calls == []  # expired: asked again, once IB's 15-second identical rule allows
    h.advance(15.25 - NOW_TTL)
    assert len(h.tws.historical) == 2


@pytest.mark.parametrize(("bar_size", "ttl"), [("1 min", NOW_TTL), ("5 secs", 5.0), ("1 secs", 1.0)])
def test_an_answer_ending_now_is_never_reused_longer_than_one_bar(h: Harness, bar_size: str, ttl: float) -> None:
    assert h.fetcher.ttl_for(replace(MINUTE, bar_size=bar_size), AAPL) == ttl


def test_an_answer_that_ended_in_the_past_is_cached_for_good_when_the_tws_time_is_known(h: Harness) -> None:
    h.tws_clock.observe(ny("2025-01-27 11:00"))
    assert h.fetcher.ttl_for(PAST, AAPL) is None
    first = h.fetch(PAST)
    h.answer([minute_bar("09:58"), minute_bar("09:59")])
    h.advance(7 * 86400)
    again = h.fetch(PAST)
    assert again.result == first.result
    assert len(h.tws.historical) == 1


def test_every_answer_says_whether_it_can_still_change(h: Harness) -> None:
    """ttl None: final (the HTTP side keeps it for good too); seconds: how long it may be reused."""
    now = h.fetch()
    h.answer([minute_bar("11:00")])
    assert now.result["ttl"] == NOW_TTL
    h.tws_clock.observe(ny("2025-01-27 11:00"))
    past = h.fetch(PAST)
    h.answer([minute_bar("09:59")])
    assert past.result["ttl"] is None
    cached = h.fetch(PAST)
    assert cached.result == past.result and cached.result["ttl"] is None, "from the cache: the same"
    assert len(h.tws.historical) == 2


def test_a_past_answer_is_not_called_final_before_the_tws_time_is_known_even_from_the_cache(h: Harness) -> None:
    early = h.fetch(PAST)
    h.answer([minute_bar("09:59")])
    assert early.result["ttl"] == NOW_TTL
    h.tws_clock.observe(ny("2025-01-27 11:00"))
    assert h.fetch(PAST).result["ttl"] is None  # the same cached answer, now known to be final


def test_a_utc_end_in_the_past_is_cached_for_good_too(h: Harness) -> None:
    h.tws_clock.observe(ny("2025-01-27 11:00"))
    assert h.fetcher.ttl_for(replace(MINUTE, end_datetime="20250127-15:00:00"), AAPL) is None


def test_a_past_end_is_not_final_while_the_tws_time_is_unknown(h: Harness) -> None:
    assert h.tws_clock.now() is None
    assert h.fetcher.ttl_for(PAST, AAPL) == NOW_TTL
    h.fetch(PAST)
    h.answer([minute_bar("09:59")])
    h.advance(NOW_TTL)
    h.fetch(PAST, timeout=60)
    h.advance(15.25 - NOW_TTL)
    assert len(h.tws.historical) == 2


def test_an_end_within_the_last_bar_of_now_is_not_final(h: Harness) -> None:
    h.tws_clock.observe(ny("2025-01-27 11:00"))
    recent = replace(MINUTE, end_datetime="20250127 10:59:30")  # its last bar completes at 11:00:30
    assert h.fetcher.ttl_for(recent, AAPL) == NOW_TTL
    assert h.fetcher.ttl_for(replace(MINUTE, end_datetime="20250127 10:59:00"), AAPL) is None


def test_no_data_is_an_empty_answer_with_the_notice_for_every_waiter(h: Harness) -> None:
    replies = [h.fetch() for _ in range(3)]
    h.up.on_error(h.last_id, 162, NO_DATA)
    expected = {"bars": [], "notice": {"tws_code": 162, "message": NO_DATA}, "ttl": NOW_TTL}
    assert all(r.result == expected for r in replies)
    assert h.fetch().result == expected  # reused like any answer ending now
    assert len(h.tws.historical) == 1


# ---- the forming bar ---------------------------------------------------------------------------------------------

def test_the_forming_bar_is_dropped_when_the_end_is_now(h: Harness) -> None:
    replies = h.fetch()
    h.answer([minute_bar("11:00"), minute_bar("11:01"), minute_bar("11:02")])  # 11:02 still forms at 11:02:30
    assert [b["date"] for b in replies.result["bars"]] == ["20250127 11:00:00", "20250127 11:01:00"]


def test_the_forming_bar_is_dropped_when_tws_gives_the_end_as_epoch_seconds(h: Harness) -> None:
    replies = h.fetch()
    h.answer([minute_bar("11:01"), minute_bar("11:02")], end=str(ny("2025-01-27 11:02") + 30))
    assert [b["date"] for b in replies.result["bars"]] == ["20250127 11:01:00"]


def test_a_complete_last_bar_is_kept_when_the_end_is_now(h: Harness) -> None:
    replies = h.fetch()
    h.answer([minute_bar("15:58"), minute_bar("15:59")], end="20250127 16:30:00 America/New_York")
    assert [b["date"] for b in replies.result["bars"]] == ["20250127 15:58:00", "20250127 15:59:00"]


def test_the_last_bar_is_kept_when_an_end_was_given(h: Harness) -> None:
    replies = h.fetch(replace(MINUTE, end_datetime="20250127 11:02:30"))
    h.answer([minute_bar("11:01"), minute_bar("11:02")])
    assert len(replies.result["bars"]) == 2


def test_the_forming_daily_bar_is_dropped_when_the_end_is_now(h: Harness) -> None:
    replies = h.fetch(DAILY)
    h.answer([(day, 1.0, 2.0, 0.5, 1.5, 10, 1.2, 3) for day in ("20250123", "20250124", "20250127")])
    bars = replies.result["bars"]
    assert [b["date"] for b in bars] == ["20250123", "20250124"]
    assert bars[0]["time"] == ny("2025-01-23 00:00")


# ---- fail_all ----------------------------------------------------------------------------------------------------

def test_fail_all_answers_every_waiter_once_and_caches_nothing(h: Harness) -> None:
    minute = [h.fetch() for _ in range(3)]
    five = h.fetch(replace(MINUTE, bar_size="5 mins"))
    h.up.forget_all()  # what the service does first when the connection is lost
    h.fetcher.fail_all(LOST)
    assert all(r.error is LOST for r in [*minute, five])
    assert h.fetcher.in_flight == 0 and h.cache.stats()["entries"] == 0
    h.fetcher.fail_all(LOST)
    h.advance(60)
    assert all(len(r.calls) == 1 for r in [*minute, five])


def test_after_fail_all_an_identical_request_starts_afresh(h: Harness) -> None:
    h.fetch()
    h.up.forget_all()
    h.fetcher.fail_all(LOST)
    again = h.fetch(timeout=60)
    assert h.fetcher.in_flight == 1 and h.fetcher.coalesced == 0
    h.advance(15.25)
    assert len(h.tws.historical) == 2
    h.answer([minute_bar("11:00")])
    assert len(again.result["bars"]) == 1


def test_a_waiter_failed_by_fail_all_is_never_answered_again(h: Harness) -> None:
    h.fetch()
    h.up.on_error(h.last_id, 321, "Error validating request")  # sent at T0, nothing cached
    h.advance(1)
    waiting = h.fetch(timeout=60)  # identical: queued by pacing until T0 + 15.25
    h.client = None  # the connection is lost
    h.up.forget_all()
    h.fetcher.fail_all(LOST)
    assert waiting.error is LOST
    h.advance(15)  # pacing lets the queued request go: not connected, TWS_UNAVAILABLE
    assert len(waiting.calls) == 1
