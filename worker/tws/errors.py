"""The one table that maps TWS error codes to the bridge's stable error codes (see docs/tws-protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import BridgeError, ErrorCode

# Informational codes: farm status and warnings that never fail a request.
NOTICES = frozenset({165, 2104, 2106, 2107, 2108, 2119, 2158, 2174, 2103, 2105, 2157})
FARM_CODES = {
    2103: ("market_data", "broken"), 2104: ("market_data", "ok"), 2107: ("historical_data", "inactive"),
    2105: ("historical_data", "broken"), 2106: ("historical_data", "ok"), 2108: ("market_data", "inactive"),
    2157: ("sec_def", "broken"), 2158: ("sec_def", "ok"),
}
# Codes about the connection itself (reqId -1).
CONNECTIVITY_LOST = frozenset({1100, 2110})
CONNECTIVITY_RESTORED_DATA_LOST = 1101
CONNECTIVITY_RESTORED_DATA_KEPT = 1102
CLIENT_ID_IN_USE = 326
CLIENT_ID_REMEDY = ("client id {client_id} is already in use by another connection to TWS: stop the other program, "
                    "or set TWS_CLIENT_ID to a free id")

NO_SECURITY_DEFINITION = 200  # "No security definition has been found for the request" (or, worded so, ambiguous)
# The 10.x client catches an exception from a send and reports it through error() with one of its FAIL_SEND_* codes
# (ibapi/errors.py: 527 reqHistoricalData, 528 its cancel, 518 reqContractDetails, 531 reqCurrentTime, 539
# reqMarketDataType, ...), mostly with reqId -1; 9.81 lets the exception through. Either way the connection is gone.
SEND_FAILED = frozenset({
    510, 511, 512, 513, 514, 515, 516, 518, 519, 521, 522, 523, 524, 525, 526, 527, 528, 529, 530, 531, 534, 535, 536,
    537, 538, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549, 550, 551, 552, 553, 554, 555, 556, 557, 558, 559,
    560, 561, 562, 563, 564, 565, 566, 567, 568, 569, 570, 571, 572, 573, 574, 575, 576, 577, 578, 580, 581, 582, 583,
    584, 587, 589, 590, 591, 592, 593,
})

NO_DATA_MARKER = "HMDS query returned no data"
PACING_MARKER = "pacing violation"


@dataclass(frozen=True)
class RequestOutcome:
    """How a TWS error for a request ends it: an error, or (no data) an empty answer with a notice."""

    error: BridgeError | None
    no_data: bool = False


def classify_request_error(code: int, message: str) -> RequestOutcome | None:
    """Map an error for one request; None when it is informational and the request goes on."""
    if code in NOTICES:
        return None
    if code == 162 and NO_DATA_MARKER in message:
        return RequestOutcome(None, no_data=True)
    if (code == 162 and PACING_MARKER in message.lower()) or code in (420, 322):
        return RequestOutcome(BridgeError(ErrorCode.PACING_LIMITED, f"TWS pacing: {message}", code, retry_after=15))
    if code == 200:
        kind = ErrorCode.AMBIGUOUS_SYMBOL if "ambiguous" in message.lower() else ErrorCode.SYMBOL_NOT_FOUND
        return RequestOutcome(BridgeError(kind, message, code))
    if code in (354, 10167, 10168, 10197):
        return RequestOutcome(BridgeError(ErrorCode.NOT_SUBSCRIBED, message, code))
    if code == 321:
        return RequestOutcome(BridgeError(ErrorCode.TWS_REJECTED, message, code))
    if code in (502, 504, 507, 1100, 2110):
        return RequestOutcome(BridgeError(ErrorCode.TWS_UNAVAILABLE, message, code, retry_after=5))
    return RequestOutcome(BridgeError(ErrorCode.TWS_ERROR, message, code))
