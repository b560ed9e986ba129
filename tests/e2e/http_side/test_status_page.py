"""The status page at / in headless Chromium against a real bridge (with BRIDGE_API_TOKEN) and the simulator, whose
clock runs at 10x from Tuesday 11:00 New York: the page loads without the token and shows the connection from
/api/v1/health; the chart needs the token, draws the bars of POST /api/v1/bars once it is given, and its last candle
moves with the stream while the simulator's clock runs. No request leaves the bridge's origin."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import artefact_path
from tests.e2e.processes import BridgeProcess, SimProcess
from tests.waiting import wait_until

TOKEN = "status-page-token"


@pytest.fixture(scope="module")
def guarded_bridge(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    bridge = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port, BRIDGE_API_TOKEN=TOKEN).start()
    yield bridge
    bridge.stop()


def candles(page: Page) -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = page.evaluate("window.statusPage.chart.candles()")
    return drawn


def chart_state(page: Page) -> str:
    state: str = page.evaluate("window.statusPage.chart.state")
    return state


def test_the_page_shows_health_draws_the_chart_with_the_token_and_moves_the_last_candle(
        chromium: Browser, guarded_bridge: BridgeProcess) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 1100})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        answer = page.goto(f"{guarded_bridge.origin}/")
        assert answer is not None and answer.status == 200  # the page holds no data: no token needed for it
        wait_until(lambda: page.inner_text("#overall") == "ok", timeout=10, what="health shown")
        assert "connected" in page.inner_text("#connection")
        assert "connected" in page.inner_text("#history")  # the worker's connection_history, newest first
        assert "historical_data" in page.inner_text("#farms")

        wait_until(lambda: "401 unauthorized" in chart_state(page), timeout=10, what="the chart asks for the token")
        assert candles(page) == []

        page.fill("#token", TOKEN)
        page.click("#token-form button[type=submit]")
        drawn = wait_until(lambda: len(c := candles(page)) > 30 and c, timeout=15, what="candles drawn")
        assert page.evaluate("sessionStorage.getItem('tws-bridge.api-token')") == TOKEN
        assert page.input_value("#token") == ""  # kept in the tab's storage, not left in the field

        # the axis shows New York's wall clock: each bar's epoch time shifted by the exchange's offset (EST)
        assert page.evaluate("window.statusPage.chart.offsetSeconds") == -5 * 3600
        first = drawn[0]
        assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(first["time"])) == "2025-01-28 09:30"  # the open, as NY
        assert all(a["time"] < b["time"] for a, b in itertools.pairwise(drawn))
        assert first["low"] <= min(first["open"], first["close"]) <= max(first["open"], first["close"]) <= first["high"]

        last = drawn[-1]
        moved = wait_until(lambda: (c := candles(page)[-1]) != last and c, timeout=20,
                           what="the last candle changed with the stream")
        assert moved["time"] >= last["time"]
        assert page.evaluate("window.statusPage.chart.events") > 0
        assert "live" in chart_state(page)
        # health, polled again as the stream opened, shows the live subscription behind the page's own stream
        wait_until(lambda: "1 live" in page.inner_text("#requests"), timeout=10, what="the subscription shown")
        assert "1 min|TRADES|rth\tlive" in page.inner_text("#series")  # the series by contract id, bar size, what

        shot = artefact_path("status-page.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert errors == []
        outside = [url for url in requested if not url.startswith(f"{guarded_bridge.origin}/")]
        assert outside == [], outside
    finally:
        context.close()
