"""Protobuf framing (server version >= 201, 10.x client only): which message goes protobuf from which version, and
garbage protobuf is a MalformedMessage. Skipped where the protobuf modules of the 10.x client are absent (9.81)."""

from __future__ import annotations

import struct

import pytest

pytest.importorskip("ibapi.protobuf.HistoricalDataRequest_pb2")

from ibapi import common
from ibapi.message import OUT

from sim import codec
from sim.account_codec import END_MARKERS, REPLY_IDS
from sim.messages import Bar, ContractDetailsInfo, MalformedMessage, SymbolDescription, UnknownMessage

pytestmark = pytest.mark.skipif(not codec.PROTOBUF_AVAILABLE, reason="protobuf codec unavailable")

INFO = ContractDetailsInfo(con_id=1, symbol="A", sec_type="STK", exchange="SMART", primary_exchange="NYSE",
                           currency="USD", local_symbol="A", trading_class="A", market_name="A", long_name="A",
                           min_tick=0.01, time_zone_id="US/Eastern")
SAMPLE = SymbolDescription(265598, "AAPL", "STK", "NASDAQ", "USD", ("OPT", "WAR"), "APPLE INC")
BAR = Bar("20250127", 1.0, 2.0, 0.5, 1.5, 10, 1.2, 3)


def _wire_id(frame: bytes) -> int:
    (size,) = struct.unpack("!I", frame[:4])
    assert size == len(frame) - 4
    return int.from_bytes(frame[4:8], "big")


def _frames(enc: codec.ReplyEncoder) -> dict[str, bytes]:
    return {
        "error": enc.error(1, 200, "x", 0),
        "contract_data": enc.contract_data(1, INFO),
        "contract_data_end": enc.contract_data_end(1),
        "managed_accounts": enc.managed_accounts("DU1"),
        "historical_data": enc.historical_data(1, [BAR], "s", "e"),
        "historical_data_end": enc.historical_data_end(1, "s", "e"),
        "historical_data_update": enc.historical_data_update(1, BAR),
        "head_timestamp": enc.head_timestamp(1, "20040123-14:30:00"),
        "next_valid_id": enc.next_valid_id(1),
        "current_time": enc.current_time(1),
        "symbol_samples": enc.symbol_samples(1, [SAMPLE]),
        **{name: enc.end_marker(name, {"reqId": 1, "accountName": "DU1", None: None}[field])
           for name, (_, field) in END_MARKERS.items()},
    }


TEXT_IDS = {"error": 4, "contract_data": 10, "contract_data_end": 52, "managed_accounts": 15, "historical_data": 17,
            "historical_data_end": 108, "historical_data_update": 90, "head_timestamp": 88, "next_valid_id": 9,
            "current_time": 49, "symbol_samples": 79, **REPLY_IDS}


@pytest.mark.parametrize("version", range(201, codec.max_supported_version() + 1))
def test_each_reply_goes_protobuf_from_its_group_version_and_raw_ids_otherwise(version: int) -> None:
    assert set(codec.REPLY_PROTOBUF_FROM) == set(TEXT_IDS)
    for name, frame in _frames(codec.ReplyEncoder(version)).items():
        protobuf = version >= codec.REPLY_PROTOBUF_FROM[name]
        assert _wire_id(frame) == TEXT_IDS[name] + (200 if protobuf else 0), name


def test_request_thresholds_are_the_clients() -> None:
    ids = {"reqContractDetails": OUT.REQ_CONTRACT_DATA, "reqMarketDataType": OUT.REQ_MARKET_DATA_TYPE,
           "reqHistoricalData": OUT.REQ_HISTORICAL_DATA, "cancelHistoricalData": OUT.CANCEL_HISTORICAL_DATA,
           "reqHeadTimeStamp": OUT.REQ_HEAD_TIMESTAMP, "cancelHeadTimeStamp": OUT.CANCEL_HEAD_TIMESTAMP,
           "startApi": OUT.START_API, "reqIds": OUT.REQ_IDS, "reqCurrentTime": OUT.REQ_CURRENT_TIME,
           "reqExecutions": OUT.REQ_EXECUTIONS, "reqOpenOrders": OUT.REQ_OPEN_ORDERS,
           "reqAllOpenOrders": OUT.REQ_ALL_OPEN_ORDERS, "reqAutoOpenOrders": OUT.REQ_AUTO_OPEN_ORDERS,
           "reqCompletedOrders": OUT.REQ_COMPLETED_ORDERS, "reqAccountUpdates": OUT.REQ_ACCT_DATA,
           "reqManagedAccts": OUT.REQ_MANAGED_ACCTS, "reqPositions": OUT.REQ_POSITIONS,
           "cancelPositions": OUT.CANCEL_POSITIONS, "reqAccountSummary": OUT.REQ_ACCOUNT_SUMMARY,
           "cancelAccountSummary": OUT.CANCEL_ACCOUNT_SUMMARY, "reqPositionsMulti": OUT.REQ_POSITIONS_MULTI,
           "cancelPositionsMulti": OUT.CANCEL_POSITIONS_MULTI, "reqAccountUpdatesMulti": OUT.REQ_ACCOUNT_UPDATES_MULTI,
           "cancelAccountUpdatesMulti": OUT.CANCEL_ACCOUNT_UPDATES_MULTI,
           "reqMatchingSymbols": OUT.REQ_MATCHING_SYMBOLS}
    assert set(ids) == set(codec.REQUEST_PROTOBUF_FROM)
    for name, msg_id in ids.items():
        assert common.getServerVersionForMessage(msg_id) == codec.REQUEST_PROTOBUF_FROM[name], name


def test_the_handshake_stays_text_at_protobuf_versions() -> None:
    assert codec.handshake_reply(226, 1737993600.0)[4:] == b"226\x0020250127 11:00:00 EST\x00"


@pytest.mark.parametrize("body", [
    b"\xff\xff\xff\xff\xff",  # a field tag that never ends
    b"\x12\x40AAPL",  # a length-delimited field (contract) longer than the message
    b"\x0a",  # a tag without its value
])
@pytest.mark.parametrize("msg_id", [9, 20, 25, 87, 90, 71, 7, 6, 15, 62, 76, 81])
def test_undecodable_protobuf_is_malformed(msg_id: int, body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        codec.decode_request(struct.pack("!I", msg_id + 200) + body, 226)


@pytest.mark.parametrize("msg_id", [9, 20, 25, 87, 90, 71, 7, 62, 63, 74, 75, 76, 77])
def test_protobuf_requests_without_their_id_are_malformed(msg_id: int) -> None:
    with pytest.raises(MalformedMessage):
        codec.decode_request(struct.pack("!I", msg_id + 200), 226)


def test_frames_too_short_for_a_raw_id_are_malformed() -> None:
    for payload in (b"", b"\x00", b"\x00\x00\x00"):
        with pytest.raises(MalformedMessage):
            codec.decode_request(payload, 201)


def test_text_and_protobuf_messages_not_served_are_unknown() -> None:
    assert codec.decode_request(struct.pack("!I", 1) + b"11\x001\x00", 201) == UnknownMessage(1, ("11", "1"))
    assert codec.decode_request(struct.pack("!I", 203) + b"\x08\x01", 226) == UnknownMessage(203)
