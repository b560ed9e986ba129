"""The requests client libraries send at start-up get TWS's empty answers at once: the end markers of an account with
no positions, orders or executions, in text or protobuf as the negotiated version wants; cancels get nothing."""

from __future__ import annotations

import struct

import pytest
from ibapi.execution import ExecutionFilter

from sim import codec
from sim.account_messages import (
    CancelAccountSummary,
    RequestAccountSummary,
    RequestAccountUpdates,
    RequestAccountUpdatesMulti,
    RequestAutoOpenOrders,
    RequestCompletedOrders,
    RequestExecutions,
    RequestPositions,
)
from sim.account_messages import ExecutionFilter as SimExecutionFilter
from tests.sim.ib_async_client import ib_async_connected, timed_connect
from tests.sim.ib_client import CLIENT_MAX_VERSION
from tests.sim.test_codec import VERSIONS, sent_request
from tests.sim.versions import SERVER_VERSIONS

ACCOUNT = "DU1234567"
ENDS = ["positionEnd", "openOrderEnd", "completedOrdersEnd", "execDetailsEnd", "accountDownloadEnd",
        "accountSummaryEnd", "managedAccounts", "positionMultiEnd", "accountUpdateMultiEnd"]


@pytest.mark.parametrize("readonly", [False, True])
def test_ib_async_connects_at_once_with_its_default_and_readonly_settings(sim, readonly):
    # raiseSyncErrors: any start-up request left unanswered (positions, orders, account updates, executions)
    # raises after the connect timeout (10 s) instead of only being logged
    assert timed_connect(sim.port, client_id=3, readonly=readonly) < 1.0


def test_ib_async_as_client_0_also_binds_tws_orders_at_once(sim):
    assert timed_connect(sim.port, client_id=0, readonly=False) < 1.0
    assert sim.request_log.received("RequestAutoOpenOrders")[0].fields == {"auto_bind": True}


def test_ib_async_sees_an_empty_account(sim):
    with ib_async_connected(sim.port) as ib:
        assert ib.managedAccounts() == [ACCOUNT]
        assert ib.positions() == [] and ib.openTrades() == [] and ib.fills() == []
        assert ib.reqPositions() == [] and ib.reqOpenOrders() == [] and ib.reqAllOpenOrders() == []
        assert ib.reqCompletedOrders(apiOnly=False) == [] and ib.reqExecutions() == []
        assert ib.accountSummary() == []
    names = {r.name for r in sim.request_log.received()}
    assert {"RequestPositions", "RequestOpenOrders", "RequestCompletedOrders", "RequestAccountUpdates",
            "RequestAccountUpdatesMulti", "RequestExecutions", "RequestAccountSummary"} <= names


def ask_everything(ib) -> None:
    ib.reqPositions()
    ib.reqOpenOrders()
    ib.reqAllOpenOrders()
    ib.reqAutoOpenOrders(True)
    ib.reqCompletedOrders(False)
    ib.reqExecutions(7, ExecutionFilter())
    ib.reqAccountUpdates(True, "")
    ib.reqAccountSummary(9, "All", "NetLiquidation,BuyingPower")
    ib.reqManagedAccts()
    ib.reqPositionsMulti(10, ACCOUNT, "")
    ib.reqAccountUpdatesMulti(11, ACCOUNT, "", False)


@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
def test_the_official_client_gets_every_end_marker_and_cancels_get_nothing(sim_factory, connect, max_version):
    ib = connect(sim_factory(max_version=max_version))
    ask_everything(ib)
    ib.wait_for(lambda ev: len([e for e in ev if e.name == "accountUpdateMultiEnd"]) == 1)
    got = [(e.name, e.req_id, e.data) for e in ib.events if e.name in ENDS]
    assert got == [("managedAccounts", None, {"accounts": ACCOUNT}),  # at start-up
                   ("positionEnd", None, {}), *[("openOrderEnd", None, {})] * 3, ("completedOrdersEnd", None, {}),
                   ("execDetailsEnd", 7, {}), ("accountDownloadEnd", None, {"account": ACCOUNT}),
                   ("accountSummaryEnd", 9, {}), ("managedAccounts", None, {"accounts": ACCOUNT}),
                   ("positionMultiEnd", 10, {}), ("accountUpdateMultiEnd", 11, {})]
    assert not [e for e in ib.named("error") if e.data["code"] not in (2104, 2106, 2158)]
    before = len(ib.events)
    ib.cancelPositions()
    ib.cancelAccountSummary(9)
    ib.cancelPositionsMulti(10)
    ib.cancelAccountUpdatesMulti(11)
    ib.reqAccountUpdates(False, "")
    ib.reqAutoOpenOrders(False)
    ib.reqCurrentTime()  # answered after everything sent before it
    ib.wait_event("currentTime")
    assert [e.name for e in ib.events[before:]] == ["currentTime"]


def test_an_account_update_for_a_named_account_ends_with_that_name(sim, ib):
    ib.reqAccountUpdates(True, ACCOUNT)
    assert ib.wait_event("accountDownloadEnd").data["account"] == ACCOUNT


# the clients send every one of them from 150 (MIN_SERVER_VER_COMPLETED_ORDERS; account updates multi from 103)
@pytest.mark.parametrize("version", [v for v in VERSIONS if v >= 150])
def test_the_official_clients_requests_decode_at_every_version(version):
    assert sent_request(version, "reqPositions") == RequestPositions()
    assert sent_request(version, "reqAutoOpenOrders", True) == RequestAutoOpenOrders(auto_bind=True)
    assert sent_request(version, "reqCompletedOrders", True) == RequestCompletedOrders(api_only=True)
    assert sent_request(version, "reqAccountUpdates", True, ACCOUNT) == RequestAccountUpdates(True, ACCOUNT)
    assert sent_request(version, "reqAccountSummary", 9, "All", "NetLiquidation") == RequestAccountSummary(
        9, "All", "NetLiquidation")
    assert sent_request(version, "cancelAccountSummary", 9) == CancelAccountSummary(9)
    assert sent_request(version, "reqAccountUpdatesMulti", 11, ACCOUNT, "", True) == RequestAccountUpdatesMulti(
        11, ACCOUNT, "", True)
    execution = ExecutionFilter()
    execution.clientId, execution.symbol, execution.side = 5, "AAPL", "BUY"
    got = sent_request(version, "reqExecutions", 7, execution)
    assert isinstance(got, RequestExecutions) and got.req_id == 7
    assert (got.filter.client_id, got.filter.symbol, got.filter.side) == (5, "AAPL", "BUY")


def test_empty_numeric_fields_in_start_up_requests_read_as_zero():
    def text(*fields: object) -> bytes:
        return "".join(f"{f}\0" for f in fields).encode()

    assert codec.decode_request(text(7, 3, "", "", "", "", "", "", "", ""), 178) == RequestExecutions(
        0, SimExecutionFilter())
    assert codec.decode_request(text(6, 2, "", ""), 178) == RequestAccountUpdates(False, "")
    assert codec.decode_request(text(15, 1, ""), 178) == RequestAutoOpenOrders(False)
    assert codec.decode_request(text(99, ""), 178) == RequestCompletedOrders(False)
    assert codec.decode_request(text(76, 1, "", ACCOUNT, "", ""), 178) == RequestAccountUpdatesMulti(
        0, ACCOUNT, "", False)
    assert codec.decode_request(text(62, 1, "", "All", ""), 178) == RequestAccountSummary(0, "All", "")


@pytest.mark.parametrize("version", [v for v in (201, 204, 207, 226) if v <= min(CLIENT_MAX_VERSION,
                                                                                  codec.max_supported_version())])
def test_end_markers_go_protobuf_from_their_group_version(version):
    enc = codec.ReplyEncoder(version)
    expected = {"execution_details_end": 201, "open_order_end": 204, "completed_orders_end": 204,
                "position_end": 207, "account_download_end": 207, "account_summary_end": 207,
                "position_multi_end": 207, "account_update_multi_end": 207}
    values = {"execution_details_end": 1, "account_summary_end": 1, "position_multi_end": 1,
              "account_update_multi_end": 1, "account_download_end": ACCOUNT}
    for name, first in expected.items():
        frame = enc.end_marker(name, values.get(name))
        (wire_id,) = struct.unpack("!I", frame[4:8])
        assert (wire_id > 200) == (version >= first), name
    with pytest.raises(ValueError):
        enc.end_marker("position_end", 3)  # positionEnd carries no id
