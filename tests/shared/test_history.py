"""The history operations' shapes: job ids, the job the worker reports, the head timestamp's request and result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from shared.bars import InvalidBarRequest
from shared.contract_fields import CONTRACT_DEFAULTS
from shared.history import HeadRequest, head_from_result, job_from_result, valid_job_id
from shared.protocol import ProtocolError

JOB = {"id": "0123456789abcdef0123456789abcdef", "state": "running", "done": 3, "total": 65, "bars_so_far": 5400,
       "eta_seconds": 120.5, "error": None}


@pytest.mark.parametrize("value", ["0123456789abcdef0123456789abcdef", "f" * 32])
def test_a_job_id_is_32_lowercase_hex_digits(value: str) -> None:
    assert valid_job_id(value)


@pytest.mark.parametrize("value", ["0123456789ABCDEF0123456789abcdef", "f" * 31, "f" * 33, "g" * 32, "f" * 31 + "\n",
                                   "", None, 12, "../" + "f" * 29, "\u0660" * 32])
def test_anything_else_is_no_job_id(value: Any) -> None:
    assert not valid_job_id(value)


def test_a_job_result_is_reduced_to_the_documented_keys() -> None:
    assert job_from_result({"job": {**JOB, "internal": [1, 2]}}) == JOB
    failed = {**JOB, "state": "failed", "eta_seconds": None, "error": {"code": "tws_error", "message": "m", "x": 1}}
    assert job_from_result({"job": failed})["error"] == {"code": "tws_error", "message": "m"}


@pytest.mark.parametrize("changes", [
    {"id": "X" * 32}, {"state": "paused"}, {"done": -1}, {"total": 1.5}, {"bars_so_far": True}, {"eta_seconds": "1"},
    {"eta_seconds": -1}, {"error": "boom"}, {"error": {"code": 1, "message": "m"}},
])
def test_a_job_in_another_shape_is_a_protocol_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        job_from_result({"job": {**JOB, **changes}})


@pytest.mark.parametrize("result", [{}, {"job": None}, {"job": {k: v for k, v in JOB.items() if k != "total"}}])
def test_a_result_without_a_whole_job_is_a_protocol_error(result: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        job_from_result(result)


HEAD = HeadRequest(symbol="AAPL")


def test_a_head_request_round_trips_the_wire() -> None:
    request = replace(HEAD, what_to_show="MIDPOINT", use_rth=False, sec_type="CASH", exchange="IDEALPRO",
                      currency="JPY")
    assert request.to_wire() == {"symbol": "AAPL", "what_to_show": "MIDPOINT", "use_rth": False,
                                 "sec_type": "CASH", "exchange": "IDEALPRO", "currency": "JPY", **CONTRACT_DEFAULTS}
    assert HeadRequest.from_wire(request.to_wire()) == request


def test_a_head_request_keeps_every_contract_field_on_the_wire() -> None:
    request = HeadRequest(symbol="AAPL", sec_type="OPT", what_to_show="OPTION_IMPLIED_VOLATILITY",
                          con_id=0, last_trade_date="20250221", strike=230.0, right="C", multiplier="100",
                          primary_exchange="NASDAQ", local_symbol="AAPL  250221C00230000", trading_class="AAPL",
                          include_expired=True)
    assert HeadRequest.from_wire(orjson.loads(orjson.dumps(request.to_wire()))) == request


def test_a_head_request_of_an_older_http_side_loads_with_the_defaults() -> None:
    old = {"symbol": "AAPL", "what_to_show": "TRADES", "use_rth": True, "sec_type": "STK", "exchange": "SMART",
           "currency": "USD"}
    assert HeadRequest.from_wire(old) == HEAD


def test_a_head_request_by_con_id_needs_no_symbol() -> None:
    assert HeadRequest.from_wire({"symbol": "", "con_id": 265598}).con_id == 265598
    with pytest.raises(InvalidBarRequest) as caught:
        HeadRequest.from_wire({"symbol": ""})
    assert set(caught.value.fields) == {"symbol"}


@pytest.mark.parametrize(("body", "field"), [
    ({"symbol": "AA,PL"}, "symbol"), ({"symbol": "AAPL", "what_to_show": "VOLUME"}, "what_to_show"),
    ({"symbol": "AAPL", "use_rth": 1}, "use_rth"), ({"symbol": "AAPL", "exchange": "SMART\x00"}, "exchange"),
    ({"symbol": "AAPL", "bar_size": "1 min"}, "body"), ({}, "body"), ([], "body"),
    ({"symbol": "AAPL", "local_symbol": "AAPL,X"}, "local_symbol"), ({"symbol": "AAPL", "con_id": "1"}, "con_id"),
    ({"symbol": "AAPL", "sec_type": "OPT"}, "strike"),
])
def test_the_worker_checks_a_head_request_again(body: Any, field: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        HeadRequest.from_wire(body)
    assert field in caught.value.fields


def test_a_head_result_is_checked() -> None:
    assert head_from_result({"head": {"time": 345479400, "date": "19801212 09:30:00", "x": 1}}) == {
        "time": 345479400, "date": "19801212 09:30:00"}
    for bad in ({}, {"head": {"time": "1", "date": "d"}}, {"head": {"time": 1}}, {"head": [1]}):
        with pytest.raises(ProtocolError):
            head_from_result(bad)
