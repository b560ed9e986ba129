"""The worker keeps IB's rules and its streams: pacing, coalescing, cache, live subscriptions, reconnect and
backfill. Real gunicorn (2 HTTP workers), the real worker, and the simulator with pacing enforcement ON."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.processes import Answer
from tests.waiting import wait_until

STOCKS = ["AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "AMD", "INTC", "QQQ", "JPM", "XOM", "KO", "IBM",
          "BAC", "WMT", "SPY", "DIA", "IWM", "GLD"]
PAST = "20250127 16:00:00"


def pacing_violations(tws) -> list[dict]:
    return [e for e in tws.control("errors") if (e["code"] == 162 and "pacing" in e["message"]) or e["code"] == 322]


def historical_requests(tws, symbol: str | None = None, keep: bool | None = None) -> list[dict]:
    return [r for r in tws.received("RequestHistoricalData")
            if (symbol is None or r["fields"]["contract"]["symbol"] == symbol)
            and (keep is None or r["fields"]["query"]["keep_up_to_date"] == keep)]


def test_a_burst_of_120_small_bar_requests_never_violates_pacing(make_tws, make_bridge):
    tws = make_tws().start()
    bridge = make_bridge(tws.port, BAR_TIMEOUT="20")
    keys = [(s, d) for d in ("1800 S", "3600 S", "5400 S", "7200 S", "9000 S", "10800 S") for s in STOCKS]

    def call(key: tuple[str, str]) -> Answer:
        return bridge.bars(symbol=key[0], period="30s", duration=key[1], end_datetime=PAST)

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(call, keys))
    statuses = [a.status for a in answers]
    assert len(answers) == 120 and set(statuses) <= {200, 429}, statuses
    assert all(float(a.headers["Retry-After"]) > 0 for a in answers if a.status == 429)
    assert 0 < statuses.count(200) <= 60
    assert pacing_violations(tws) == []
    health = bridge.get("/health").body["worker"]
    assert health["pacing"]["small_bar_requests_left"] == 60 - statuses.count(200)


def test_100_concurrent_identical_requests_make_one_upstream_request(make_tws, make_bridge):
    # TWS takes 2 s: all 100 arrive while the one upstream request is in flight (coalescing, not the cache)
    tws = make_tws(extra=("--reply-delay", "2")).start()
    bridge = make_bridge(tws.port, BAR_TIMEOUT="20")
    assert bridge.bars(symbol="KO", end_datetime=PAST).status == 200  # the contract is resolved beforehand
    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(lambda _: bridge.bars(symbol="IBM", end_datetime=PAST), range(100)))
    assert [a.status for a in answers] == [200] * 100
    assert all(a.body == answers[0].body for a in answers) and answers[0].body["count"] == 78
    assert len(historical_requests(tws, "IBM")) == 1
    worker = bridge.get("/health").body["worker"]
    assert worker["coalesced"] >= 90, worker["coalesced"]
    assert worker["cache"]["entries"] >= 1
    assert pacing_violations(tws) == []


def test_include_forming_polled_for_30_s_of_market_time_is_one_subscription(make_tws, make_bridge):
    # the clock runs 5x from 10:59:45: the 10:55 bar closes at 11:00:00, 15 simulated seconds in
    tws = make_tws(clock_start="2025-01-28T10:59:45-05:00", speed=5.0).start()
    bridge = make_bridge(tws.port)
    end = tws.control("clock_now") + 30  # 30 s of simulated time, a poll every simulated second (0.2 s)
    seen = []
    while tws.control("clock_now") < end:
        answer = bridge.bars(symbol="KO", include_forming=True)
        assert answer.status == 200
        seen.append(answer.body["bars"])
        threading.Event().wait(0.2)  # the polling rhythm of a client, not a synchronisation
    assert len(historical_requests(tws, "KO")) == 1, "one upstream request for the whole poll"
    formings = [bars[-1] for bars in seen]
    before = [f for f in formings if f["date"].endswith("10:55:00")]
    after = [f for f in formings if f["date"].endswith("11:00:00")]
    assert before and after, "the forming bar rolled over at the boundary"
    assert len({(f["close"], f["volume"]) for f in before}) > 1, "the forming bar changed between polls"
    closed = seen[-1][-2]
    assert closed["date"].endswith("10:55:00") and closed["volume"] >= before[-1]["volume"]


def test_a_dropped_connection_and_a_nightly_restart_are_survived_without_a_gap(make_tws, make_bridge):
    tws = make_tws(clock_start="2025-01-28T11:02:00-05:00", speed=5.0).start()
    bridge = make_bridge(tws.port)
    assert bridge.bars(symbol="JPM", include_forming=True).status == 200
    tws.control("drop_all")
    tws.control("refuse_connections", seconds=10)
    wait_until(lambda: (h := bridge.health_or_none()) and not h["connected"], what="bridge saw the drop")
    bridge.wait_connected(timeout=30)
    wait_until(lambda: len(historical_requests(tws, "JPM", keep=True)) == 2, timeout=20,
               what="the subscription requested again after the reconnect")
    tws.control("clock_freeze")
    wait_until(lambda: (a := bridge.bars(symbol="JPM", include_forming=True)).status == 200 and a, what="served")
    live = bridge.bars(symbol="JPM", include_forming=True).body["bars"]
    fresh = bridge.bars(symbol="JPM").body["bars"]  # a fresh full request (no forming bar), same simulated time
    assert live[:-1] == fresh, "no gap and no duplicate after the reconnect"
    times = [b["time"] for b in live]
    assert times == sorted(set(times))
    assert pacing_violations(tws) == []


def test_1101_requests_subscriptions_again_and_1102_does_not(make_tws, make_bridge):
    tws = make_tws(clock_start="2025-01-28T11:02:00-05:00", speed=5.0).start()
    bridge = make_bridge(tws.port)
    assert bridge.bars(symbol="WMT", include_forming=True).status == 200
    tws.control("lose_connectivity")
    wait_until(lambda: bridge.get("/health").body["worker"]["ib_reachable"] is False, what="the worker saw 1100")
    tws.control("restore_connectivity", data_kept=True)
    wait_until(lambda: bridge.get("/health").body["worker"]["ib_reachable"] is True, what="the worker saw 1102")
    assert bridge.get("/health").body["worker"]["subscriptions"]["resubscribed"] == 0
    assert len(historical_requests(tws, "WMT", keep=True)) == 1
    tws.control("lose_connectivity")
    tws.control("restore_connectivity", data_kept=False)
    # the new request is identical to the first: IB's 15-second rule applies to it too, so it may wait that long
    wait_until(lambda: len(historical_requests(tws, "WMT", keep=True)) == 2, timeout=30,
               what="1101 caused a new request")
    assert bridge.bars(symbol="WMT", include_forming=True).status == 200
    assert len(historical_requests(tws, "WMT", keep=True)) == 2


def test_the_worker_killed_during_50_requests_answers_all_within_2_s(make_tws, make_bridge):
    tws = make_tws(extra=("--reply-delay", "5")).start()
    # all 50 in flight at once even if one HTTP worker accepts every connection (a greenlet each, far below the
    # BRIDGE_MAX_WAITING_REQUESTS bound)
    bridge = make_bridge(tws.port, BAR_TIMEOUT="20")
    pid = bridge.get("/health").body["worker"]["worker_pid"]
    keys = [(s, w) for w in ("TRADES", "MIDPOINT", "BID") for s in STOCKS][:50]
    done: list[float] = []

    def call(key: tuple[str, str]) -> Answer:
        answer = bridge.bars(symbol=key[0], what=key[1], end_datetime=PAST)
        done.append(time.monotonic())
        return answer

    with ThreadPoolExecutor(50) as pool:
        futures = [pool.submit(call, k) for k in keys]
        wait_until(lambda: bridge.get("/health").body["worker"]["requests"] >= 50, what="50 requests in flight")
        tws.control("reply_delay", seconds=0)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        answers = [f.result(timeout=10) for f in futures]
    assert all(a.status == 503 for a in answers), [a.status for a in answers]
    assert max(done) - killed < 2.0
    # a request the dead worker did not send (its 50 are held by the pacing ledger for IB's 15 s)
    served = wait_until(lambda: bridge.bars(symbol="AAPL", duration="2 D", end_datetime=PAST).status == 200
                        and time.monotonic(),
                        timeout=10, interval=0.05, what="served again")
    assert served - killed < 5.0


def test_client_id_in_use_shows_the_remedy_and_the_fallback_id_connects(make_tws, make_bridge):
    from tests.sim.ib_client import RecordingClient

    tws = make_tws().start()
    squatter = RecordingClient().start(tws.port, 100)
    try:
        stuck = make_bridge(tws.port, wait_connected=False)
        health = wait_until(lambda: (h := stuck.health_or_none()) and h["worker"]["last_error"] and h,
                            what="326 reported")
        assert health["connected"] is False
        assert health["worker"]["last_error"]["tws_code"] == 326
        assert "TWS_CLIENT_ID" in health["worker"]["last_error"]["message"]
        stuck.stop()
        fallback = make_bridge(tws.port, TWS_CLIENT_ID_FALLBACKS="2")
        assert fallback.get("/health").body["worker"]["client_id"] == 101
        assert sorted(tws.control("client_ids")) == [100, 101]
    finally:
        squatter.stop()


def test_a_connection_that_goes_silent_is_probed_and_replaced(make_tws, make_bridge):
    tws = make_tws().start()
    bridge = make_bridge(tws.port, TWS_WATCHDOG_INTERVAL="1")
    tws.control("never_answer", name="RequestCurrentTime", count=-1)  # every probe goes unanswered
    wait_until(lambda: (h := bridge.health_or_none()) and h["worker"]["reconnects"] >= 1, timeout=20,
               what="the watchdog replaced the silent connection")
    tws.control("clear_faults")
    bridge.wait_connected()
    assert bridge.bars(symbol="AAPL", end_datetime=PAST).status == 200
