"""include_forming answers equal a fresh request plus the forming bar, and an empty answer is reused like any other.
Real gunicorn (2 HTTP workers), the real TWS worker and `python -m sim` with IB's pacing rules on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.waiting import wait_until

ONE_DAY = {"symbol": "AAPL", "period": "1m", "duration": "1 D"}


def keep_up_to_date_requests(tws, symbol: str, keep: bool) -> list[dict]:
    return [r for r in tws.received("RequestHistoricalData")
            if r["fields"]["contract"]["symbol"] == symbol and r["fields"]["query"]["keep_up_to_date"] == keep]


def test_include_forming_is_the_fresh_answer_plus_the_forming_bar_as_the_session_goes_on(make_tws, make_bridge):
    # the setting: 10:00:30 New York, 10x, an update every 0.5 s
    tws = make_tws(clock_start="2025-01-27T10:00:30-05:00", speed=10.0, extra=("--update-interval", "0.5")).start()
    bridge = make_bridge(tws.port)
    started = tws.control("clock_now")

    def checkpoint(reference_duration: str) -> tuple[list[dict], list[dict]]:
        """Stop TWS's clock, then: the live answer, a fresh one without the forming bar, and the forming bar from a
        new subscription's history (a duration no live subscription covers)."""
        tws.control("clock_freeze")
        fresh = bridge.post("/bars", ONE_DAY).body["bars"]
        reference = bridge.post("/bars", {**ONE_DAY, "duration": reference_duration, "include_forming": True})
        forming = reference.body["bars"][-1]

        def live_now() -> list[dict] | None:  # the subscription has had an update at the frozen time
            bars = bridge.post("/bars", {**ONE_DAY, "include_forming": True}).body["bars"]
            return bars if bars[-1] == forming else None

        live = wait_until(live_now, timeout=10, interval=0.1, what="an update at the frozen time")
        return live, fresh

    first = bridge.post("/bars", {**ONE_DAY, "include_forming": True})  # the subscription starts
    assert first.status == 200, first.body
    live, fresh = checkpoint("3600 S")
    assert live[0]["date"] == "20250127 09:30:00" and len(live) == 31
    assert live[:-1] == fresh, "at the start: exactly the fresh answer and the forming bar"
    in_history = len(live) - 1  # bars TWS sent in the subscription's history

    tws.control("clock_run_from", at=tws.control("clock_now"), speed=10.0)
    wait_until(lambda: tws.control("clock_now") >= started + 320, timeout=40, interval=0.2, what="32 s later")
    live, fresh = checkpoint("7200 S")
    assert live[0]["date"] == "20250127 09:30:00" and live[-1]["date"] >= "20250127 10:05:00"
    assert len(live) - 1 > in_history, "bars completed while the subscription streamed"
    # the history's bars as TWS sent them, and the ones completed while streaming with TWS's final update for them
    assert live[:-1] == fresh, "32 s later: exactly the fresh answer and the forming bar"


def test_polling_a_range_without_data_answers_at_once_and_asks_tws_once_per_ttl(make_tws, make_bridge):
    # Saturday noon: no bar started in the last 30 minutes, TWS answers 162 "HMDS query returned no data"
    tws = make_tws(clock_start="2025-02-01T12:00:00-05:00", speed=1.0).start()
    bridge = make_bridge(tws.port, BAR_TIMEOUT="30")  # the default: long enough to wait out IB's 15-s rule
    empty = {"period": "15s", "duration": "1800 S"}  # 15-s bars: an answer ending now is reused for 15 s
    assert bridge.bars(symbol="MSFT", **empty, end_datetime="20250131 16:00:00").status == 200  # resolve MSFT
    assert bridge.bars(symbol="AAPL", **empty, end_datetime="20250131 16:00:00").status == 200
    period, polls = 2.0, 17  # a 2-s poller for 32 s

    def poll(body: dict[str, Any]) -> None:
        for n in range(polls):
            started = time.monotonic()
            answer = bridge.bars(**body)
            took = time.monotonic() - started
            assert answer.status == 200 and answer.body["count"] == 0, answer.body
            assert answer.body["notice"]["tws_code"] == 162
            assert took < 1.0, f"poll {n} of {body} took {took:.1f} s"
            threading.Event().wait(max(0.0, started + period - time.monotonic()))  # the poller's rhythm

    with ThreadPoolExecutor(2) as pool:
        forming = pool.submit(poll, {"symbol": "AAPL", **empty, "include_forming": True})
        plain = pool.submit(poll, {"symbol": "MSFT", **empty})
        forming.result(timeout=60)
        plain.result(timeout=60)
    # one upstream request per 15-s TTL over 32 s: at 0, ~15 and ~30 s
    assert 2 <= len(keep_up_to_date_requests(tws, "AAPL", keep=True)) <= 3
    assert 2 <= len(keep_up_to_date_requests(tws, "MSFT", keep=False)) - 1 <= 3
