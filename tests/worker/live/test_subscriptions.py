"""SubscriptionBook: include_forming=true is answered by the series' keepUpToDate subscription (IB's longest duration
for the bar size) held in memory, kept while used, expired when idle, evicted least recently used, and requested again
in full after a reconnect or 1101. A fake ibapi
client records reqHistoricalData/cancelHistoricalData; TWS's events go through UpstreamRequests as the service feeds
them; Timers and the modules' time.monotonic run on one injected clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import worker.history.upstream
import worker.live.connection_events
import worker.live.subscriptions
from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import AAPL, LOST, NO_DATA, TWS_END, BarValues, Replies, UpstreamHarness, ny, use_clock
from tests.worker.fakes import minute_bar as bar
from worker.contracts.resolver import ResolvedContract
from worker.history.bar_cache import BarCache
from worker.history.bar_fetcher import BarFetcher
from worker.history.upstream import Upstream, UpstreamRequests
from worker.live.subscriptions import SubscriptionBook
from worker.tws.dates import TwsClock

IDLE_TTL = 300.0
MAX_SUBSCRIPTIONS = 3
NOW_TTL = 15.0
FORMING = BarRequest(symbol="AAPL", bar_size="1 min", duration="1800 S", include_forming=True)


def half_hour(last: str = "11:02", close: float = 100.0) -> list[BarValues]:
    """The 30 one-minute bars of "1800 S" ending with the forming bar `last`."""
    end = ny(f"2025-01-27 {last}")
    return [(str(end - 60 * n), close - 1, close + 1, close - 2, close, 1000, close - 0.5, 10)
            for n in range(29, -1, -1)]


def dates(answer: dict[str, Any]) -> list[str]:
    return [b["date"][9:14] for b in answer["bars"]]


class RecordingUpstreams(UpstreamRequests):
    """UpstreamRequests that also remembers every Upstream started, so a test can replay a superseded one's events."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.started: list[Upstream] = []

    def start(self, upstream: Upstream, deadline: float) -> None:
        self.started.append(upstream)
        super().start(upstream, deadline)


class Harness(UpstreamHarness):
    def __init__(self) -> None:
        super().__init__(upstreams=RecordingUpstreams)
        self.cache = BarCache(1024 * 1024, self.clock)
        self.tws_clock = TwsClock(self.clock)
        self.fetcher = BarFetcher(self.up, self.cache, self.tws_clock, NOW_TTL)  # whose TTL rule the book shares
        self.book = SubscriptionBook(self.up, self.timers, IDLE_TTL, MAX_SUBSCRIPTIONS, self.cache,
                                     self.fetcher.ttl_for, self.tws_clock)

    def fetch(self, request: BarRequest = FORMING, timeout: float = 30.0,
              contract: ResolvedContract = AAPL) -> Replies:
        replies = Replies()
        self.book.fetch(request, contract, self.clock.now + timeout, replies)
        return replies

    def ask(self, request: BarRequest = FORMING, contract: ResolvedContract = AAPL) -> dict[str, Any]:
        """A call answered at once, from memory."""
        replies = self.fetch(request, contract=contract)
        return replies.result

    def history(self, bars: list[BarValues], req_id: int | None = None, end: str = TWS_END) -> None:
        self.answer(bars, end, req_id)

    def update(self, values: BarValues, req_id: int | None = None) -> None:
        self.up.on_update(self.last_id if req_id is None else req_id, values)

    def live(self, request: BarRequest = FORMING, bars: list[BarValues] | None = None,
             contract: ResolvedContract = AAPL, end: str = TWS_END) -> int:
        """Open a subscription and give it its history; its reqId."""
        self.fetch(request, contract=contract)
        req_id = self.last_id
        self.history(half_hour() if bars is None else bars, req_id, end)
        return req_id


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = Harness()
    use_clock(monkeypatch, harness.clock, worker.history.upstream, worker.live.subscriptions,
              worker.live.connection_events)
    return harness


# ---- the first call, later calls ---------------------------------------------------------------------------------

def test_the_first_call_opens_the_series_keep_up_to_date_request_and_answers_with_its_window(h: Harness) -> None:
    replies = h.fetch()
    assert len(h.tws.historical) == 1
    _, _, end, duration, bar_size, what, use_rth, format_date, keep_up, _ = h.tws.historical[0]
    # IB's longest duration for 1-minute bars: every poll of the series is a window of it
    assert (end, duration, bar_size, what, use_rth, format_date, keep_up) == ("", "1 D", "1 min", "TRADES", 1, 2,
                                                                              True)
    assert replies.calls == []
    h.history(half_hour())
    answer = replies.result
    assert len(answer["bars"]) == 30 and answer["notice"] is None
    assert dates(answer)[-1] == "11:02"  # the forming bar is part of the answer
    assert len(h.book) == 1 and h.up.open_count == 1  # the stream stays open


def test_callers_waiting_for_the_first_history_share_one_request(h: Harness) -> None:
    replies = [h.fetch() for _ in range(5)]
    assert len(h.tws.historical) == 1
    h.history(half_hour())
    assert all(r.result == replies[0].result for r in replies)


def test_later_calls_are_answered_from_memory_without_a_request(h: Harness) -> None:
    h.live()
    answers = [h.ask() for _ in range(10)]
    assert len(h.tws.historical) == 1 and h.tws.cancelled == []
    assert all(len(a["bars"]) == 30 for a in answers)


# ---- updates -----------------------------------------------------------------------------------------------------

def test_an_update_rewrites_the_forming_bar(h: Harness) -> None:
    h.live()
    before = h.ask()
    h.update(bar("11:02", close=105.0))
    after = h.ask()
    assert len(after["bars"]) == 30
    assert after["bars"][-1]["close"] == 105.0 and after["bars"][-1]["date"] == "20250127 11:02:00"
    assert after["bars"][:-1] == before["bars"][:-1]
    assert before["bars"][-1]["close"] == 100.0  # an answer already given does not change


def test_an_update_at_a_new_bar_time_closes_the_forming_bar_and_starts_the_next(h: Harness) -> None:
    h.live()
    h.update(bar("11:02", close=101.0))
    h.update(bar("11:03", close=102.0))
    answer = h.ask()
    assert dates(answer)[-2:] == ["11:02", "11:03"]
    assert [b["close"] for b in answer["bars"][-2:]] == [101.0, 102.0]
    assert len(answer["bars"]) == 30 and dates(answer)[0] == "10:34"  # the window keeps its length


def test_an_update_older_than_the_forming_bar_is_ignored(h: Harness) -> None:
    h.live()
    h.update(bar("10:50", close=1.0))
    assert all(b["close"] == 100.0 for b in h.ask()["bars"])


# ---- other durations ---------------------------------------------------------------------------------------------

def test_a_shorter_duration_of_the_same_series_is_answered_from_it(h: Harness) -> None:
    h.live()
    h.update(bar("11:02", close=103.0))
    answer = h.ask(replace(FORMING, duration="900 S"))
    assert dates(answer) == [f"{10 + (48 + n) // 60}:{(48 + n) % 60:02d}" for n in range(15)]
    assert answer["bars"][-1]["close"] == 103.0
    assert len(h.tws.historical) == 1 and len(h.book) == 1


def test_a_shorter_duration_in_days_keeps_the_last_days(h: Harness) -> None:
    # 2-minute bars: the smallest bar size IB's duration table allows "2 D" for (1-minute bars: at most "1 D")
    two_days = replace(FORMING, bar_size="2 mins", duration="2 D")
    bars = [bar("15:56", day="2025-01-24"), bar("15:58", day="2025-01-24"), bar("09:30"), bar("09:32")]
    h.live(two_days, bars)
    answer = h.ask(replace(two_days, duration="1 D"))
    assert [b["date"] for b in answer["bars"]] == ["20250127 09:30:00", "20250127 09:32:00"]
    assert len(h.tws.historical) == 1


@pytest.mark.parametrize("other", [
    replace(FORMING, duration="3600 S"),  # longer
    replace(FORMING, duration="1 D"),  # the series' own
])
def test_a_longer_duration_of_the_series_is_answered_from_it_too(h: Harness, other: BarRequest) -> None:
    h.live(bars=minutes("09:30", "11:02"))
    assert len(h.ask(other)["bars"]) == (60 if other.duration == "3600 S" else 93)
    assert len(h.tws.historical) == 1 and len(h.book) == 1


@pytest.mark.parametrize("other", [
    replace(FORMING, bar_size="5 mins"),
    replace(FORMING, what_to_show="MIDPOINT"),
    replace(FORMING, use_rth=False),
])
def test_another_series_needs_its_own_subscription(h: Harness, other: BarRequest) -> None:
    h.live()
    h.fetch(other)
    assert len(h.tws.historical) == 2 and len(h.book) == 2


# ---- the window of the duration ----------------------------------------------------------------------------------

FX_HOURS = "20250126:1700-20250127:1700;20250127:1700-20250128:1700;20250128:1700-20250129:1700"
EURUSD = ResolvedContract(12087792, "EUR", "CASH", "IDEALPRO", "", "USD", "EUR.USD", "", "US/Eastern", FX_HOURS,
                          FX_HOURS)
RTH_HOURS = "20250127:0930-20250127:1600;20250128:0930-20250128:1600"
AAPL_HOURS = replace(AAPL, liquid_hours=RTH_HOURS, trading_hours=RTH_HOURS.replace("0930", "0400").replace(
    "1600", "2000"))


def minutes(first: str, last: str, day: str = "2025-01-27", step: int = 60) -> list[BarValues]:
    return [(str(t), 99.0, 101.0, 98.0, 100.0, 1000, 99.5, 10)
            for t in range(ny(f"{day} {first}"), ny(f"{day} {last}") + 1, step)]


def test_a_day_keeps_the_sessions_first_bars_as_new_bars_arrive(h: Harness) -> None:
    # the issue: "1 D" at 10:00:30 answers 09:30-10:00; five bars later it is 09:30-10:05, as a fresh request
    one_day = replace(FORMING, duration="1 D")
    h.live(one_day, minutes("09:30", "10:00"), AAPL_HOURS, end="20250127 10:00:30 US/Eastern")
    assert len(h.ask(one_day, AAPL_HOURS)["bars"]) == 31
    for hhmm in ("10:01", "10:02", "10:03", "10:04", "10:05"):
        h.update(bar(hhmm))
    answer = h.ask(one_day, AAPL_HOURS)
    assert len(answer["bars"]) == 36
    assert dates(answer)[0] == "09:30" and dates(answer)[-1] == "10:05"


def test_a_day_of_regular_hours_is_replaced_by_the_next_session_at_its_first_bar(h: Harness) -> None:
    one_day = replace(FORMING, duration="1 D")
    h.live(one_day, minutes("15:55", "15:59"), AAPL_HOURS, end="20250127 16:30:00 US/Eastern")
    h.update(bar("09:30", day="2025-01-28"))
    assert [b["date"] for b in h.ask(one_day, AAPL_HOURS)["bars"]] == ["20250128 09:30:00"]


def test_an_fx_day_rolls_at_17_00_new_york_not_at_midnight(h: Harness) -> None:
    one_day = replace(FORMING, symbol="EUR", bar_size="5 mins", duration="1 D", what_to_show="MIDPOINT",
                      use_rth=False, sec_type="CASH", exchange="IDEALPRO")
    history = minutes("17:00", "23:55", day="2025-01-26", step=300) + minutes("00:00", "16:55", step=300)
    h.live(one_day, history, EURUSD, end="20250127 16:57:00 US/Eastern")
    assert len(h.ask(one_day, EURUSD)["bars"]) == 288  # Sunday 17:00 to Monday 16:55: one trading day
    h.update(bar("17:00"))
    assert [b["date"] for b in h.ask(one_day, EURUSD)["bars"]] == ["20250127 17:00:00"]
    h.update(bar("17:05"))
    assert len(h.ask(one_day, EURUSD)["bars"]) == 2


def test_a_time_window_moves_with_tws_clock_between_updates(h: Harness) -> None:
    # "1800 S" after the close: a fresh request finds no bar that started in the last 30 minutes
    h.live(bars=minutes("15:30", "15:59"), end="20250127 15:59:50 US/Eastern")
    assert len(h.ask()["bars"]) == 30
    for _ in range(5):  # 15 minutes, used every 3 (no update comes: the market is closed)
        h.advance(180)
        answer = h.ask()
    assert dates(answer)[0] == "15:45" and len(answer["bars"]) == 15
    for _ in range(6):
        h.advance(160)
        answer = h.ask()
    assert answer["bars"] == []


# ---- no data -----------------------------------------------------------------------------------------------------

def test_no_data_is_reused_for_its_ttl_like_any_answer_and_asked_again_after(h: Harness) -> None:
    h.fetch()
    h.up.on_error(h.last_id, 162, NO_DATA)
    empty = {"bars": [], "notice": {"tws_code": 162, "message": NO_DATA}}
    ttl = h.fetcher.ttl_for(FORMING, AAPL)
    assert ttl == NOW_TTL  # the rule every answer ending now follows
    h.advance(ttl - 0.1)
    assert h.fetch().result == empty  # at once, from memory
    assert len(h.tws.historical) == 1 and len(h.book) == 0
    h.advance(0.1)
    again = h.fetch(timeout=60)
    assert again.calls == []
    h.advance(0.25)  # IB's identical-request window (15 s) and pacing's margin
    assert len(h.tws.historical) == 2


@pytest.mark.parametrize("bar_size", ["5 secs", "1 min", "1 hour"])
def test_an_empty_answer_lives_as_long_as_a_plain_answer_of_the_same_request(h: Harness, bar_size: str) -> None:
    request = replace(FORMING, bar_size=bar_size)
    h.fetch(request)
    h.up.on_error(h.last_id, 162, NO_DATA)
    ttl = h.fetcher.ttl_for(request, AAPL)
    assert ttl == h.fetcher.ttl_for(replace(request, include_forming=False), AAPL)
    h.advance(ttl - 0.01)
    assert h.fetch(request).result["bars"] == []
    h.advance(0.01)
    assert h.fetch(request, timeout=60).calls == []


# ---- idle TTL ----------------------------------------------------------------------------------------------------

def test_an_idle_subscription_is_cancelled_upstream(h: Harness) -> None:
    req_id = h.live()
    h.advance(IDLE_TTL - 1)
    assert h.tws.cancelled == [] and len(h.book) == 1
    h.advance(1)
    h.advance(5)  # the next sweep
    assert h.tws.cancelled == [req_id]
    assert len(h.book) == 0 and h.up.open_count == 0 and h.book.stats()["expired"] == 1


def test_use_keeps_a_subscription_open(h: Harness) -> None:
    req_id = h.live()
    h.advance(200)
    h.ask()
    h.advance(200)
    assert h.tws.cancelled == []
    h.advance(IDLE_TTL - 200 + 5)
    assert h.tws.cancelled == [req_id]


def test_a_call_after_expiry_opens_a_new_subscription(h: Harness) -> None:
    h.live()
    h.advance(IDLE_TTL + 5)
    replies = h.fetch()
    assert len(h.tws.historical) == 2 and replies.calls == []
    h.history(half_hour("11:07"))
    assert dates(replies.result)[-1] == "11:07"


# ---- LRU eviction ------------------------------------------------------------------------------------------------

def test_beyond_the_maximum_the_least_recently_used_subscription_is_evicted(h: Harness) -> None:
    one = h.live(replace(FORMING, bar_size="1 min"))
    two = h.live(replace(FORMING, bar_size="2 mins"))
    three = h.live(replace(FORMING, bar_size="3 mins"))
    h.advance(1)
    h.ask(replace(FORMING, bar_size="1 min"))  # "2 mins" is now the least recently used
    h.fetch(replace(FORMING, bar_size="5 mins"))
    assert h.tws.cancelled == [two]
    assert len(h.book) == MAX_SUBSCRIPTIONS and h.up.open_count == MAX_SUBSCRIPTIONS
    h.ask(replace(FORMING, bar_size="1 min"))
    h.ask(replace(FORMING, bar_size="3 mins"))
    assert len(h.tws.historical) == 4 and {one, three}.isdisjoint(h.tws.cancelled)


# ---- errors on the first history ---------------------------------------------------------------------------------

def test_an_error_on_the_first_history_answers_the_callers_and_drops_the_subscription(h: Harness) -> None:
    replies = [h.fetch() for _ in range(2)]
    h.up.on_error(h.last_id, 354, "Requested market data is not subscribed")
    assert all(r.error.code is ErrorCode.NOT_SUBSCRIBED for r in replies)
    assert len(h.book) == 0 and h.up.open_count == 0


def test_no_data_on_the_first_history_is_an_empty_answer_with_the_notice(h: Harness) -> None:
    replies = h.fetch()
    h.up.on_error(h.last_id, 162, NO_DATA)
    assert replies.result == {"bars": [], "notice": {"tws_code": 162, "message": NO_DATA}}
    assert len(h.book) == 0


def test_a_new_subscription_pacing_refuses_at_once_is_429_not_a_failure(h: Harness) -> None:
    h.fetch()
    h.up.on_error(h.last_id, 321, "Error validating request")  # sent at T0, nothing kept
    h.advance(1)
    refused = h.fetch(timeout=5)  # identical: IB's 15-second rule would hold it past its deadline
    assert refused.error.code is ErrorCode.PACING_LIMITED and refused.error.retry_after
    assert len(h.book) == 0 and len(h.tws.historical) == 1


def test_an_undecodable_history_fails_its_callers_and_the_next_call_without_asking_tws(h: Harness) -> None:
    replies = [h.fetch() for _ in range(2)]
    error = BridgeError(ErrorCode.TWS_UNDECODABLE, "TWS sent historical data that ibapi cannot read")
    h.up.fail(h.last_id, error)
    assert [r.error for r in replies] == [error, error]
    assert len(h.book) == 0 and h.tws.cancelled == [1] and h.up.open_count == 0
    h.advance(20)
    assert h.fetch().error is error
    assert len(h.tws.historical) == 1


def test_a_live_subscription_whose_update_cannot_be_decoded_is_dropped(h: Harness) -> None:
    req_id = h.live()
    error = BridgeError(ErrorCode.TWS_UNDECODABLE, "TWS sent a historical data update that ibapi cannot read")
    h.up.fail(req_id, error)
    assert len(h.book) == 0 and h.tws.cancelled == [req_id]
    assert h.fetch().error is error


def test_no_first_history_in_time_is_tws_timeout(h: Harness) -> None:
    replies = h.fetch(timeout=30)
    h.advance(30)
    assert replies.error.code is ErrorCode.TWS_TIMEOUT
    assert h.tws.cancelled == [1] and len(h.book) == 0


# ---- connection lost, reconnect, 1101 ----------------------------------------------------------------------------

def lose_connection(h: Harness) -> None:
    """What the service does when the socket goes: TWS forgot every request."""
    h.client = None
    h.up.forget_all()
    h.book.connection_lost(LOST)
    h.client = h.tws  # and the reconnect succeeded


def test_connection_lost_fails_callers_still_waiting_for_a_first_history(h: Harness) -> None:
    h.live()
    waiting = h.fetch(replace(FORMING, bar_size="5 mins"))
    lose_connection(h)
    assert waiting.error is LOST
    assert len(h.book) == 2  # both are requested again on reconnect


def test_after_a_reconnect_every_subscription_is_requested_again_and_its_bars_replaced(h: Harness) -> None:
    old_id = h.live(bars=half_hour("11:02", close=100.0))
    h.update(bar("11:03", close=100.0))
    h.advance(2)
    lose_connection(h)
    h.book.resubscribe_all("reconnect")
    h.advance(13.25)  # IB's 15-second identical rule holds the new request until T0 + 15.25
    assert len(h.tws.historical) == 2
    new_id = h.last_id
    assert new_id != old_id and h.tws.historical[1][8] is True
    caller = h.fetch()  # while the new history is on its way, a caller waits for it
    assert caller.calls == []
    fresh = half_hour("11:07", close=200.0)
    h.history(fresh, new_id)
    answer = caller.result
    assert dates(answer) == [f"{10 + (38 + n) // 60}:{(38 + n) % 60:02d}" for n in range(30)]
    assert all(b["close"] == 200.0 for b in answer["bars"])  # replaced wholesale: nothing of the old series
    assert h.ask() == answer
    assert h.book.stats()["resubscribed"] == 1 and h.tws.cancelled == []


def test_1101_requests_again_without_cancelling_what_tws_already_dropped(h: Harness) -> None:
    old_id = h.live()
    h.advance(20)
    h.book.resubscribe_all("1101 (data lost)")
    assert h.tws.cancelled == [] and not h.up.owns(old_id)
    assert len(h.tws.historical) == 2 and h.up.owns(h.last_id) and h.up.open_count == 1


def test_a_late_event_from_a_superseded_upstream_is_ignored(h: Harness) -> None:
    h.live(bars=half_hour(close=100.0))
    old = h.up.started[-1]
    h.advance(20)
    h.book.resubscribe_all("1101 (data lost)")
    h.history(half_hour(close=200.0))
    before = h.ask()
    old.handler.updated(old, {**before["bars"][-1], "close": 1.0})
    old.handler.history_done(old, [], TWS_END)
    old.handler.history_failed(old, LOST, None)
    assert h.ask() == before and len(h.book) == 1


def test_a_caller_waiting_for_a_restored_subscription_gives_up_at_its_deadline(h: Harness) -> None:
    h.live()
    h.advance(2)
    lose_connection(h)
    h.book.resubscribe_all("reconnect")  # held by pacing until T0 + 15.25
    caller = h.fetch(timeout=5)
    h.advance(5)
    assert caller.error.code is ErrorCode.TWS_UNAVAILABLE and caller.error.retry_after
    h.advance(10)
    h.history(half_hour())
    assert len(caller.calls) == 1


def test_stats_count_live_total_created_expired_and_resubscribed(h: Harness) -> None:
    h.live()
    h.fetch(replace(FORMING, bar_size="5 mins"))
    assert h.book.stats() == {"live": 1, "total": 2, "created": 2, "expired": 0, "resubscribed": 0, "exhausted": 0}


# ---- bugs --------------------------------------------------------------------------------------------------------

def test_evicting_a_subscription_still_waiting_for_its_history_answers_its_callers(h: Harness) -> None:
    first = h.fetch(replace(FORMING, bar_size="1 min"))
    h.fetch(replace(FORMING, bar_size="2 mins"))
    h.fetch(replace(FORMING, bar_size="3 mins"))
    h.fetch(replace(FORMING, bar_size="5 mins"))  # evicts "1 min"
    h.advance(60)
    assert len(first.calls) == 1


def test_a_subscription_closed_while_its_request_waits_for_pacing_never_opens_upstream(h: Harness) -> None:
    h.live(replace(FORMING, bar_size="1 min"))
    h.advance(2)
    lose_connection(h)
    h.book.resubscribe_all("reconnect")  # "1 min" waits for the identical rule until T0 + 15.25
    h.advance(1)
    for size in ("2 mins", "3 mins", "5 mins"):  # the third evicts "1 min", the least recently used
        h.live(replace(FORMING, bar_size=size))
    assert len(h.book) == MAX_SUBSCRIPTIONS
    h.advance(15)
    assert [args[4] for args in h.tws.historical] == ["1 min", "2 mins", "3 mins", "5 mins"]
    assert h.up.open_count == MAX_SUBSCRIPTIONS


@pytest.mark.parametrize("what", ["BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"])
def test_a_series_tws_keeps_no_stream_of_is_refused_before_it_takes_a_slot(h: Harness, what: str) -> None:
    h.live()  # one subscription serving: it must not be evicted for a request that cannot stream
    replies = h.fetch(replace(FORMING, what_to_show=what))
    assert replies.error.code is ErrorCode.INVALID_REQUEST and "keepUpToDate" in replies.error.message
    assert len(h.tws.historical) == 1 and len(h.book) == 1


def test_a_continuous_future_is_never_subscribed(h: Harness) -> None:
    contfut = replace(AAPL, symbol="ES", sec_type="CONTFUT", exchange="CME")
    replies = h.fetch(replace(FORMING, symbol="ES", sec_type="CONTFUT", exchange="CME"), contract=contfut)
    assert replies.error.code is ErrorCode.INVALID_REQUEST
    assert h.tws.historical == [] and len(h.book) == 0
