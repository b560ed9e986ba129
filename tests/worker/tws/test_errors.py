"""The one table from TWS error codes to the bridge's error codes."""

from __future__ import annotations

import pytest

from shared.errors import ErrorCode
from worker.tws.errors import CONNECTIVITY_LOST, NO_DATA_MARKER, NOTICES, SEND_FAILED, classify_request_error

NO_DATA = "Historical Market Data Service error message:HMDS query returned no data: AAPL@SMART Trades"
PACING = "Historical Market Data Service error message:Historical data request pacing violation"


def test_162_no_data_is_an_empty_answer_not_an_error() -> None:
    assert NO_DATA_MARKER in NO_DATA
    outcome = classify_request_error(162, NO_DATA)
    assert outcome is not None
    assert outcome.no_data and outcome.error is None


def test_162_pacing_violation_is_pacing_limited_with_retry_after() -> None:
    outcome = classify_request_error(162, PACING)
    assert outcome is not None and not outcome.no_data and outcome.error is not None
    assert outcome.error.code is ErrorCode.PACING_LIMITED
    assert outcome.error.tws_code == 162
    assert outcome.error.retry_after is not None and outcome.error.retry_after > 0
    assert PACING in outcome.error.message


@pytest.mark.parametrize("code", [420, 322])
def test_other_pacing_codes(code: int) -> None:
    outcome = classify_request_error(code, "Max rate of messages per second has been exceeded")
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.PACING_LIMITED and outcome.error.retry_after


def test_other_162_messages_are_tws_errors() -> None:
    outcome = classify_request_error(162, "Historical Market Data Service error message:API historical data query "
                                          "cancelled: 7")
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.TWS_ERROR and outcome.error.tws_code == 162


@pytest.mark.parametrize(("message", "code"), [
    ("No security definition has been found for the request", ErrorCode.SYMBOL_NOT_FOUND),
    ("The contract description specified for FOO is ambiguous.", ErrorCode.AMBIGUOUS_SYMBOL),
    ("The contract description specified for FOO is Ambiguous", ErrorCode.AMBIGUOUS_SYMBOL),
])
def test_200_is_symbol_not_found_or_ambiguous(message: str, code: ErrorCode) -> None:
    outcome = classify_request_error(200, message)
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is code and outcome.error.tws_code == 200 and outcome.error.message == message


@pytest.mark.parametrize("code", [354, 10167, 10168, 10197])
def test_subscription_codes_are_not_subscribed(code: int) -> None:
    outcome = classify_request_error(code, "Requested market data is not subscribed.")
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.NOT_SUBSCRIBED and outcome.error.tws_code == code


def test_321_is_tws_rejected() -> None:
    outcome = classify_request_error(321, "Error validating request:-'bP' : cause - Invalid bar size")
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.TWS_REJECTED and outcome.error.tws_code == 321
    assert outcome.error.http_status == 502


@pytest.mark.parametrize("code", [502, 504, 507, 1100, 2110])
def test_connection_codes_are_tws_unavailable(code: int) -> None:
    outcome = classify_request_error(code, "Not connected")
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.TWS_UNAVAILABLE and outcome.error.retry_after


def test_anything_else_is_a_tws_error_with_its_message() -> None:
    outcome = classify_request_error(366, "No historical data query found for ticker id:7")
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.TWS_ERROR and outcome.error.tws_code == 366
    assert outcome.error.message == "No historical data query found for ticker id:7"


@pytest.mark.parametrize("code", sorted(NOTICES))
def test_notices_never_end_a_request(code: int) -> None:
    assert classify_request_error(code, "HMDS data farm connection is OK:ushmds") is None


@pytest.mark.parametrize("code", [165, 2104, 2106, 2107, 2108, 2119, 2158, 2174])
def test_the_documented_informational_codes_are_notices(code: int) -> None:
    assert code in NOTICES


def test_every_fail_send_code_of_the_10x_client_is_a_send_failure() -> None:
    errors = pytest.importorskip("ibapi.errors")
    codes = {pair.code() for name, pair in vars(errors).items() if name.startswith("FAIL_SEND")}
    if not codes:  # 9.81 has no FAIL_SEND codes: it lets the exception through (the outbox catches it)
        assert "FAIL_SEND_REQHISTDATA" not in vars(errors)
        return
    assert codes == SEND_FAILED
    assert not SEND_FAILED & (NOTICES | CONNECTIVITY_LOST | {200, 162, 322, 354, 502, 504})
