"""GET /api/v1/contracts/<symbol>/head: the earliest bar TWS has for an instrument's data (reqHeadTimeStamp).

The query takes the instrument fields of POST /api/v1/bars (`what`, `session`, `sec_type`, `exchange`, `currency`)
with the same rules and messages (app/schemas.py); the symbol is the path's. The worker asks TWS once and remembers
the answer (op "head", shapes in shared/history.py); the history planner never asks before it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g

from app.api import authenticate, call_worker, load_validated, query_fields
from app.responses import json_response
from app.schemas import HeadQuerySchema
from app.state import bridge_state
from app.worker_client import WorkerClient
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.history import HeadRequest, head_from_result
from shared.protocol import ProtocolError

log = logging.getLogger("http.contracts")
contracts = Blueprint("contracts", __name__, url_prefix="/api/v1")
contracts.before_request(authenticate)
_schema = HeadQuerySchema()


@contracts.get("/contracts/<symbol_path:symbol>/head")  # symbols such as "BF/B" hold a slash (app/url_converters.py)
def head(symbol: str) -> Response:
    query = query_fields()
    if "symbol" in query:
        raise BridgeFailure(BridgeError(ErrorCode.INVALID_REQUEST, "invalid request: the symbol is the path's",
                                        fields={"symbol": "give it in the path only"}))
    head_request: HeadRequest = load_validated(_schema, {**query, "symbol": symbol})
    g.bridge_symbol = head_request.symbol
    result = call_worker("head", head_request.to_wire(), WorkerClient.bars_timeout(bridge_state().config))
    try:
        earliest = head_from_result(result)
    except ProtocolError as exc:
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, f"the TWS worker sent an invalid head: {exc}")) \
            from None
    session = "rth" if head_request.use_rth else "all"
    log.info("head %s %s %s -> %s", head_request.symbol, head_request.what_to_show, session, earliest["date"])
    return json_response({"success": True, "symbol": head_request.symbol, "what": head_request.what_to_show,
                          "session": session, "head": earliest})
