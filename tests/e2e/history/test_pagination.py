"""An answer of 120,000 bars with `limit` 50,000 comes in pages of 50,000, 50,000 and 20,000 whose concatenation
holds every bar exactly once and equals the simulator's series (what one unlimited request would return); a page
token sent with another request is 400 invalid_page_token.

1-min bars of the whole day (session "all": 04:00-20:00, 960 bars a session) over about six months: 126 windows of
"1 D", paced by the 6-per-2-s rule (scaled by PACING_SCALE in the simulator and the bridge)."""

from __future__ import annotations

import pytest

from tests.e2e.history import sim_series
from tests.e2e.history.rig import assert_legal, pacing_violations, refusals, windows
from tests.e2e.history.sim_series import iso, ny

PACING_SCALE = 0.05
BARS = 120_000
END = ny("2025-01-31 20:00")


NOW = ny("2025-02-04 12:00")  # the simulator's clock (rig.CLOCK)


@pytest.fixture
def expected() -> list[dict]:
    series = sim_series.series("AAPL", "1 min", ny("2024-06-03 04:00"), END, NOW, use_rth=False)
    assert len(series) > BARS
    return series[-BARS:]


def _body(expected: list[dict]) -> dict:
    return {"symbol": "AAPL", "period": "1m", "session": "all", "start_datetime": iso(expected[0]["time"]),
            "end_datetime": iso(END), "limit": 50_000}


def test_120000_bars_come_in_three_pages_holding_every_bar_once(make_sim, make_history_bridge, expected) -> None:
    tws = make_sim(pacing_scale=PACING_SCALE)
    bridge = make_history_bridge(tws, pacing_scale=PACING_SCALE)
    got = bridge.fetch(_body(expected), job_timeout=120)
    assert got.pages == [50_000, 50_000, 20_000]
    times = [bar["time"] for bar in got.bars]
    assert len(set(times)) == BARS and times == sorted(times)
    assert got.bars == expected
    sent = windows(tws, "AAPL")
    assert_legal(sent)
    assert pacing_violations(tws) == [] and refusals(tws) == []
    # the pages again come from the store: the same pages, no upstream request
    again = bridge.fetch(_body(expected))
    assert again.pages == got.pages and again.bars == expected
    assert len(windows(tws, "AAPL")) == len(sent)


def test_a_page_token_sent_with_another_request_is_invalid_page_token(make_sim, make_history_bridge) -> None:
    tws = make_sim()
    bridge = make_history_bridge(tws, BAR_TIMEOUT="30")
    body = {"symbol": "AAPL", "period": "1m", "duration": "3 D", "end_datetime": "20250131 16:00:00", "limit": 500}
    first = bridge.post("/bars", body)
    if first.status == 202:
        bridge.wait_job(first.body["job"]["id"], timeout=60)
        first = bridge.post("/bars", body)
    assert first.status == 200 and first.body["count"] == 500, first.body
    token = first.body["next_page_token"]
    assert token
    assert bridge.post("/bars", {**body, "limit": 700, "page_token": token}).status == 200  # limit is the page's own
    for other in ({**body, "symbol": "MSFT"}, {**body, "duration": "2 D"}, {**body, "end_datetime": ""},
                  {**body, "period": "5m"}, {**body, "session": "all"}):
        answer = bridge.post("/bars", {**other, "page_token": token})
        assert answer.status == 400, (other, answer.status, answer.body)
        assert answer.body["code"] == "invalid_page_token" and answer.body["success"] is False
    garbage = bridge.post("/bars", {**body, "page_token": "bm90LWEtdG9rZW4"})  # base64url of "not-a-token"
    assert garbage.status == 400 and garbage.body["code"] == "invalid_page_token", garbage.body
