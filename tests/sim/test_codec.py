"""The simulator's codecs, judged by the official client itself at every version that changes a layout.

Replies: the encoder's frames go through the installed client's own reader path (comm.read_msg, then EClient.run with
its Decoder) and the EWrapper callbacks must carry the values we encoded. Requests: the installed EClient writes into a
fake connection, and decode_request must give back what the caller asked for. Runs under both clients (9.81: text up
to 157; 10.x: text, raw ids from 201, protobuf per message group).
"""

from __future__ import annotations

import random
import struct
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from ibapi import comm
from ibapi.client import EClient
from ibapi.contract import ComboLeg, Contract
from ibapi.decoder import Decoder
from ibapi.tag_value import TagValue
from ibapi.wrapper import EWrapper

from sim import codec
from sim.messages import (
    Bar,
    CancelHeadTimestamp,
    CancelHistoricalData,
    ComboLegSpec,
    ContractDetailsInfo,
    ContractSpec,
    HistoryQuery,
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
from sim.text_codec import fmt_float, fmt_volume
from tests.sim.ib_client import CLIENT_MAX_VERSION, IS_V10

# Every version at which a layout we read or write changes (see sim/text_codec.py and codec.REPLY_PROTOBUF_FROM).
_INTERESTING = (100, 118, 123, 124, 152, 153, 157, 163, 164, 165, 166, 176, 179, 182, 186, 193, 194, 195, 196, 200,
                201, 204, 205, 206, 207, 208, 212, 213, 226)
VERSIONS = [v for v in _INTERESTING if v <= min(CLIENT_MAX_VERSION, codec.max_supported_version())]


# ---- the official client as receiver ---------------------------------------------------------------------------


class Receiver(EWrapper, EClient):
    """An unconnected official client whose run() loop drains frames we queue, recording the callbacks."""

    def __init__(self, version: int) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.serverVersion_ = version
        self.decoder = Decoder(self, version)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def error(self, reqId: int, *args: Any) -> None:  # noqa: N803 - ibapi's names
        # 9.81: (errorCode, errorString); 10.x: (errorTime, errorCode, errorString, advancedOrderRejectJson)
        self.calls.append(("error", (reqId, *args)))

    def managedAccounts(self, accountsList: str) -> None:  # noqa: N802, N803
        self.calls.append(("managedAccounts", (accountsList,)))

    def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803
        self.calls.append(("nextValidId", (orderId,)))

    def currentTime(self, time: int) -> None:  # noqa: N802
        self.calls.append(("currentTime", (time,)))

    def contractDetails(self, reqId: int, contractDetails: Any) -> None:  # noqa: N802, N803
        self.calls.append(("contractDetails", (reqId, contractDetails)))

    def contractDetailsEnd(self, reqId: int) -> None:  # noqa: N802, N803
        self.calls.append(("contractDetailsEnd", (reqId,)))

    def historicalData(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self.calls.append(("historicalData", (reqId, _bar(bar))))

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:  # noqa: N802, N803
        self.calls.append(("historicalDataEnd", (reqId, start, end)))

    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self.calls.append(("historicalDataUpdate", (reqId, _bar(bar))))

    def headTimestamp(self, reqId: int, headTimestamp: str) -> None:  # noqa: N802, N803
        self.calls.append(("headTimestamp", (reqId, headTimestamp)))


def _bar(bar: Any) -> Bar:
    """The client's BarData back as our Bar: 9.81 has `average` and int volume, 10.x `wap` and Decimal volume."""
    wap = bar.wap if hasattr(bar, "wap") else bar.average
    assert isinstance(bar.volume, Decimal if IS_V10 else int)
    return Bar(bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume, float(wap), bar.barCount)


def receive(version: int, *frames: bytes) -> list[tuple[str, tuple[Any, ...]]]:
    """Frames -> callbacks, through the client's reader framing (comm.read_msg) and its own EClient.run loop."""
    client = Receiver(version)
    for frame in frames:
        if not frame:
            continue
        size, payload, rest = comm.read_msg(frame)
        assert rest == b"" and size == len(payload), "one complete frame each"
        client.msg_queue.put(payload)
    client.run()  # not connected: drains the queue, then returns
    return client.calls


# ---- the official client as sender -----------------------------------------------------------------------------


class _Capture:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendMsg(self, msg: bytes) -> None:  # noqa: N802
        self.sent.append(msg)

    def isConnected(self) -> bool:  # noqa: N802
        return True

    def disconnect(self) -> None:
        pass


class _NoErrors(EWrapper):
    def error(self, *args: Any) -> None:
        raise AssertionError(f"client refused the request: {args}")


def sender(version: int) -> tuple[EClient, _Capture]:
    client = EClient(wrapper=_NoErrors())
    capture = _Capture()
    client.conn = capture
    client.serverVersion_ = version
    client.clientId = 7
    client.optCapab = ""
    client.setConnState(EClient.CONNECTED)
    return client, capture


def sent_request(version: int, call: str, *args: Any) -> Any:
    """Make the official client send one request at `version` and decode it with the simulator's codec."""
    client, capture = sender(version)
    getattr(client, call)(*args)
    assert len(capture.sent) == 1
    size, payload, rest = comm.read_msg(capture.sent[0])
    assert rest == b"" and size == len(payload)
    return codec.decode_request(payload, version)


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency = symbol, "STK", "SMART", "NASDAQ", "USD"
    return c


def future() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "ES", "FUT", "CME", "USD"
    c.lastTradeDateOrContractMonth, c.multiplier, c.includeExpired, c.localSymbol = "202503", "50", True, "ESH5"
    c.tradingClass, c.conId = "ES", 551601561
    return c


def option() -> Contract:
    c = stock()
    c.secType, c.strike, c.right, c.lastTradeDateOrContractMonth, c.multiplier = "OPT", 185.5, "C", "20250321", "100"
    return c


def bag() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "SPY", "BAG", "SMART", "USD"
    legs = []
    for con_id, action in ((756733, "BUY"), (43645865, "SELL")):
        leg = ComboLeg()
        leg.conId, leg.ratio, leg.action, leg.exchange = con_id, 1, action, "SMART"
        legs.append(leg)
    c.comboLegs = legs
    return c


STOCK_SPEC = ContractSpec(symbol="AAPL", sec_type="STK", exchange="SMART", primary_exchange="NASDAQ", currency="USD")
FUTURE_SPEC = ContractSpec(con_id=551601561, symbol="ES", sec_type="FUT", last_trade_date="202503", multiplier="50",
                           exchange="CME", currency="USD", local_symbol="ESH5", trading_class="ES",
                           include_expired=True)
OPTION_SPEC = ContractSpec(symbol="AAPL", sec_type="OPT", last_trade_date="20250321", strike=185.5, right="C",
                           multiplier="100", exchange="SMART", primary_exchange="NASDAQ", currency="USD")
BAG_SPEC = ContractSpec(symbol="SPY", sec_type="BAG", exchange="SMART", currency="USD",
                        combo_legs=(ComboLegSpec(756733, 1, "BUY", "SMART"),
                                    ComboLegSpec(43645865, 1, "SELL", "SMART")))


# ---- requests --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_session_requests(version: int) -> None:
    assert sent_request(version, "startApi") == StartApi(client_id=7, optional_capabilities="")
    assert sent_request(version, "reqIds", -1) == RequestIds(num_ids=-1)
    assert sent_request(version, "reqCurrentTime") == RequestCurrentTime()
    assert sent_request(version, "reqMarketDataType", 3) == RequestMarketDataType(market_data_type=3)


@pytest.mark.parametrize("version", VERSIONS)
def test_start_api_carries_optional_capabilities(version: int) -> None:
    client, capture = sender(version)
    client.optCapab = "Unlocked"
    client.startApi()
    _, payload, _ = comm.read_msg(capture.sent[0])
    assert codec.decode_request(payload, version) == StartApi(client_id=7, optional_capabilities="Unlocked")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("contract", "spec"), [(stock, STOCK_SPEC), (future, FUTURE_SPEC), (option, OPTION_SPEC)])
def test_contract_details_request(version: int, contract: Any, spec: ContractSpec) -> None:
    assert sent_request(version, "reqContractDetails", 11, contract()) == RequestContractDetails(11, spec)


@pytest.mark.parametrize("version", [v for v in VERSIONS if v >= 176])
def test_contract_details_request_with_sec_id_and_issuer_id(version: int) -> None:
    c = stock()
    c.secIdType, c.secId, c.issuerId = "ISIN", "US0378331005", "e1234567"
    expected = replace(STOCK_SPEC, sec_id_type="ISIN", sec_id="US0378331005", issuer_id="e1234567")
    assert sent_request(version, "reqContractDetails", 12, c) == RequestContractDetails(12, expected)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("contract", "spec"), [(stock, STOCK_SPEC), (future, FUTURE_SPEC), (option, OPTION_SPEC),
                                                (bag, BAG_SPEC)])
def test_historical_data_request(version: int, contract: Any, spec: ContractSpec) -> None:
    got = sent_request(version, "reqHistoricalData", 21, contract(), "20250127 16:00:00 America/New_York", "2 D",
                       "5 mins", "MIDPOINT", 0, 2, False, [])
    query = HistoryQuery(end_datetime="20250127 16:00:00 America/New_York", bar_size="5 mins", duration="2 D",
                         use_rth=False, what_to_show="MIDPOINT", format_date=2, keep_up_to_date=False)
    assert got == RequestHistoricalData(21, spec, query)


@pytest.mark.parametrize("version", VERSIONS)
def test_historical_data_request_keep_up_to_date_and_chart_options(version: int) -> None:
    got = sent_request(version, "reqHistoricalData", 22, stock(), "", "1 D", "1 min", "TRADES", 1, 1, True,
                       [TagValue("a", "1"), TagValue("b", "x")])
    # keepUpToDate exists from 124 (SYNT_REALTIME_BARS); below it the client does not send the flag at all.
    query = HistoryQuery(end_datetime="", bar_size="1 min", duration="1 D", use_rth=True, what_to_show="TRADES",
                         format_date=1, keep_up_to_date=version >= 124)
    assert got == RequestHistoricalData(22, STOCK_SPEC, query, chart_options=(("a", "1"), ("b", "x")))


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_and_head_timestamp_requests(version: int) -> None:
    assert sent_request(version, "cancelHistoricalData", 21) == CancelHistoricalData(21)
    if version >= 118:  # MIN_SERVER_VER_REQ_HEAD_TIMESTAMP: the client refuses below
        assert sent_request(version, "reqHeadTimeStamp", 31, future(), "BID", 0, 2) == RequestHeadTimestamp(
            31, FUTURE_SPEC, use_rth=False, what_to_show="BID", format_date=2)
    if version >= 123:  # MIN_SERVER_VER_CANCEL_HEADTIMESTAMP
        assert sent_request(version, "cancelHeadTimeStamp", 31) == CancelHeadTimestamp(31)


def test_unset_strike_is_zero_whether_sent_as_0_0_or_empty() -> None:
    base = b"9\x008\x0011\x000\x00AAPL\x00STK\x00\x00%s\x00\x00\x00SMART\x00\x00USD\x00\x00\x000\x00\x00\x00"
    for strike in (b"0.0", b""):
        request = codec.decode_request(base % strike, 157)
        assert isinstance(request, RequestContractDetails) and request.contract.strike == 0.0


# ---- replies ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_session_replies(version: int) -> None:
    enc = codec.ReplyEncoder(version)
    assert receive(version, enc.managed_accounts("DU1234567,DU7654321")) == [
        ("managedAccounts", ("DU1234567,DU7654321",))]
    assert receive(version, enc.next_valid_id(17)) == [("nextValidId", (17,))]
    assert receive(version, enc.current_time(1737993600)) == [("currentTime", (1737993600,))]
    assert receive(version, enc.head_timestamp(5, "20040123-14:30:00")) == [("headTimestamp", (5, "20040123-14:30:00"))]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("message", "advanced"), [("Market data farm connection is OK:usfarm", ""),
                                                   ("Café \\ naïve", '{"reason":"x"}')])
def test_error_reply(version: int, message: str, advanced: str) -> None:
    frame = codec.ReplyEncoder(version).error(-1, 2104, message, 1737993600123, advanced)
    if not IS_V10:
        assert receive(version, frame) == [("error", (-1, 2104, message))]
        return
    error_time = 1737993600123 if version >= 194 else 0  # errorTime arrives with 194
    json = advanced if version >= 166 else ""  # advancedOrderRejectJson with 166
    assert receive(version, frame) == [("error", (-1, error_time, 2104, message, json))]


APPLE = ContractDetailsInfo(
    con_id=265598, symbol="AAPL", sec_type="STK", exchange="SMART", primary_exchange="NASDAQ", currency="USD",
    local_symbol="AAPL", trading_class="NMS", market_name="NMS", long_name="APPLE INC – Ü", min_tick=0.01,
    time_zone_id="US/Eastern", industry="Technology", category="Computers", subcategory="Computers",
    trading_hours="20250127:0400-20250127:2000", liquid_hours="20250127:0930-20250127:1600",
    order_types="LMT,MKT", valid_exchanges="SMART,NASDAQ", price_magnifier=1, md_size_multiplier=100, agg_group=1,
    market_rule_ids="26,26", stock_type="COMMON", sec_id_list=(("ISIN", "US0378331005"), ("CUSIP", "037833100")))
EMINI = ContractDetailsInfo(
    con_id=551601561, symbol="ES", sec_type="FUT", exchange="CME", primary_exchange="", currency="USD",
    local_symbol="ESH5", trading_class="ES", market_name="ES", long_name="E-mini S&P 500", min_tick=0.25,
    time_zone_id="US/Central", last_trade_date="20250321", multiplier="50", contract_month="202503",
    price_magnifier=1, md_size_multiplier=1, agg_group=2, market_rule_ids="67")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("info", [APPLE, EMINI], ids=["stock", "future"])
def test_contract_data_reply(version: int, info: ContractDetailsInfo) -> None:
    enc = codec.ReplyEncoder(version)
    calls = receive(version, enc.contract_data(3, info), enc.contract_data_end(3))
    assert [name for name, _ in calls] == ["contractDetails", "contractDetailsEnd"]
    assert calls[1][1] == (3,)
    req_id, d = calls[0][1]
    c = d.contract
    assert req_id == 3
    assert (c.conId, c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency, c.localSymbol,
            c.tradingClass) == (info.con_id, info.symbol, info.sec_type, info.exchange, info.primary_exchange,
                                info.currency, info.local_symbol, info.trading_class)
    assert (c.lastTradeDateOrContractMonth, c.multiplier) == (info.last_trade_date, info.multiplier)
    assert (d.marketName, d.longName, d.minTick, d.timeZoneId) == (info.market_name, info.long_name, info.min_tick,
                                                                    info.time_zone_id)
    assert (d.contractMonth, d.industry, d.category, d.subcategory) == (info.contract_month, info.industry,
                                                                         info.category, info.subcategory)
    assert (d.tradingHours, d.liquidHours, d.orderTypes, d.validExchanges, d.priceMagnifier) == (
        info.trading_hours, info.liquid_hours, info.order_types, info.valid_exchanges, info.price_magnifier)
    # a protobuf map (205+) does not keep the order
    assert sorted((tv.tag, tv.value) for tv in d.secIdList or []) == sorted(info.sec_id_list)
    if version >= 121:
        assert d.aggGroup == info.agg_group
    if version >= 126:
        assert d.marketRuleIds == info.market_rule_ids
    if version >= 152:
        assert d.stockType == info.stock_type
    if not IS_V10 and version >= 110:  # only 9.81 keeps mdSizeMultiplier
        assert d.mdSizeMultiplier == info.md_size_multiplier


@pytest.mark.parametrize("version", [v for v in VERSIONS if v >= 179])
def test_contract_data_reply_for_a_fund_carries_the_fund_block(version: int) -> None:
    fund = ContractDetailsInfo(con_id=1, symbol="VFIAX", sec_type="FUND", exchange="FUNDSERV", primary_exchange="",
                               currency="USD", local_symbol="VFIAX", trading_class="", market_name="", long_name="X",
                               min_tick=0.01, time_zone_id="US/Eastern")
    enc = codec.ReplyEncoder(version)
    calls = receive(version, enc.contract_data(4, fund), enc.contract_data_end(4))
    assert [name for name, _ in calls] == ["contractDetails", "contractDetailsEnd"]
    assert calls[0][1][1].contract.symbol == "VFIAX"


BARS = [
    Bar("20250127 09:30:00 America/New_York", 229.5, 230.12, 229.01, 229.99, 1234567, 229.6543, 4321),
    Bar("20250127 09:35:00 America/New_York", 0.00001, 1e-05, 1e-05, 1e-05, 0, 0.00001, 0),
    Bar("20250127 09:40:00 America/New_York", 12345678.5, 12345678.5, 12345678.5, 12345678.5, -1, -1.0, -1),
]


@pytest.mark.parametrize("version", VERSIONS)
def test_historical_data_reply(version: int) -> None:
    enc = codec.ReplyEncoder(version)
    start, end = "20250127 09:30:00 America/New_York", "20250127 09:45:00 America/New_York"
    frames = (enc.historical_data(9, BARS, start, end), enc.historical_data_end(9, start, end))
    assert (frames[1] == b"") == (version < 196)  # before 196 the client ends the request itself
    assert receive(version, *frames) == [*(("historicalData", (9, bar)) for bar in BARS),
                                         ("historicalDataEnd", (9, start, end))]


@pytest.mark.parametrize("version", VERSIONS)
def test_historical_data_reply_without_bars(version: int) -> None:
    enc = codec.ReplyEncoder(version)
    frames = (enc.historical_data(9, [], "a", "b"), enc.historical_data_end(9, "a", "b"))
    assert receive(version, *frames) == [("historicalDataEnd", (9, "a", "b"))]


@pytest.mark.parametrize("version", VERSIONS)
def test_historical_data_update_reply(version: int) -> None:
    enc = codec.ReplyEncoder(version)
    for bar in BARS:
        assert receive(version, enc.historical_data_update(8, bar)) == [("historicalDataUpdate", (8, bar))]


def test_text_layouts_read_as_the_protocol_notes_say() -> None:
    def fields(frame: bytes) -> list[bytes]:
        return frame[4:].split(b"\0")[:-1]

    bar = Bar("20250127", 1.5, 2.0, 1.0, 1.75, 100, 1.6, 7)
    assert fields(codec.ReplyEncoder(157).error(5, 162, "x", 0)) == [b"4", b"2", b"5", b"162", b"x"]
    assert fields(codec.ReplyEncoder(157).historical_data_update(5, bar)) == [
        b"90", b"5", b"7", b"20250127", b"1.5", b"1.75", b"2.0", b"1.0", b"1.6", b"100"]
    assert fields(codec.ReplyEncoder(157).historical_data(5, [bar], "s", "e")) == [
        b"17", b"5", b"s", b"e", b"1", b"20250127", b"1.5", b"2.0", b"1.0", b"1.75", b"100", b"1.6", b"7"]
    if codec.max_supported_version() >= 200:
        assert fields(codec.ReplyEncoder(194).error(5, 162, "x", 42, "{}")) == [b"4", b"5", b"162", b"x", b"{}", b"42"]
        assert fields(codec.ReplyEncoder(196).historical_data_end(5, "s", "e")) == [b"108", b"5", b"s", b"e"]


# ---- numbers and the handshake --------------------------------------------------------------------------------


def test_numbers_are_written_as_tws_writes_them() -> None:
    assert [fmt_float(x) for x in (185.5, 185.0, 0.01, 1e-05, 1.5e16, -1.0)] == [
        "185.5", "185.0", "0.01", "0.00001", "15000000000000000", "-1.0"]
    assert fmt_float(float("inf")) == "Infinity"
    volumes = (0, -1, 1234567, Decimal("10.00000000"), Decimal("12.5"), Decimal("0.00012345"), Decimal("0E-8"))
    assert [fmt_volume(v, 163) for v in volumes] == ["0", "-1", "1234567", "10", "12.5", "0.00012345", "0"]
    # below 163 the client reads an integer (9.81's int() would kill its reader thread on "12.5"): rounded half up
    assert [fmt_volume(v, 162) for v in volumes] == ["0", "-1", "1234567", "10", "13", "0", "0"]


@pytest.mark.parametrize(("now", "expected"), [(1737993600.0, b"20250127 11:00:00 EST"),
                                               (1751382000.0, b"20250701 11:00:00 EDT")])
def test_handshake_reply_is_one_frame_the_client_reads_as_version_and_time(now: float, expected: bytes) -> None:
    size, payload, rest = comm.read_msg(codec.handshake_reply(157, now))
    assert rest == b"" and size == len(payload)
    server_version, conn_time = comm.read_fields(payload)  # exactly as EClient.connect unpacks it
    assert (int(server_version), conn_time) == (157, expected)


def test_versions() -> None:
    assert codec.MIN_VERSION == 100
    assert codec.max_supported_version() == (226 if codec.PROTOBUF_AVAILABLE else 200)
    with pytest.raises(ValueError):
        codec.ReplyEncoder(codec.max_supported_version() + 1)


# ---- what is not served, and what cannot be read ---------------------------------------------------------------


def test_messages_not_served_are_unknown_not_errors() -> None:
    assert codec.decode_request(b"1\x0011\x001\x00", 157) == UnknownMessage(1, ("11", "1"))
    assert codec.decode_request(b"24\x00", 157) == UnknownMessage(24, ())  # reqScannerParameters


MALFORMED_TEXT = [
    b"",  # nothing at all
    b"20\x0021\x00",  # reqHistoricalData cut short
    b"8\x001\x005",  # last field not terminated
    b"abc\x001\x00",  # non-numeric id
    b"8\x001\x00five\x00",  # non-numeric numIds
    b"8\x001\x005\x006\x00",  # one field too many
    b"49\x00",  # reqCurrentTime without its version
    b"71\x002\x00\xff\xfe\x00\x00",  # not UTF-8
]


@pytest.mark.parametrize("payload", MALFORMED_TEXT)
def test_malformed_text_raises_malformed_message(payload: bytes) -> None:
    with pytest.raises(MalformedMessage):
        codec.decode_request(payload, 157)


def test_a_bag_with_an_absurd_leg_count_is_malformed() -> None:
    client, capture = sender(157)
    client.reqHistoricalData(1, bag(), "", "1 D", "1 min", "TRADES", 1, 1, False, [])
    _, payload, _ = comm.read_msg(capture.sent[0])
    with pytest.raises(MalformedMessage):
        codec.decode_request(payload.replace(b"\x002\x00756733", b"\x00999999\x00756733"), 157)


@pytest.mark.parametrize("version", VERSIONS)
def test_random_bytes_decode_or_raise_malformed_message_only(version: int) -> None:
    rng = random.Random(version)
    ids = [b"8", b"9", b"20", b"25", b"49", b"59", b"71", b"87", b"90"]
    for _ in range(300):
        body = bytes(rng.choice(b"0123456789.-\0abc\xff") for _ in range(rng.randrange(0, 40)))
        if version >= 201:
            payload = struct.pack("!I", rng.choice([8, 9, 20, 49, 71, 208, 209, 213, 225, 271, 287])) + body
        else:
            payload = rng.choice(ids) + b"\0" + body
        try:
            codec.decode_request(payload, version)
        except MalformedMessage:
            pass
