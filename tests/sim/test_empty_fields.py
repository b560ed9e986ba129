"""Empty numeric fields read as 0, as TWS's Java decoder reads them (readInt / readDouble / readBoolFromInt), while
text TWS could not parse either is still refused. Other client libraries leave conId, strike, includeExpired, useRTH
and the like empty when they are unset."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from ib_async import Contract, StartupFetchNONE

from sim import codec
from sim.messages import (
    CancelHeadTimestamp,
    CancelHistoricalData,
    ContractSpec,
    MalformedMessage,
    RequestContractDetails,
    RequestCurrentTime,
    RequestHeadTimestamp,
    RequestHistoricalData,
    RequestIds,
    RequestMarketDataType,
    StartApi,
    UnknownMessage,
)
from tests.conftest import ny
from tests.sim.ib_async_client import ib_async_connected
from tests.sim.raw_client import RawClient

END = "20250127 16:00:00 America/New_York"
AAPL = ContractSpec(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD")


def contract(con_id: str = "", strike: str = "", include_expired: str = "", symbol: str = "AAPL") -> list[str]:
    """conId .. includeExpired as reqContractDetails, reqHistoricalData and reqHeadTimeStamp send them."""
    return [con_id, symbol, "STK", "", strike, "", "", "SMART", "", "USD", "", "", include_expired]


def payload(version: int, msg_id: int, *fields: object) -> bytes:
    body = "".join(f"{f}\0" for f in fields).encode()
    if version >= 201:  # raw 4-byte id, text body: what the 10.x client sends for messages not yet in protobuf
        return struct.pack("!I", msg_id) + body
    return f"{msg_id}\0".encode() + body


def details(version: int, *contract_fields: str, sec_id_type: str = "", req_id: object = 11) -> list[object]:
    fields: list[object] = [8, req_id, *contract_fields, sec_id_type, ""]
    return fields + ([""] if version >= 176 else [])  # issuerId from 176


def history(*contract_fields: str, use_rth: str = "", keep: str = "", fmt: object = 1) -> list[object]:
    return [21, *contract_fields, END, "5 mins", "1 D", use_rth, "TRADES", fmt, keep, ""]


LAYOUT_VERSIONS = [157, 178, 200, 201]  # 9.81's and ib_async's maximum, the last text-only, raw ids


@pytest.mark.parametrize("version", LAYOUT_VERSIONS)
def test_every_empty_numeric_field_reads_as_zero_in_every_request_kind(version):
    decode = codec.decode_request
    assert decode(payload(version, 71, "", "", ""), version) == StartApi(client_id=0)
    assert decode(payload(version, 8, "", ""), version) == RequestIds(num_ids=0)
    assert decode(payload(version, 49, ""), version) == RequestCurrentTime()
    assert decode(payload(version, 59, "", ""), version) == RequestMarketDataType(market_data_type=0)
    assert decode(payload(version, 9, *details(version, *contract())), version) == RequestContractDetails(11, AAPL)
    got = decode(payload(version, 20, *history(*contract())), version)
    assert isinstance(got, RequestHistoricalData) and got.contract == AAPL
    assert (got.query.use_rth, got.query.keep_up_to_date) == (False, False)
    assert decode(payload(version, 25, "", ""), version) == CancelHistoricalData(req_id=0)
    got = decode(payload(version, 87, 31, *contract(), "", "TRADES", ""), version)
    assert got == RequestHeadTimestamp(31, AAPL, use_rth=False, what_to_show="TRADES", format_date=0)
    assert decode(payload(version, 90, ""), version) == CancelHeadTimestamp(req_id=0)


def test_empty_combo_leg_numbers_read_as_zero():
    bag = [*contract()[:2], "BAG", *contract()[3:]]
    fields = [21, *bag, END, "5 mins", "1 D", 1, "TRADES", 1, 1, "", "", "BUY", "SMART", 0, ""]
    got = codec.decode_request(payload(157, 20, *fields), 157)
    assert isinstance(got, RequestHistoricalData) and (got.contract.combo_legs[0].con_id,
                                                      got.contract.combo_legs[0].ratio) == (0, 0)


def test_an_empty_message_id_is_message_0_which_is_not_served():
    assert codec.decode_request(b"\x001\x00", 157) == UnknownMessage(0, ("1",))


@pytest.mark.parametrize("bad", ["abc", "1.5", "1_000", " 7", "0x10", "2147483648", "-2147483649", "None"])
def test_text_tws_cannot_read_as_an_integer_is_still_malformed(bad):
    for fields in (details(157, *contract(con_id=bad)), details(157, *contract(include_expired=bad)),
                   details(157, *contract(), req_id=bad)):
        with pytest.raises(MalformedMessage):
            codec.decode_request(payload(157, 9, *fields), 157)


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", "Infinite", "1_0.5", "1.5.5", "--1"])
def test_text_tws_cannot_read_as_a_number_is_still_malformed(bad):
    with pytest.raises(MalformedMessage):
        codec.decode_request(payload(157, 9, *details(157, *contract(strike=bad))), 157)


@pytest.mark.parametrize("good, value", [("185.5", 185.5), ("+1", 1.0), (".5", 0.5), ("1e2", 100.0),
                                         (" 2.5 ", 2.5), ("-0.0", 0.0)])
def test_numbers_read_as_javas_parse_double_reads_them(good, value):
    got = codec.decode_request(payload(157, 9, *details(157, *contract(strike=good))), 157)
    assert isinstance(got, RequestContractDetails) and got.contract.strike == value


@pytest.mark.parametrize("version_range", ["v100..157", "v157..178"])
def test_requests_with_empty_con_id_strike_and_include_expired_are_served(sim, version_range):
    raw = RawClient(sim.port, version_range)
    raw.start_api()
    raw.send(9, *details(raw.server_version, *contract()))
    raw.send(20, *history(*contract(), use_rth="1", keep=""))
    raw.send(87, 31, *contract(), "", "TRADES", 1)
    frames = raw.wait_for(lambda _: raw.of(52) and raw.of(17) and raw.of(88))
    (data,) = raw.of(10)
    assert "AAPL" in data and "265598" in data  # contractData for AAPL, conId 265598
    assert raw.of(17)[0][4] == "78"  # historicalData below 196: [17, reqId, start, end, count, ...]: 78 bars
    assert not [f for f in frames if f[:1] == ["4"] and f[3] not in ("2104", "2106", "2158")]
    raw.close()


def test_ib_async_leaves_include_expired_and_use_rth_empty_and_is_answered(sim_factory):
    sim = sim_factory(clock_at=ny("2025-01-28 11:00"))
    aapl = Contract(symbol="AAPL", secType="STK", exchange="SMART", currency="USD", includeExpired=None)
    with ib_async_connected(sim.port, readonly=True, fetchFields=StartupFetchNONE) as ib:
        (found,) = ib.reqContractDetails(aapl)
        assert found.contract.conId == 265598
        bars = ib.reqHistoricalData(aapl, END, "1 D", "5 mins", "TRADES", useRTH=None, formatDate=2)
        assert len(bars) == 144  # useRTH empty = 0: extended hours, 04:00 to the 16:00 end
        head = ib.reqHeadTimeStamp(aapl, "TRADES", useRTH=None, formatDate=1)
        assert head.astimezone(UTC) == datetime(1980, 12, 12, 9, 0, tzinfo=UTC)
    sent = sim.request_log.received("RequestHistoricalData")
    assert sent and sent[0].fields["contract"]["include_expired"] is False
