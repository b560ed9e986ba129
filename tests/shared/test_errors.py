"""Errors as values: stable codes, one HTTP status per code, and the wire form."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import HTTP_STATUS, BridgeError, BridgeFailure, ErrorCode


def test_every_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorCode)


@pytest.mark.parametrize(("code", "status"), [
    (ErrorCode.INVALID_REQUEST, 400), (ErrorCode.UNAUTHORIZED, 401), (ErrorCode.SYMBOL_NOT_FOUND, 404),
    (ErrorCode.AMBIGUOUS_SYMBOL, 400), (ErrorCode.PAYLOAD_TOO_LARGE, 413), (ErrorCode.PACING_LIMITED, 429),
    (ErrorCode.NOT_SUBSCRIBED, 502), (ErrorCode.TWS_REJECTED, 502), (ErrorCode.TWS_ERROR, 502),
    (ErrorCode.TWS_UNAVAILABLE, 503), (ErrorCode.WORKER_UNAVAILABLE, 503), (ErrorCode.TWS_TIMEOUT, 504),
    (ErrorCode.INTERNAL_ERROR, 500), (ErrorCode.OVERLOADED, 503), (ErrorCode.JOB_NOT_FOUND, 404),
    (ErrorCode.INVALID_PAGE_TOKEN, 400),
])
def test_http_status_of_the_codes_the_issue_names(code: ErrorCode, status: int) -> None:
    assert BridgeError(code, "m").http_status == status


def test_codes_are_stable_strings() -> None:
    assert ErrorCode.NOT_SUBSCRIBED == "market_data_not_subscribed"
    assert ErrorCode.TWS_TIMEOUT.value == "tws_timeout"
    assert (ErrorCode.JOB_NOT_FOUND.value, ErrorCode.INVALID_PAGE_TOKEN.value) == ("job_not_found",
                                                                                "invalid_page_token")


def test_wire_form_leaves_out_what_is_not_set() -> None:
    assert BridgeError(ErrorCode.TWS_ERROR, "m").to_wire() == {"code": "tws_error", "message": "m"}


def test_wire_form_with_everything() -> None:
    error = BridgeError(ErrorCode.INVALID_REQUEST, "m", tws_code=321, retry_after=2.5, fields={"symbol": "bad"})
    assert error.to_wire() == {"code": "invalid_request", "message": "m", "tws_code": 321, "retry_after": 2.5,
                               "fields": {"symbol": "bad"}}


def test_from_wire_reads_code_tws_code_and_retry_after() -> None:
    error = BridgeError.from_wire({"code": "pacing_limited", "message": "slow", "tws_code": 162, "retry_after": 15})
    assert error == BridgeError(ErrorCode.PACING_LIMITED, "slow", 162, 15.0)


@pytest.mark.parametrize(("wire", "expected"), [
    ({}, BridgeError(ErrorCode.INTERNAL_ERROR, "error")),
    ({"code": "nope", "message": 5, "tws_code": "162", "retry_after": "soon"}, BridgeError(ErrorCode.INTERNAL_ERROR,
                                                                                          "error")),
])
def test_from_wire_tolerates_bad_values(wire: dict[str, Any], expected: BridgeError) -> None:
    assert BridgeError.from_wire(wire) == expected


@pytest.mark.parametrize("wire", [None, "tws_error", ["tws_error"]])
def test_from_wire_refuses_non_objects(wire: Any) -> None:
    with pytest.raises(ValueError):
        BridgeError.from_wire(wire)


def test_bridge_failure_carries_the_error() -> None:
    error = BridgeError(ErrorCode.TWS_TIMEOUT, "slow")
    failure = BridgeFailure(error)
    assert failure.error is error
    assert "tws_timeout" in str(failure) and "slow" in str(failure)
