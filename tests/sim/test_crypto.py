"""BTC on PAXOS: a 24/7 calendar, IB's crypto series (AGGTRADES, MIDPOINT, BID, ASK) and fractional volumes, sent
as decimals to clients whose server version decodes them (163+) and rounded for older ones, as TWS does."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from sim import codec
from sim.history import build_history
from sim.instruments import Universe
from sim.messages import Bar, ContractSpec, HistoryQuery
from tests.conftest import ny
from tests.sim.ib_client import CLIENT_MAX_VERSION, IS_V10, stock
from tests.sim.test_codec import receive
from tests.sim.test_historical_data import request
from tests.sim.versions import SERVER_VERSIONS

ZONE = "America/New_York"
SUNDAY_NOON = ny("2025-01-26 12:00")
BTC_SPEC = ContractSpec(symbol="BTC", sec_type="CRYPTO", exchange="PAXOS", currency="USD")
BTC = Universe.load().resolve_one(BTC_SPEC)
# 163 = MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT: the first version whose clients decode sizes as Decimal
TOP = min(CLIENT_MAX_VERSION, codec.max_supported_version())
VERSIONS = sorted({v for v in (*SERVER_VERSIONS, 162, 163) if v <= TOP})


def btc():
    return stock("BTC", exchange="PAXOS", sec_type="CRYPTO")


def expected_volumes(bar_size: str, duration: str, what: str = "AGGTRADES") -> list[Decimal | int]:
    query = HistoryQuery("", bar_size, duration, True, what, 1, False)
    return [b.volume for b in build_history(BTC, query, SUNDAY_NOON).bars]


@pytest.mark.parametrize("max_version", VERSIONS)
def test_aggtrades_volumes_are_exact_decimals_from_163_and_rounded_before(sim_factory, connect, max_version):
    ib = connect(sim_factory(clock_at=SUNDAY_NOON, max_version=max_version))
    request(ib, 1, contract=btc(), end="", duration="1800 S", bar="1 min", what="AGGTRADES")
    bars, _ = ib.history(1)
    exact = expected_volumes("1 min", "1800 S")
    assert len(bars) == 30 and any(v != v.to_integral_value() for v in exact), "the sim's volumes are fractional"
    got = [b["volume"] for b in bars]
    if ib.serverVersion() >= 163:  # only the 10.x client gets here
        assert all(isinstance(v, Decimal) for v in got) and got == exact
    else:
        assert got == [int(v.to_integral_value(ROUND_HALF_UP)) for v in exact]
        assert all(v == int(v) for v in got)  # 9.81: int; 10.x below 163: a whole Decimal


@pytest.mark.parametrize("max_version", [v for v in VERSIONS if v in (157, 163, codec.max_supported_version())])
def test_keep_up_to_date_updates_carry_the_same_fractional_volumes(sim_factory, connect, max_version):
    sim = sim_factory(clock_at=SUNDAY_NOON + 20, speed=10.0, max_version=max_version)
    ib = connect(sim)
    request(ib, 1, contract=btc(), end="", duration="1800 S", bar="1 min", what="AGGTRADES", keep=True)
    ib.history(1)
    update = ib.wait_for(lambda ev: [e for e in ev if e.name == "historicalDataUpdate" and e.data["volume"] > 0])[0]
    assert update.data["date"] == f"20250126 12:00:00 {ZONE}"
    if ib.serverVersion() >= 163:
        assert isinstance(update.data["volume"], Decimal) and update.data["volume"] != int(update.data["volume"])
    else:
        assert update.data["volume"] == int(update.data["volume"])


def test_crypto_trades_every_day_around_the_clock(sim_factory, connect):
    ib = connect(sim_factory(clock_at=SUNDAY_NOON))
    request(ib, 1, contract=btc(), end="20250126 00:00:00 America/New_York", duration="1 W", bar="1 day",
            what="AGGTRADES")
    days, _ = ib.history(1)
    assert [b["date"] for b in days] == [f"202501{d}" for d in range(19, 26)]  # Sunday to Saturday, MLK day too
    request(ib, 2, contract=btc(), end="20250126 00:00:00 America/New_York", duration="1 D", bar="1 hour",
            what="MIDPOINT", rth=0)
    hours, _ = ib.history(2)
    assert len(hours) == 24 and hours[0]["date"] == f"20250125 00:00:00 {ZONE}"  # all of Saturday
    request(ib, 3, contract=btc(), end="20250126 00:00:00 America/New_York", duration="1 D", bar="1 hour",
            what="MIDPOINT", rth=1)
    rth, _ = ib.history(3)
    assert rth == hours, "no regular-hours split for crypto"


@pytest.mark.parametrize("what", ["MIDPOINT", "BID", "ASK"])
def test_quote_series_have_volume_wap_and_count_minus_one(ib, what):
    request(ib, 1, contract=btc(), end="20250127 16:00:00 America/New_York", duration="3600 S", bar="5 mins",
            what=what)
    bars, _ = ib.history(1)
    assert len(bars) == 12 and all((b["volume"], b["wap"], b["count"]) == (-1, -1.0, -1) for b in bars)
    assert all(b["low"] <= b["open"] <= b["high"] and (b["low"] * 8) % 1 == 0 for b in bars)  # 0.25 ticks (mid 1/8)


def test_trades_is_not_a_crypto_series(ib):
    request(ib, 1, contract=btc(), what="TRADES")
    err = ib.wait_error(1)
    assert err.data["code"] == 162 and "BTC/CRYPTO@PAXOS Last" in err.data["message"]


def test_crypto_is_only_on_paxos(ib):
    request(ib, 1, contract=stock("BTC", exchange="SMART", sec_type="CRYPTO"), what="AGGTRADES")
    assert ib.wait_error(1).data["code"] == 200


def test_crypto_bars_are_deterministic_and_whole_bars_match_their_parts():
    day = HistoryQuery("20250125 23:59:59 America/New_York", "1 day", "1 D", True, "AGGTRADES", 1, False)
    hours = HistoryQuery("20250126 00:00:00 America/New_York", "1 hour", "1 D", True, "AGGTRADES", 1, False)
    again = Universe.load().resolve_one(BTC_SPEC)
    assert build_history(BTC, hours, SUNDAY_NOON).bars == build_history(again, hours, SUNDAY_NOON).bars
    (daily,) = build_history(BTC, day, SUNDAY_NOON).bars
    assert daily.date == "20250125" and isinstance(daily.volume, Decimal) and daily.volume > 0
    step = Decimal("0.00000001")
    assert all(b.volume == b.volume.quantize(step) for b in build_history(BTC, hours, SUNDAY_NOON).bars)


def test_contract_details_as_tws_sends_them_for_crypto(sim, ib):
    ib.reqContractDetails(1, btc())
    ib.wait_event("contractDetailsEnd", 1)
    (d,) = [e.data for e in ib.named("contractDetails", 1)]
    assert (d["con_id"], d["symbol"], d["sec_type"], d["exchange"], d["currency"], d["local_symbol"],
            d["trading_class"], d["market_name"], d["long_name"]) == (
        479624278, "BTC", "CRYPTO", "PAXOS", "USD", "BTC.USD", "BTC", "BTC", "Bitcoin")
    assert d["min_tick"] == 0.25 and d["valid_exchanges"] == "PAXOS"
    assert d["trading_hours"].startswith("20250128:0000-20250129:0000;20250129:0000-")  # open every day, all day
    if IS_V10 and ib.serverVersion() >= 164:  # MIN_SERVER_VER_SIZE_RULES
        assert (d["min_size"], d["size_increment"], d["suggested_size_increment"]) == (
            Decimal("0.0001"), Decimal("0.00000001"), Decimal("0.0001"))


@pytest.mark.parametrize("version", [v for v in (157, 162, 163, 164, 200, 208, 226) if v <= TOP])
def test_fractional_volume_on_the_wire_per_version(version):
    bar = Bar("20250126 12:00:00 America/New_York", 1.0, 1.0, 1.0, 1.0, Decimal("2.50000000"), 1.0, 3)
    enc = codec.ReplyEncoder(version)
    calls = receive(version, enc.historical_data(1, [bar], "s", "e"), enc.historical_data_end(1, "s", "e"),
                    enc.historical_data_update(1, bar))
    volumes = [args[1].volume for name, args in calls if name in ("historicalData", "historicalDataUpdate")]
    assert volumes == ([Decimal("2.5")] * 2 if version >= 163 else [3, 3])


@pytest.mark.parametrize("version", [v for v in (157, 162, 163, 164, 200, 205, 226) if v <= TOP])
def test_crypto_contract_details_decode_at_every_layout(version):
    enc = codec.ReplyEncoder(version)
    calls = receive(version, enc.contract_data(2, BTC.details(SUNDAY_NOON)), enc.contract_data_end(2))
    assert [name for name, _ in calls] == ["contractDetails", "contractDetailsEnd"]
    d = calls[0][1][1]
    assert (d.contract.symbol, d.contract.secType, d.contract.exchange, d.minTick) == ("BTC", "CRYPTO", "PAXOS", 0.25)
    if IS_V10 and version >= 164:  # MIN_SERVER_VER_SIZE_RULES (163 sends sizeMinTick, which the client drops)
        assert (d.minSize, d.sizeIncrement, d.suggestedSizeIncrement) == (
            Decimal("0.0001"), Decimal("0.00000001"), Decimal("0.0001"))
