"""TwsClient's callbacks: bar values as TWS sent them (the 10.x client's Decimal sizes and waps: whole numbers stay
integers, fractions keep their value; never a float where TWS sent an integer), values JSON cannot carry refused as
unreadable, and a report from the guarded decoder voids the bars gathered for its request."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from worker.mailbox import Mailbox
from worker.tws.client import UNSET_DECIMAL, TwsClient, bar_values, tws_number
from worker.tws.decoder import CallbackFailed, Undecodable, UnreadableValue


@pytest.mark.parametrize(("sent", "kept"), [
    (Decimal("1200"), 1200),  # a whole number: an integer
    (Decimal("0.12345678"), 0.12345678),  # crypto: 8 decimals, exactly
    (Decimal("3.5"), 3.5),  # fractional shares
    (Decimal("-1"), -1),  # MIDPOINT/BID/ASK: no volume
    (Decimal("1E+3"), 1000),
    (Decimal("12.50"), 12.5),  # sent with decimals: a float
    (UNSET_DECIMAL, -1),  # 10.x's "no value"
    (1200, 1200),  # 9.81 decodes volumes with int()
    (201.55, 201.55),  # and waps with float()
    (-1.0, -1.0),
])
def test_a_size_or_wap_is_kept_as_tws_sent_it(sent: Any, kept: int | float) -> None:
    value = tws_number(sent, "volume")
    assert value == kept and type(value) is type(kept)


def test_in_json_whole_numbers_stay_integers_and_fractions_keep_their_digits() -> None:
    values = [tws_number(v, "volume") for v in (Decimal("1200"), Decimal("0.00000001"), Decimal("123456.12345678"))]
    assert orjson.dumps(values) == b"[1200,1e-8,123456.12345678]"


@pytest.mark.parametrize("sent", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), float("nan"),
                                  float("inf"), Decimal("1E+400"), True, "12", None])
def test_a_value_json_cannot_carry_is_unreadable(sent: Any) -> None:
    with pytest.raises(UnreadableValue, match="volume"):
        tws_number(sent, "volume")


def test_bar_values_of_the_10_x_client_keep_decimal_sizes_and_waps() -> None:
    bar = SimpleNamespace(date="1737988200", open=1.5, high=2.0, low=1.0, close=1.75, volume=Decimal("0.25"),
                          wap=Decimal("1.60000000"), barCount=3)
    assert bar_values(bar) == ("1737988200", 1.5, 2.0, 1.0, 1.75, 0.25, 1.6, 3)


def test_bar_values_of_the_9_81_client_read_average_as_wap() -> None:
    bar = SimpleNamespace(date="20250127", open=1.5, high=2.0, low=1.0, close=1.75, volume=1200, average=1.6,
                          barCount=3)
    values = bar_values(bar)
    assert values == ("20250127", 1.5, 2.0, 1.0, 1.75, 1200, 1.6, 3) and type(values[5]) is int


def test_a_price_that_is_no_finite_number_is_unreadable() -> None:
    bar = SimpleNamespace(date="1737988200", open=float("nan"), high=2.0, low=1.0, close=1.75, volume=1, wap=1.0,
                          barCount=3)
    with pytest.raises(UnreadableValue, match="open"):
        bar_values(bar)


@pytest.fixture
def client() -> TwsClient:
    return TwsClient(Mailbox(), generation=3)


def drain(client: TwsClient) -> list[tuple[Any, ...]]:
    return client._mailbox.drain()


def test_a_report_from_the_decoder_voids_the_requests_bars_and_reaches_the_owner(client: TwsClient) -> None:
    bar = SimpleNamespace(date="1737988200", open=1.5, high=2.0, low=1.0, close=1.75, volume=1, wap=1.0, barCount=3)
    client.historicalData(7, bar)
    client.historicalData(8, bar)
    report = Undecodable(17, 7, "ValueError: x", "7,...")
    client._undecodable(report)
    client.historicalDataEnd(7, "", "")
    client.historicalDataEnd(8, "", "")
    events = drain(client)
    assert events[0] == ("undecodable", 3, report)
    assert events[1][:3] == ("bars_end", 3, 7) and events[1][5] == []
    assert events[2][:3] == ("bars_end", 3, 8) and len(events[2][5]) == 1


def test_an_unreadable_bar_is_a_value_error_about_tws(client: TwsClient) -> None:
    bar = SimpleNamespace(date="1737988200", open=1.5, high=2.0, low=1.0, close=1.75, volume=Decimal("NaN"),
                          wap=Decimal("1"), barCount=3)
    with pytest.raises(UnreadableValue):
        client.historicalData(7, bar)


def test_a_failing_callback_is_marked_as_ours(client: TwsClient) -> None:
    with pytest.raises(CallbackFailed, match="historicalData"):
        client.historicalData(7, object())  # no bar attributes: our bug, not TWS's data
