"""A message the official client cannot decode fails the one subscription or request it belongs to (502
tws_undecodable) and the connection stays: no reconnect, other subscriptions and plain requests go on. Real gunicorn,
the real worker and `python -m sim` with its malformed-volume fault, in each client's venv."""

from __future__ import annotations

import ibapi

from tests.waiting import wait_until

# What each client fails to read as a bar's volume: 9.81 reads sizes with int(), so a fractional size (what a TWS
# with fractional-size support sends); 10.x reads them with Decimal(), so a decimal comma.
UNREADABLE_VOLUME = "0.5" if ibapi.get_version_string().startswith("9.") else "1,5"
PAST = "20250127 16:00:00"


def history_requests(tws, symbol: str) -> list[dict]:
    return [r for r in tws.received("RequestHistoricalData") if r["fields"]["contract"]["symbol"] == symbol]


def connection(bridge) -> tuple:
    worker = bridge.get("/health").body["worker"]
    return worker["state"], worker["connected_since"], worker["reconnects"], worker["reconnect_attempts"]


def test_an_undecodable_history_fails_its_subscription_and_keeps_the_connection(make_tws, make_bridge):
    tws = make_tws(clock_start="2025-01-28T11:00:00-05:00", speed=5.0).start()
    bridge = make_bridge(tws.port)
    healthy = bridge.bars(symbol="KO", include_forming=True)
    assert healthy.status == 200
    before = connection(bridge)
    tws.control("malformed_volume", symbol="AMD", text=UNREADABLE_VOLUME)

    failed = bridge.bars(symbol="AMD", include_forming=True)
    assert failed.status == 502 and failed.body["code"] == "tws_undecodable", failed.body
    assert "cannot read" in failed.body["error"] and UNREADABLE_VOLUME in failed.body["error"]
    again = bridge.bars(symbol="AMD", include_forming=True)  # remembered: the doomed request is not sent again
    assert again.status == 502 and again.body["code"] == "tws_undecodable"
    assert len(history_requests(tws, "AMD")) == 1
    assert wait_until(lambda: tws.received("CancelHistoricalData"), what="the stream cancelled at TWS")

    assert connection(bridge) == before, "the same connection: no reconnect"
    assert bridge.bars(symbol="AAPL", end_datetime=PAST).status == 200  # plain requests go on
    assert bridge.bars(symbol="MSFT", include_forming=True).status == 200  # new subscriptions too
    first = healthy.body["bars"][-1]
    wait_until(lambda: bridge.bars(symbol="KO", include_forming=True).body["bars"][-1] != first, timeout=20,
               interval=0.2, what="the other subscription still streams")
    health = bridge.get("/health").body["worker"]
    assert health["undecodable_messages"]["failed_requests"] == 1
    assert connection(bridge) == before


def test_an_undecodable_update_fails_a_live_subscription_and_keeps_the_connection(make_tws, make_bridge):
    tws = make_tws(clock_start="2025-01-28T11:00:00-05:00", speed=5.0).start()
    bridge = make_bridge(tws.port)
    assert bridge.bars(symbol="JPM", include_forming=True).status == 200
    assert bridge.bars(symbol="KO", include_forming=True).status == 200
    before = connection(bridge)
    tws.control("malformed_volume", symbol="JPM", text=UNREADABLE_VOLUME)  # the next update cannot be decoded
    failed = wait_until(lambda: (a := bridge.bars(symbol="JPM", include_forming=True)).status != 200 and a,
                        timeout=20, interval=0.1, what="the subscription failed")
    assert failed.status == 502 and failed.body["code"] == "tws_undecodable", failed.body
    assert bridge.bars(symbol="KO", include_forming=True).status == 200
    assert bridge.bars(symbol="AAPL", end_datetime=PAST).status == 200
    assert connection(bridge) == before
