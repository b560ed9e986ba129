"""The live-bar stream through the shipped nginx configuration (Debian's nginx, a real bridge, `python -m sim`):
every event arrives as through the direct path, within 100 ms of it: nginx buffers nothing of a stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stream_clients import StreamConnection, StreamReaders
from tests.waiting import wait_until

SERIES = {"symbol": "AAPL", "period": "1m"}
EVENTS = 40  # at 10x with an update every 0.2 s: 8 s of a stream, across a bar boundary
MAX_DELAY_S = 0.1


@pytest.fixture
def readers() -> Iterator[StreamReaders]:
    r = StreamReaders()
    yield r
    r.close()


def keyed(stream: StreamConnection) -> dict[tuple[str, str], float]:
    """When each event arrived, by what it says (an update's values are new each time)."""
    return {(r.event.kind, repr(r.event.data)): r.at for r in list(stream.received)}


# what an operator's http block may hold (Debian's nginx.conf says `gzip on;`): a compressed stream would be held
# back until the compressor's buffer fills, so the stream's location turns gzip off
GZIP_EVERYTHING = "gzip on; gzip_types *; gzip_min_length 1;"


def test_a_stream_through_nginx_gets_every_event_within_100_ms_of_the_direct_path(make_nginx, bridge,
                                                                                  readers) -> None:
    nginx = make_nginx(bridge.port, http_extra=GZIP_EVERYTHING)
    direct = readers.open_bars(bridge.port, **SERIES)
    proxied = readers.open_bars(nginx.port, {"Accept-Encoding": "gzip, deflate, br"}, **SERIES)  # as Node's fetch
    wait_until(lambda: len(direct.received) >= EVENTS and len(proxied.received) >= EVENTS, timeout=30,
               what=f"{EVENTS} events on both streams")
    assert proxied.status == 200 and proxied.response_headers["content-type"].startswith("text/event-stream")
    assert proxied.response_headers["cache-control"] == "no-cache"
    assert "content-encoding" not in proxied.response_headers
    wait_until(lambda: len(keyed(direct).keys() & keyed(proxied).keys()) >= EVENTS - 5, what="the same events")
    on_direct, on_nginx = keyed(direct), keyed(proxied)
    both = [key for key in on_direct if key in on_nginx and key[0] != "status"]
    assert any(kind == "update" for kind, _ in both)
    delays = sorted(on_nginx[key] - on_direct[key] for key in both)
    assert delays[-1] <= MAX_DELAY_S, f"slowest event through nginx: {delays[-1] * 1000:.0f} ms after the direct path"


def test_a_stream_request_nginx_passes_is_validated_by_the_bridge(nginx, readers) -> None:
    stream = readers.open_bars(nginx.port, symbol="AAPL", period="7m")
    wait_until(lambda: stream.status is not None, what="an answer")
    assert stream.status == 400 and stream.response_headers["content-type"] == "application/json"
