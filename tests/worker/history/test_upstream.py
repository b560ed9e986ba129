"""UpstreamRequests: the one place that sends reqHistoricalData and cancelHistoricalData. A fake ibapi client records
what is sent, TWS's events are fed in as the service would, and a recording handler shows what each request's owner
is told. Pacing and deadlines run on Timers with an injected clock (the module's time.monotonic is replaced)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

import worker.history.upstream
from shared.bars import BarRequest
from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import (
    AAPL,
    ANSWER_TIMEOUT,
    LIMITS,
    MINUTE,
    NO_DATA,
    TWS_END,
    UpstreamHarness,
    minute_bar,
    ny,
    use_clock,
)
from worker.history.upstream import FORMAT_EPOCH, Upstream, pacing_key, to_bar
from worker.tws.pacing import PacingLimits


class Handler:
    """Records what an upstream request's owner is told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def history_done(self, upstream: Upstream, bars: list[dict[str, Any]], end: str) -> None:
        self.events.append(("done", upstream, bars, end))

    def history_failed(self, upstream: Upstream, error: BridgeError | None, notice: dict[str, Any] | None) -> None:
        self.events.append(("failed", upstream, error, notice))

    def updated(self, upstream: Upstream, bar: dict[str, Any]) -> None:
        self.events.append(("updated", upstream, bar))

    @property
    def only(self) -> tuple[Any, ...]:
        assert len(self.events) == 1, self.events
        return self.events[0]


class Harness(UpstreamHarness):
    def start(self, request: BarRequest = MINUTE, keep_up_to_date: bool = False,
              timeout: float = 30.0) -> tuple[Upstream, Handler]:
        handler = Handler()
        upstream = Upstream(request, AAPL, keep_up_to_date, handler)
        self.up.start(upstream, self.clock.now + timeout)
        return upstream, handler


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Harness]:
    """A harness whose module-level time.monotonic is its own clock."""
    def build(limits: PacingLimits = LIMITS) -> Harness:
        harness = Harness(limits)
        use_clock(monkeypatch, harness.clock, worker.history.upstream)
        return harness
    return build


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    return make()


# ---- sending -----------------------------------------------------------------------------------------------------

def test_a_request_is_sent_with_format_date_2_and_counts_as_open(h: Harness) -> None:
    upstream, handler = h.start()
    assert len(h.tws.historical) == 1
    req_id, contract, end, duration, bar_size, what, use_rth, format_date, keep_up, options = h.tws.historical[0]
    assert upstream.req_id == req_id and h.up.owns(req_id)
    assert (contract.conId, contract.symbol, contract.secType, contract.exchange, contract.primaryExchange,
            contract.currency) == (265598, "AAPL", "STK", "SMART", "NASDAQ", "USD")
    assert (end, duration, bar_size, what, use_rth) == ("", "1800 S", "1 min", "TRADES", 1)
    assert format_date == FORMAT_EPOCH == 2
    assert keep_up is False and options == []
    assert h.up.open_count == 1 and h.up.sent == 1
    assert handler.events == []


def test_each_request_gets_its_own_req_id(h: Harness) -> None:
    first, _ = h.start()
    second, _ = h.start(replace(MINUTE, bar_size="5 mins"))
    assert first.req_id != second.req_id
    assert h.up.open_count == 2


def test_request_options_reach_reqhistoricaldata(h: Harness) -> None:
    h.start(replace(MINUTE, what_to_show="MIDPOINT", use_rth=False, include_forming=True), keep_up_to_date=True)
    _, _, end, _, _, what, use_rth, _, keep_up, _ = h.tws.historical[0]
    assert (end, what, use_rth, keep_up) == ("", "MIDPOINT", 0, True)


def test_an_exchange_local_end_gets_the_contract_time_zone(h: Harness) -> None:
    h.start(replace(MINUTE, end_datetime="20250126 10:30:00"))
    assert h.tws.historical[0][2] == "20250126 10:30:00 America/New_York"


def test_a_utc_end_is_sent_as_it_is(h: Harness) -> None:
    h.start(replace(MINUTE, end_datetime="20250126-15:30:00"))
    assert h.tws.historical[0][2] == "20250126-15:30:00"


def test_not_connected_fails_the_request_without_sending(h: Harness) -> None:
    h.client = None
    upstream, handler = h.start()
    kind, who, error, notice = handler.only
    assert (kind, who, notice) == ("failed", upstream, None)
    assert error.code is ErrorCode.TWS_UNAVAILABLE and error.retry_after
    assert h.tws.historical == [] and h.up.open_count == 0


def test_requests_pass_the_pacing_scheduler(h: Harness) -> None:
    h.start()
    second, handler = h.start(timeout=60)  # identical: IB refuses it within 15 s
    assert len(h.tws.historical) == 1 and second.req_id is None and handler.events == []
    h.advance(15.25)
    assert len(h.tws.historical) == 2 and second.req_id == h.tws.historical[1][0]


def test_a_request_pacing_cannot_send_before_its_deadline_is_refused_with_429(h: Harness) -> None:
    h.start()
    h.advance(1)
    second, handler = h.start(timeout=10)
    kind, who, error, notice = handler.only
    assert (kind, who, notice) == ("failed", second, None)
    assert error.code is ErrorCode.PACING_LIMITED and error.http_status == 429
    assert error.retry_after == pytest.approx(14.25, abs=0.1)
    assert len(h.tws.historical) == 1


def test_the_pacing_key_names_what_ibs_rules_look_at() -> None:
    key = pacing_key(replace(MINUTE, end_datetime="20250126 10:30:00"), AAPL)
    assert key.group == (265598, "STK", "SMART", "TRADES")
    assert key.bar_seconds == 60 and key.weight == 1
    assert pacing_key(replace(MINUTE, what_to_show="BID_ASK"), AAPL).weight == 2, "IB counts BID_ASK twice"
    assert key != pacing_key(MINUTE, AAPL)
    assert key.group == pacing_key(replace(MINUTE, bar_size="5 mins"), AAPL).group
    assert key.group != pacing_key(replace(MINUTE, what_to_show="MIDPOINT"), AAPL).group
    assert pacing_key(MINUTE, AAPL) == pacing_key(MINUTE, AAPL)


# ---- answers -----------------------------------------------------------------------------------------------------

def test_bars_and_end_answer_the_handler_and_close_the_request(h: Harness) -> None:
    upstream, handler = h.start()
    assert handler.events == []
    h.up.on_end(upstream.req_id, TWS_END, [minute_bar("10:58", 101.0), minute_bar("10:59", 102.0)])
    kind, who, bars, end = handler.only
    assert (kind, who, end) == ("done", upstream, TWS_END)
    assert bars == [
        {"date": "20250127 10:58:00", "time": ny("2025-01-27 10:58"), "datetime": "2025-01-27T10:58:00-05:00",
         "open": 100.0, "high": 102.0, "low": 99.0,
         "close": 101.0, "volume": 1000, "wap": 100.5, "count": 10},
        {"date": "20250127 10:59:00", "time": ny("2025-01-27 10:59"), "datetime": "2025-01-27T10:59:00-05:00",
         "open": 101.0, "high": 103.0, "low": 100.0,
         "close": 102.0, "volume": 1000, "wap": 101.5, "count": 10},
    ]
    assert not h.up.owns(upstream.req_id) and h.up.open_count == 0
    assert h.tws.cancelled == []


def test_an_answer_cancels_the_deadline(h: Harness) -> None:
    upstream, handler = h.start(timeout=30)
    h.up.on_end(upstream.req_id, TWS_END, [])
    h.advance(60)
    assert len(handler.events) == 1 and h.tws.cancelled == []


def test_a_closed_request_frees_its_open_slot_for_a_waiting_one(make: Callable[..., Harness]) -> None:
    h = make(PacingLimits(max_open=1))
    first, _ = h.start()
    second, _ = h.start(replace(MINUTE, bar_size="5 mins"))
    assert len(h.tws.historical) == 1 and second.req_id is None
    h.up.on_end(first.req_id, TWS_END, [])
    assert len(h.tws.historical) == 2 and second.req_id == h.tws.historical[1][0]


def test_to_bar_reads_intraday_and_daily_dates() -> None:
    intraday = to_bar(minute_bar("09:30"), "America/New_York")
    assert (intraday["date"], intraday["time"], intraday["datetime"]) == (
        "20250127 09:30:00", ny("2025-01-27 09:30"), "2025-01-27T09:30:00-05:00")
    daily = to_bar(("20250127", 1.0, 2.0, 0.5, 1.5, 10, 1.2, 3), "America/New_York")
    assert list(daily) == ["date", "time", "datetime", "open", "high", "low", "close", "volume", "wap", "count"]
    assert daily == {"date": "20250127", "time": ny("2025-01-27 00:00"), "datetime": "2025-01-27",
                     "open": 1.0, "high": 2.0, "low": 0.5,
                     "close": 1.5, "volume": 10, "wap": 1.2, "count": 3}


# ---- errors, no data, timeouts -----------------------------------------------------------------------------------

def test_no_data_is_dispatched_as_a_notice_without_an_error(h: Harness) -> None:
    upstream, handler = h.start()
    h.up.on_error(upstream.req_id, 162, NO_DATA)
    assert handler.only == ("failed", upstream, None, {"tws_code": 162, "message": NO_DATA})
    assert not h.up.owns(upstream.req_id) and h.up.open_count == 0


@pytest.mark.parametrize(("code", "message", "expected"), [
    (162, "Historical Market Data Service error message:Historical data request pacing violation",
     ErrorCode.PACING_LIMITED),
    (200, "No security definition has been found for the request", ErrorCode.SYMBOL_NOT_FOUND),
    (354, "Requested market data is not subscribed", ErrorCode.NOT_SUBSCRIBED),
    (321, "Error validating request", ErrorCode.TWS_REJECTED),
])
def test_a_tws_error_ends_the_request_with_its_classification(h: Harness, code: int, message: str,
                                                             expected: ErrorCode) -> None:
    upstream, handler = h.start()
    h.up.on_error(upstream.req_id, code, message)
    kind, who, error, notice = handler.only
    assert (kind, who, notice) == ("failed", upstream, None)
    assert error.code is expected and error.tws_code == code
    assert not h.up.owns(upstream.req_id)
    h.advance(60)
    assert len(handler.events) == 1 and h.tws.cancelled == []


def test_a_notice_does_not_end_the_request(h: Harness) -> None:
    upstream, handler = h.start()
    h.up.on_error(upstream.req_id, 2174, "Warning: You submitted request with date-time attributes without explicit "
                                         "time zone.")
    assert handler.events == [] and h.up.owns(upstream.req_id)


def test_no_answer_by_the_deadline_is_tws_timeout_and_a_cancel(h: Harness) -> None:
    upstream, handler = h.start(timeout=30)
    h.advance(29.9)
    assert handler.events == [] and h.tws.cancelled == []
    h.advance(0.1)
    kind, who, error, _ = handler.only
    assert (kind, who) == ("failed", upstream)
    assert error.code is ErrorCode.TWS_TIMEOUT and error.http_status == 504 and error.retry_after
    assert h.tws.cancelled == [upstream.req_id]
    assert not h.up.owns(upstream.req_id) and h.up.open_count == 0


def test_the_deadline_covers_the_pacing_wait_too(h: Harness) -> None:
    h.start()
    second, handler = h.start(timeout=20)  # waits 15.25 s, then has 4.75 s left
    h.advance(15.25)
    assert handler.events == []
    h.advance(4.75)
    kind, _, error, _ = handler.only
    assert kind == "failed" and error.code is ErrorCode.TWS_TIMEOUT
    assert h.tws.cancelled == [second.req_id]


def test_once_sent_tws_has_at_most_the_answer_timeout_whatever_the_deadline(h: Harness) -> None:
    upstream, handler = h.start(timeout=3600)  # a resubscription's patience: long for pacing, not for TWS
    h.advance(ANSWER_TIMEOUT - 0.1)
    assert handler.events == []
    h.advance(0.1)
    kind, _, error, _ = handler.only
    assert kind == "failed" and error.code is ErrorCode.TWS_TIMEOUT
    assert h.tws.cancelled == [upstream.req_id]


# ---- keepUpToDate ------------------------------------------------------------------------------------------------

def test_keep_up_to_date_stays_open_after_its_history_and_forwards_updates(h: Harness) -> None:
    upstream, handler = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True, timeout=30)
    h.up.on_end(upstream.req_id, TWS_END, [minute_bar("11:01"), minute_bar("11:02")])
    assert handler.events[0][0] == "done" and len(handler.events[0][2]) == 2
    assert upstream.streaming and h.up.owns(upstream.req_id) and h.up.open_count == 1
    h.up.on_update(upstream.req_id, minute_bar("11:02", 105.0))
    kind, who, bar = handler.events[1]
    assert (kind, who) == ("updated", upstream)
    assert (bar["date"], bar["close"]) == ("20250127 11:02:00", 105.0)
    h.advance(3600)  # the deadline bounded the history only
    assert len(handler.events) == 2 and h.tws.cancelled == [] and h.up.open_count == 1


def test_an_update_before_the_history_ended_is_not_forwarded(h: Harness) -> None:
    upstream, handler = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True)
    h.up.on_update(upstream.req_id, minute_bar("11:02"))
    assert handler.events == []


def test_a_keep_up_to_date_request_counts_against_the_open_limit(make: Callable[..., Harness]) -> None:
    h = make(PacingLimits(max_open=1))
    stream, _ = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True)
    h.up.on_end(stream.req_id, TWS_END, [])
    waiting, _ = h.start(replace(MINUTE, bar_size="5 mins"), timeout=60)
    assert waiting.req_id is None and len(h.tws.historical) == 1
    h.up.cancel(stream)
    assert waiting.req_id is not None and len(h.tws.historical) == 2


# ---- cancel, discard, forget_all ---------------------------------------------------------------------------------

def test_cancel_sends_cancel_historical_data_once_and_stops_the_deadline(h: Harness) -> None:
    upstream, handler = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True)
    h.up.on_end(upstream.req_id, TWS_END, [])
    h.up.cancel(upstream)
    h.up.cancel(upstream)
    assert h.tws.cancelled == [upstream.req_id]
    assert not h.up.owns(upstream.req_id) and h.up.open_count == 0
    h.advance(60)
    assert len(handler.events) == 1


def test_cancel_of_an_unanswered_request_tells_its_owner_nothing(h: Harness) -> None:
    upstream, handler = h.start(timeout=30)
    h.up.cancel(upstream)
    assert h.tws.cancelled == [upstream.req_id]
    h.advance(60)
    assert handler.events == []


def test_cancel_while_disconnected_forgets_without_sending(h: Harness) -> None:
    upstream, _ = h.start()
    h.client = None
    h.up.cancel(upstream)
    assert h.tws.cancelled == [] and h.up.open_count == 0


def test_discard_forgets_a_request_tws_dropped_without_a_cancel(h: Harness) -> None:
    upstream, handler = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True, timeout=30)
    h.up.discard(upstream)
    assert h.tws.cancelled == [] and not h.up.owns(upstream.req_id) and h.up.open_count == 0
    h.advance(60)
    assert handler.events == []


def test_discard_frees_the_open_slot(make: Callable[..., Harness]) -> None:
    h = make(PacingLimits(max_open=1))
    first, _ = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True)
    second, _ = h.start(replace(MINUTE, bar_size="5 mins"))
    h.up.discard(first)
    assert second.req_id is not None


def test_forget_all_drops_every_request_without_cancels_or_deadlines(h: Harness) -> None:
    plain, plain_handler = h.start(timeout=30)
    stream, stream_handler = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True, timeout=30)
    h.up.on_end(stream.req_id, TWS_END, [])
    gone = h.up.forget_all()
    assert set(gone) == {plain, stream}
    assert h.up.open_count == 0 and not h.up.owns(plain.req_id) and not h.up.owns(stream.req_id)
    assert h.tws.cancelled == []
    h.advance(60)
    assert plain_handler.events == [] and len(stream_handler.events) == 1
    assert h.up.forget_all() == []


# ---- bugs --------------------------------------------------------------------------------------------------------

def test_a_request_cancelled_while_it_waits_for_pacing_is_never_sent(h: Harness) -> None:
    h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True)
    waiting, _ = h.start(replace(MINUTE, include_forming=True), keep_up_to_date=True, timeout=60)
    assert waiting.req_id is None and h.outbox.pacing_queued == 1
    h.up.cancel(waiting)
    h.advance(15.25)
    assert len(h.tws.historical) == 1
    assert h.outbox.pacing_queued == 0


# ---- what TWS would refuse, and BID_ASK's double weight ------------------------------------------------------------

ES_CONTFUT = replace(AAPL, con_id=495512563, symbol="ES", sec_type="CONTFUT", exchange="CME", primary_exchange="",
                     local_symbol="ESH5", last_trade_date="20250321", time_zone="US/Central")


def test_thirty_bid_ask_requests_of_small_bars_use_the_whole_60_per_10_minutes_budget(h: Harness) -> None:
    first = h.clock.now
    for n in range(30):  # 2.5 s apart: the group rule (5 per 2 s, BID_ASK weighing 2) never holds one
        h.start(replace(MINUTE, bar_size="30 secs", what_to_show="BID_ASK", duration=f"{1800 - n} S"),
                timeout=3600)
        assert len(h.tws.historical) == n + 1
        h.answer([])
        h.advance(2.5)
    assert h.pacing.budget()["small_bar_requests_left"] == 0
    _, handler = h.start(replace(MINUTE, bar_size="30 secs", duration="1800 S"), timeout=3600)
    assert len(h.tws.historical) == 30 and handler.events == [], "the 31st waits for the 10-minute window"
    h.advance(first + 600 + LIMITS.margin - h.clock.now - 0.01)
    assert len(h.tws.historical) == 30
    h.advance(0.01)
    assert len(h.tws.historical) == 31


@pytest.mark.parametrize(("contract", "what"), [(ES_CONTFUT, "TRADES"), (AAPL, "ADJUSTED_LAST")])
def test_a_request_with_an_end_tws_refuses_fails_and_is_never_sent(h: Harness, contract: Any, what: str) -> None:
    handler = Handler()
    request = replace(MINUTE, what_to_show=what, end_datetime="20250124-21:00:00")
    h.up.start(Upstream(request, contract, False, handler), h.clock.now + 30)
    kind, _, error, _ = handler.only
    assert kind == "failed" and error.code is ErrorCode.INVALID_REQUEST and "end date" in error.message
    assert h.tws.historical == []


@pytest.mark.parametrize(("contract", "what"), [(ES_CONTFUT, "TRADES"), (AAPL, "BID_ASK"),
                                                (AAPL, "ADJUSTED_LAST"), (AAPL, "HISTORICAL_VOLATILITY"),
                                                (AAPL, "OPTION_IMPLIED_VOLATILITY")])
def test_keep_up_to_date_is_never_sent_for_a_series_tws_cannot_stream(h: Harness, contract: Any, what: str) -> None:
    handler = Handler()
    h.up.start(Upstream(replace(MINUTE, what_to_show=what), contract, True, handler), h.clock.now + 30)
    kind, _, error, _ = handler.only
    assert kind == "failed" and error.code is ErrorCode.INVALID_REQUEST
    assert h.tws.historical == []


def test_a_contfut_goes_as_the_contfut_contract_with_no_end(h: Harness) -> None:
    handler = Handler()
    h.up.start(Upstream(replace(MINUTE, exchange="CME"), ES_CONTFUT, False, handler), h.clock.now + 30)
    (_, contract, end, *_rest) = h.tws.historical[0]
    assert (contract.conId, contract.secType, contract.symbol, contract.exchange, end) == (
        0, "CONTFUT", "ES", "CME", ""), "no conId: the front month's changes at every roll"
    assert contract.lastTradeDateOrContractMonth == "" and contract.localSymbol == ""
