"""Clients that keep a connection open between polls reuse it: gunicorn keeps an idle connection GUNICORN_KEEPALIVE
(75 s) seconds, longer than clients wait before reusing one (undici 4 s; gunicorn's own default was 2 s, so Node saw
"other side closed"). Through nginx: tests/deploy/test_nginx.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.e2e.raw_http import RawConnection, request

NODE = shutil.which("node")
CLIENT = Path(__file__).with_name("keepalive_client.mjs")


def idle(seconds: float) -> None:
    """A client's pause between two polls: the behaviour under test, not a synchronisation."""
    threading.Event().wait(seconds)


def test_a_connection_idle_for_3_s_and_one_idle_for_10_s_are_both_reused(bridge):
    with RawConnection(bridge.port) as after_3, RawConnection(bridge.port) as after_10:
        for conn in (after_3, after_10):
            first = conn.exchange(request("GET", "/api/v1/health"))
            assert first.status == 200 and first.headers["connection"] == "keep-alive"
        ports = (after_3.local_port, after_10.local_port)
        idle(3)
        assert after_3.exchange(request("GET", "/api/v1/health")).status == 200, "served on the same connection"
        idle(7)
        assert after_10.exchange(request("GET", "/api/v1/health")).status == 200, "served on the same connection"
        assert (after_3.local_port, after_10.local_port) == ports


@pytest.mark.skipif(NODE is None, reason="node is not installed (optional: the test above is the required one)")
def test_a_node_client_polling_after_3_s_and_10_s_reuses_its_connection(bridge):
    out = subprocess.run([NODE, str(CLIENT), f"{bridge.url}/health", "3", "10"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(x["client"], x["after_idle"]) for x in lines if x["client"] == "agent"] == [
        ("agent", None), ("agent", 3), ("agent", 10)]
    assert all(x["status"] == 200 and x["error"] is None for x in lines), lines  # fetch: no UND_ERR_SOCKET
    assert [x["reused"] for x in lines if x["client"] == "agent"] == [False, True, True], lines
    assert len([x for x in lines if x["client"] == "fetch"]) == 3
