"""Fractional sizes reach the client as TWS sent them: crypto (BTC on PAXOS, AGGTRADES) has volumes such as
0.83261547. The 10.x client decodes them as Decimal and the bridge keeps every digit (whole numbers stay integers);
9.81 cannot read fractions, so TWS sends it whole units, and the bridge passes those on. Real gunicorn, the real
worker and `python -m sim`; the expected bars are the simulator's own, computed here from the same seeded data."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import ibapi

from sim.history import build_history
from sim.instruments import Universe
from sim.messages import HistoryQuery
from tests.waiting import wait_until

TEN = not ibapi.get_version_string().startswith("9.")
BTC = {"symbol": "BTC", "sec_type": "CRYPTO", "exchange": "PAXOS", "what": "AGGTRADES"}
END = "20250126 12:00:00"  # a Sunday: crypto trades around the clock


def expected_volumes(now: float) -> list[Decimal]:
    """The volumes the simulator sends for the request below (as exact decimals)."""
    btc = next(i for i in Universe.load().instruments if i.symbol == "BTC")
    query = HistoryQuery(f"{END} US/Eastern", "1 hour", "1 D", True, "AGGTRADES", 2, False)
    return [Decimal(b.volume) for b in build_history(btc, query, now).bars]


def test_crypto_volumes_keep_the_value_tws_sent(make_tws, make_bridge):
    tws = make_tws(clock_start="2025-01-28T11:00:00-05:00", speed=1.0).start()
    bridge = make_bridge(tws.port)
    answer = bridge.bars(**BTC, period="1h", duration="1 D", end_datetime=END)
    assert answer.status == 200, answer.body
    bars = answer.body["bars"]
    sent = expected_volumes(datetime(2025, 1, 28, 11, tzinfo=ZoneInfo("America/New_York")).timestamp())
    assert len(bars) == len(sent) == 12  # "1 D": the session so far, from midnight New York
    assert any(v != v.to_integral_value() for v in sent), "the data has fractional sizes"
    volumes = [b["volume"] for b in bars]
    if TEN:  # every digit kept: the JSON number reads back as the decimal TWS sent
        assert [Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for v in volumes] == sent
        assert all(isinstance(v, int) for v, s in zip(volumes, sent, strict=True) if s == s.to_integral_value())
    else:  # whole units, as TWS sends them to a client without fractional-size support
        assert volumes == [int(v.to_integral_value(ROUND_HALF_UP)) for v in sent]
        assert all(type(v) is int for v in volumes)
    assert all(isinstance(b["wap"], float) and isinstance(b["count"], int) for b in bars)


def test_a_live_crypto_series_keeps_fractional_sizes_in_its_updates(make_tws, make_bridge):
    tws = make_tws(clock_start="2025-01-26T12:00:00-05:00", speed=10.0).start()
    bridge = make_bridge(tws.port)
    first = bridge.bars(**BTC, period="1m", duration="1800 S", include_forming=True)
    assert first.status == 200, first.body
    forming = first.body["bars"][-1]
    later = wait_until(lambda: (b := bridge.bars(**BTC, period="1m", duration="1800 S",
                                                 include_forming=True).body["bars"][-1]) != forming and b,
                       timeout=20, interval=0.2, what="an update of the forming bar")
    volumes = [b["volume"] for b in first.body["bars"]] + [later["volume"]]
    if TEN:
        assert any(isinstance(v, float) and v != int(v) for v in volumes)
        assert all(Decimal(repr(v)).as_tuple().exponent >= -8 for v in volumes if isinstance(v, float))
    else:
        assert all(type(v) is int for v in volumes)
