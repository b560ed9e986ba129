"""The guarded decoder: a message the official client cannot decode, or a callback of ours that fails, is reported
with its message id and the reqId its layout names, and the next message is decoded as usual (in EClient.run() any
such exception would end the loop and the connection). Messages are fed the way each client's run() feeds them: 9.81
interpret(fields) with the message id first; 10.x interpret(fields, msgId) and processProtoBuf(body, msgId)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from ibapi.decoder import Decoder
from ibapi.wrapper import EWrapper

from worker.tws.decoder import PROTOBUF_CLASSES, GuardedDecoder, Undecodable, UnreadableValue, guarded_callback

TEN = "msgId" in inspect.signature(Decoder.interpret).parameters  # the 10.x client
SERVER_VERSION = 157  # text layouts: no message versions in historicalData, start/end inside it, error version 2


class Wrapper(EWrapper):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[int, Any]] = []
        self.updates: list[tuple[int, Any]] = []
        self.times: list[int] = []

    @guarded_callback
    def historicalData(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803 - ibapi's names
        self.bars.append((reqId, bar))

    @guarded_callback
    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:  # noqa: N802, N803
        self.updates.append((reqId, bar))

    @guarded_callback
    def currentTime(self, time: int) -> None:  # noqa: N802
        self.times.append(time)


class Harness:
    def __init__(self, server_version: int = SERVER_VERSION) -> None:
        self.wrapper = Wrapper()
        self.reports: list[Undecodable] = []
        self.decoder = GuardedDecoder(self.wrapper, server_version, self.reports.append)

    def text(self, msg_id: int, *fields: object) -> None:
        """One text message, as run() hands it over."""
        body = [str(f).encode() for f in fields]
        if TEN:
            self.decoder.interpret(tuple(body), msg_id)
        else:
            self.decoder.interpret((str(msg_id).encode(), *body))

    @property
    def report(self) -> Undecodable:
        assert len(self.reports) == 1, self.reports
        return self.reports[0]


def history(req_id: int, volume: str) -> tuple[object, ...]:
    """historicalData at version 157: reqId, start, end, count, then date, o, h, l, c, volume, wap, barCount."""
    return (req_id, "20250127 09:30:00", "20250127 10:00:00", 1, "1737988200", 1.5, 2.0, 1.0, 1.75, volume, 1.6, 12)


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_a_volume_neither_client_can_read_is_reported_with_its_request_and_decoding_goes_on(h: Harness) -> None:
    h.text(17, *history(7, "12.5x"))
    assert (h.report.msg_id, h.report.req_id, h.report.ours) == (17, 7, False)
    assert h.report.reason.startswith("InvalidOperation" if TEN else "ValueError")
    assert h.report.sent == "7,20250127 09:30:00,20250127 10:00:00,1,1737988200,1.5,2.0,1.0,1.75,12.5x,1.6,12"
    h.text(17, *history(8, "300"))
    assert [(req_id, bar.volume) for req_id, bar in h.wrapper.bars] == [(8, 300)]


def test_a_fractional_volume_kills_9_81s_decoding_and_10_x_reads_it(h: Harness) -> None:
    h.text(17, *history(7, "0.25"))
    if TEN:
        assert h.reports == [] and str(h.wrapper.bars[0][1].volume) == "0.25"
    else:
        assert (h.report.req_id, h.report.ours) == (7, False)
        assert "invalid literal for int()" in h.report.reason and "0.25" in h.report.reason


def test_an_undecodable_keep_up_to_date_update_names_its_request(h: Harness) -> None:
    h.text(90, 9, 12, "1737988200", 1.5, 1.75, 2.0, 1.0, 1.6, "n/a")
    assert (h.report.msg_id, h.report.req_id) == (90, 9)


def test_a_message_whose_layout_names_no_request_is_reported_without_one(h: Harness) -> None:
    h.text(49, 1, "soon")  # currentTime with a time that is no number
    assert (h.report.msg_id, h.report.req_id) == (49, None)
    h.text(49, 1, 1737988200)
    assert h.wrapper.times == [1737988200]


def test_a_request_id_that_is_itself_unreadable_is_no_request(h: Harness) -> None:
    h.text(17, *history(7, "1")[:0], "seven", *history(7, "1")[1:])
    assert (h.report.msg_id, h.report.req_id) == (17, None)


def test_a_message_cut_short_is_reported_too(h: Harness) -> None:
    h.text(17, *history(7, "100")[:-3])  # ibapi's BadMessage ("no more fields")
    assert (h.report.msg_id, h.report.req_id) == (17, 7)


def test_a_failing_callback_of_ours_is_reported_as_ours_and_decoding_goes_on(h: Harness) -> None:
    def broken(self: Wrapper, reqId: int, bar: Any) -> None:  # noqa: N803
        raise KeyError("a bug")

    h.wrapper.historicalData = guarded_callback(broken).__get__(h.wrapper)  # type: ignore[method-assign]
    h.text(17, *history(7, "100"))
    assert (h.report.msg_id, h.report.req_id, h.report.ours) == (17, 7, True)
    assert "broken" in h.report.reason and "KeyError" in h.report.reason


def test_a_value_the_bridge_cannot_represent_is_about_tws_not_a_bug(h: Harness) -> None:
    def strict(self: Wrapper, reqId: int, bar: Any) -> None:  # noqa: N803
        raise UnreadableValue("volume 'NaN' is not a finite number")

    h.wrapper.historicalData = guarded_callback(strict).__get__(h.wrapper)  # type: ignore[method-assign]
    h.text(17, *history(7, "100"))
    assert (h.report.req_id, h.report.ours, h.report.reason) == (7, False, "volume 'NaN' is not a finite number")


@pytest.mark.parametrize(("server_version", "req_id_first"), [(123, False), (124, True), (163, True)])
def test_the_request_id_is_read_where_each_version_puts_it(server_version: int, req_id_first: bool) -> None:
    h = Harness(server_version)
    start = () if req_id_first else (3,)  # before 124 historicalData carries a message version first
    h.text(17, *start, *history(7, "bad"))
    assert h.report.req_id == 7


if PROTOBUF_CLASSES:  # the 10.x client's protobuf bodies (9.81 has none)
    from ibapi.protobuf.HistoricalData_pb2 import HistoricalData
    from ibapi.protobuf.HistoricalDataUpdate_pb2 import HistoricalDataUpdate

    def data_body() -> bytes:
        m = HistoricalData(reqId=7)
        m.historicalDataBars.add(date="1737988200", open=1.5, volume="12.5x", WAP="1.6", barCount=3)
        return m.SerializeToString()

    def update_body() -> bytes:
        m = HistoricalDataUpdate(reqId=7)
        m.historicalDataBar.date, m.historicalDataBar.volume = "1737988200", "n/a"
        return m.SerializeToString()

    @pytest.mark.parametrize(("msg_id", "body"), [(17, data_body), (90, update_body)])
    def test_an_undecodable_protobuf_body_names_its_request(msg_id: int, body: Callable[[], bytes]) -> None:
        h = Harness(222)
        h.decoder.processProtoBuf(body(), msg_id)
        assert (h.report.msg_id, h.report.req_id, h.report.ours) == (msg_id, 7, False)
        assert "InvalidOperation" in h.report.reason and "reqId: 7" in h.report.sent

    @pytest.mark.parametrize("msg_id", [17, 90])
    def test_a_protobuf_body_that_does_not_parse_is_no_request(msg_id: int) -> None:
        h = Harness(222)
        h.decoder.processProtoBuf(b"\xff\xff\xff", msg_id)
        assert (h.report.msg_id, h.report.req_id) == (msg_id, None)
