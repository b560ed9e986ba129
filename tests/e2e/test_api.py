"""The HTTP API end to end: real gunicorn (2 HTTP workers), the real TWS worker, the simulator as its own process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest


def test_health_reports_the_bridge_and_its_tws_connection(bridge, tws):
    answer = bridge.get("/health")
    assert answer.status == 200
    body = answer.body
    assert body["status"] == "ok" and body["connected"] is True
    assert body["tws_host"] == "127.0.0.1" and body["tws_port"] == tws.port
    assert body["uptime_seconds"] >= 0 and body["version"]
    worker = body["worker"]
    assert worker["client_id"] == 100 and worker["server_version"] > 0 and worker["state"] == "connected"
    assert worker["farms"]["historical_data"] == "ok"
    assert {"last_error", "reconnect_attempts", "worker_pid", "worker_uptime_seconds"} <= set(worker)


def test_bars_for_a_past_session(bridge):
    answer = bridge.bars(symbol="AAPL", end_datetime="20250127 16:00:00")
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["success"] is True and body["error"] is None
    assert body["symbol"] == "AAPL" and body["period"] == "5m"
    assert body["count"] == len(body["bars"]) == 78
    first = body["bars"][0]
    assert list(first) == ["date", "time", "datetime", "open", "high", "low", "close", "volume", "wap", "count"]
    assert first["date"] == "20250127 09:30:00" and first["time"] == 1737988200
    assert first["datetime"] == "2025-01-27T09:30:00-05:00"  # ISO 8601 with the exchange's offset
    assert all(datetime.fromisoformat(b["datetime"]).timestamp() == b["time"] for b in body["bars"])
    assert first["low"] <= first["open"] <= first["high"]


def test_an_iso_end_with_an_offset_is_the_same_instant(bridge):
    local = bridge.bars(symbol="MSFT", end_datetime="20250127 16:00:00").body
    iso = bridge.bars(symbol="MSFT", end_datetime="2025-01-27T21:00:00+00:00").body
    assert iso["bars"] == local["bars"] and iso["count"] == 78


@pytest.mark.parametrize("period, duration, count", [("1h", "1 D", 7), ("15m", "1 D", 26), ("30m", "1 D", 13),
                                                     ("1m", "1 D", 390), ("1d", "1 W", 5)])
def test_each_period(bridge, period, duration, count):
    answer = bridge.bars(symbol="SPY", period=period, duration=duration, end_datetime="20250127 16:00:00")
    assert answer.status == 200 and answer.body["count"] == count


def test_daily_bars_carry_their_date_as_datetime(bridge):
    bars = bridge.bars(symbol="SPY", period="1d", duration="1 W", end_datetime="20250127 16:00:00").body["bars"]
    assert [b["datetime"] for b in bars] == [f"{b['date'][:4]}-{b['date'][4:6]}-{b['date'][6:]}" for b in bars]
    assert bars[-1]["datetime"] == "2025-01-27"


def test_what_and_session(bridge):
    mid = bridge.bars(symbol="QQQ", what="MIDPOINT", end_datetime="20250127 16:00:00").body
    assert mid["count"] == 78 and all(b["volume"] == -1 for b in mid["bars"])
    allday = bridge.bars(symbol="QQQ", session="all", end_datetime="20250127 20:00:00").body
    assert allday["count"] == 192


def test_the_forming_bar_is_dropped_unless_asked_for(bridge):
    closed = bridge.bars(symbol="AMZN").body
    forming = bridge.bars(symbol="AMZN", include_forming=True).body
    assert forming["count"] == closed["count"] + 1
    assert forming["bars"][:-1][-3:] == closed["bars"][-3:]


def test_the_forming_bar_changes_between_two_calls(bridge):
    from tests.waiting import wait_until

    first = bridge.bars(symbol="NVDA", include_forming=True).body["bars"][-1]

    def changed():
        last = bridge.bars(symbol="NVDA", include_forming=True).body["bars"][-1]
        return last != first and last

    later = wait_until(changed, timeout=20, interval=0.2, what="forming bar changed")
    assert later["time"] >= first["time"]


def test_an_unknown_symbol_is_404(bridge):
    answer = bridge.bars(symbol="NOSUCHSYM")
    assert answer.status == 404
    assert answer.body["success"] is False and answer.body["code"] == "symbol_not_found"
    assert answer.body["tws_code"] == 200 and answer.body["bars"] == []


def test_a_range_with_no_data_is_200_with_zero_bars_and_the_notice(bridge):
    answer = bridge.bars(symbol="AAPL", duration="3600 S", end_datetime="20250120 12:00:00")
    assert answer.status == 200 and answer.body["count"] == 0
    assert answer.body["notice"]["tws_code"] == 162


def test_other_tws_errors_are_502_with_the_tws_message(bridge):
    answer = bridge.bars(symbol="NFLX")
    assert answer.status == 502
    assert answer.body["tws_code"] == 354 and "not subscribed" in answer.body["error"]


@pytest.mark.parametrize("body, field", [
    ({"period": "5m", "duration": "1 D"}, "symbol"),
    ({"symbol": "AAPL", "period": "7m", "duration": "1 D"}, "period"),
    ({"symbol": "AAPL", "period": "5m", "duration": "1 day"}, "duration"),
    ({"symbol": "AAPL", "period": "5m", "duration": "1 D", "what": "VOLUME"}, "what"),
    ({"symbol": "AAPL", "period": "5m", "duration": "1 D", "session": "night"}, "session"),
    ({"symbol": "AAPL", "period": "5m", "duration": "1 D", "end_datetime": "yesterday"}, "end_datetime"),
    ({"symbol": "AAPL", "period": "5m", "duration": "1 D", "colour": "red"}, "colour"),
])
def test_invalid_input_is_400_with_per_field_messages(bridge, body, field):
    answer = bridge.post("/bars", body)
    assert answer.status == 400
    assert answer.body["code"] == "invalid_request" and field in answer.body["fields"]


def test_malformed_json_is_refused_as_json(bridge):
    answer = bridge.post("/bars", raw=b"{not json")
    assert answer.status == 400 and answer.body["success"] is False and answer.body["code"] == "invalid_request"


def test_a_body_that_is_not_json_is_415(bridge):
    answer = bridge.post("/bars", raw=b"symbol=AAPL", headers={"Content-Type": "text/plain"})
    assert answer.status == 415 and answer.body["code"] == "unsupported_media_type"


def test_the_currency_picks_between_listings_of_one_symbol(bridge):
    # SHOP is listed in USD and CAD; the API's currency (USD by default) picks one, so the answer is never ambiguous
    usd = bridge.bars(symbol="SHOP", end_datetime="20250127 16:00:00")
    cad = bridge.bars(symbol="SHOP", currency="CAD", end_datetime="20250127 16:00:00")
    assert usd.status == cad.status == 200
    assert usd.body["bars"] != cad.body["bars"]


def test_other_instruments_through_sec_type_exchange_and_currency(bridge):
    answer = bridge.bars(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD", what="MIDPOINT",
                         period="1h", session="all", end_datetime="20250127 16:00:00")
    assert answer.status == 200 and answer.body["count"] > 0
    assert all(b["volume"] == -1 for b in answer.body["bars"])


@pytest.mark.parametrize("what", ["BID", "ASK"])
def test_bid_and_ask_bars(bridge, what):
    answer = bridge.bars(symbol="XOM", what=what, end_datetime="20250127 16:00:00")
    assert answer.status == 200 and answer.body["count"] == 78
    assert all(b["volume"] == -1 for b in answer.body["bars"])


@pytest.mark.parametrize("day, symbol", [(21, "AA\x00PL"), (22, "AAPL,MSFT"), (23, "AA\nPL"), (24, "AAPL\x1b")])
def test_symbols_with_nul_comma_or_control_characters_never_reach_tws(bridge, tws, day, symbol):
    def upstream() -> list[dict]:
        return tws.received("RequestContractDetails") + tws.received("RequestHistoricalData")

    before = len(upstream())
    answer = bridge.bars(symbol=symbol)
    assert answer.status == 400 and "symbol" in answer.body["fields"]
    # a request that does go out (a new one each time: nothing cached answers it)
    assert bridge.bars(symbol="AMD", end_datetime=f"202501{day} 16:00:00").status == 200
    after = upstream()
    assert not any(r["fields"]["contract"]["symbol"] == symbol for r in after)
    assert any(r["fields"]["contract"]["symbol"] == "AMD" for r in after[before:]), "the check saw traffic"


def test_concurrent_requests_over_several_http_workers_share_one_tws_connection(bridge, tws):
    symbols = ["AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "AMD", "INTC", "QQQ", "JPM", "XOM"]

    def call(i: int) -> tuple[int, int]:
        bars = bridge.bars(symbol=symbols[i % len(symbols)], duration=f"{1 + i // len(symbols)} D",
                           end_datetime="20250124 16:00:00")
        health = bridge.get("/health")
        return bars.status, health.body["http_worker_pid"]

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(call, range(48)))
    assert all(status == 200 for status, _ in results)
    assert len({pid for _, pid in results}) >= 2, "requests were spread over the HTTP workers"
    assert tws.control("client_ids") == [100], "one TWS connection, one client id"


def test_disconnect_keeps_tws_down_until_connect(bridge):
    answer = bridge.post("/disconnect", {})  # README's curl: -H 'Content-Type: application/json' -d '{}'
    assert answer.status == 200 and answer.body["connected"] is False
    down = bridge.bars(symbol="AAPL")  # ends now: needs TWS (a final answer kept by the HTTP worker would not)
    assert down.status == 503 and down.body["code"] == "tws_unavailable"
    health = bridge.get("/health").body
    assert health["status"] == "degraded" and health["connected"] is False
    assert bridge.post("/connect", {}).status == 200
    bridge.wait_connected()
    assert bridge.bars(symbol="AAPL").status == 200


def test_unknown_routes_and_methods_answer_json(bridge):
    assert bridge.get("/nope").body["code"] == "not_found"
    answer = bridge.get("/bars")
    assert answer.status == 405 and answer.body["code"] == "method_not_allowed"


def test_bodies_over_the_cap_are_413(bridge):
    answer = bridge.post("/bars", raw=b'{"symbol": "' + b"A" * 100_000 + b'"}')
    assert answer.status == 413 and answer.body["code"] == "payload_too_large"


def test_cors_is_on(bridge):
    answer = bridge.get("/health", headers={"Origin": "http://example.test"})
    assert answer.headers.get("Access-Control-Allow-Origin") == "*"
