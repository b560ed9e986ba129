"""Page tokens: opaque to clients, bound to the request they came from, validated like any other input."""

from __future__ import annotations

import pytest

from shared.bars import BarRequest
from shared.errors import BridgeFailure, ErrorCode
from worker.history.pages import PageToken, fingerprint

REQUEST = BarRequest(symbol="AAPL", bar_size="1 min", duration="1 M", end_datetime="20250131 16:00:00")


def test_a_token_round_trips_for_its_own_request_whatever_the_limit():
    token = PageToken(fingerprint(REQUEST), 1_738_000_000, 1_738_100_000)
    text = token.encode()
    assert text.isascii() and "=" not in text
    again = BarRequest(**{**REQUEST.to_wire(), "limit": 10, "page_token": text})
    assert PageToken.decode(text, again) == token


@pytest.mark.parametrize("text", ["", "!!!", "AAAA", "eyJ2IjoxfQ", "bm90IGpzb24"])
def test_a_token_that_does_not_decode_is_invalid_page_token(text):
    with pytest.raises(BridgeFailure) as caught:
        PageToken.decode(text, REQUEST)
    assert caught.value.error.code is ErrorCode.INVALID_PAGE_TOKEN


def test_a_token_of_another_request_is_refused():
    text = PageToken(fingerprint(REQUEST), 1, 2).encode()
    other = BarRequest(**{**REQUEST.to_wire(), "symbol": "MSFT"})
    with pytest.raises(BridgeFailure) as caught:
        PageToken.decode(text, other)
    assert caught.value.error.code is ErrorCode.INVALID_PAGE_TOKEN
    assert "another request" in caught.value.error.message
