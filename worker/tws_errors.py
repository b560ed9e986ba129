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
