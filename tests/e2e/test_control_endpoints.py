"""A web page cannot take the bridge off TWS: the real gunicorn refuses what a browser can send to /connect and
/disconnect, and a request that came through a proxy, while a local client's JSON request still works."""

from __future__ import annotations

import pytest

from tests.e2e.raw_http import RawConnection, request

PAGE = "http://evil.example"


def still_connected(bridge) -> bool:
    return bridge.get("/health").body["connected"] is True


@pytest.mark.parametrize("op", ["disconnect", "connect"])
def test_a_cross_origin_simple_post_is_refused_and_changes_nothing(bridge, op):
    # a page's fetch(url, {method: "POST", mode: "no-cors", body: "x"}): text/plain with an Origin, no preflight
    answer = bridge.post(f"/{op}", raw=b"x", headers={"Content-Type": "text/plain", "Origin": PAGE})
    assert answer.status == 403 and answer.body["code"] == "forbidden"
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert still_connected(bridge)


@pytest.mark.parametrize("op", ["disconnect", "connect"])
def test_a_preflight_for_a_json_post_is_not_granted(bridge, op):
    with RawConnection(bridge.port) as conn:
        answer = conn.exchange(request("OPTIONS", f"/api/v1/{op}", {
            "Origin": PAGE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}))
    assert "access-control-allow-origin" not in answer.headers
    assert still_connected(bridge)


def test_a_post_that_is_not_json_is_415(bridge):
    answer = bridge.post("/disconnect", raw=b"", headers={"Content-Type": "text/plain"})
    assert answer.status == 415 and answer.body["code"] == "unsupported_media_type"
    assert still_connected(bridge)


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_a_request_that_came_through_a_proxy_is_refused_without_a_token(bridge, header):
    answer = bridge.post("/disconnect", {}, headers={header: "203.0.113.7"})
    assert answer.status == 403 and answer.body["code"] == "forbidden"
    assert "BRIDGE_API_TOKEN" in answer.body["error"]
    assert still_connected(bridge)


def test_with_a_token_a_proxied_request_with_the_token_is_served(make_tws, make_bridge):
    tws = make_tws(extra=("--no-pacing",)).start()
    token = "s3cret-token-0123456789"
    bridge = make_bridge(tws.port, BRIDGE_API_TOKEN=token)
    refused = bridge.post("/disconnect", {}, headers={"X-Forwarded-For": "203.0.113.7"})
    assert refused.status == 401 and refused.body["code"] == "unauthorized"
    answer = bridge.post("/disconnect", {}, headers={"X-Forwarded-For": "203.0.113.7",
                                                    "Authorization": f"Bearer {token}"})
    assert answer.status == 200 and answer.body["state"] == "stopped"
