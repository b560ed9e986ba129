"""GET /api/v1/contracts (every contract that matches the contract fields, from reqContractDetails) and GET
/api/v1/contracts/search (contracts whose symbol or name starts with a text, from reqMatchingSymbols).

The query of /contracts takes the contract fields of POST /api/v1/bars with the same rules, messages and defaults
(app/schemas.py: what a bars request with these fields would match), except that an option chain may be listed
without expiry, strike or right; `con_id` alone names one contract. The worker caches both answers (contracts like its
resolver, searches for an hour: worker/contracts/), so the HTTP side keeps no cache of its own: a repeat costs one
trip to the worker and no message to TWS, and a cached listing here could outlive the worker's (an expiry passing).
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, g
from marshmallow import RAISE, Schema, ValidationError, fields, post_load

from app.api import authenticate, call_worker, load_validated, query_fields
from app.responses import json_response
from app.schemas import ContractQuerySchema, json_pattern, worker_checks
from app.state import bridge_state
from app.worker_client import WorkerClient
from shared.contract_lookup import (
    SEARCH_MESSAGE,
    SEARCH_RE,
    ContractQuery,
    SymbolSearch,
    contracts_from_result,
    matches_from_result,
)
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.protocol import ProtocolError

log = logging.getLogger("http.contracts")
contract_lookups = Blueprint("contract_lookups", __name__, url_prefix="/api/v1")
contract_lookups.before_request(authenticate)
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _search_text(value: str) -> None:
    if CONTROL_RE.search(value):
        raise ValidationError("must not contain NUL or other control characters")
    if "," in value:
        raise ValidationError("must not contain commas")
    if not SEARCH_RE.match(value):
        raise ValidationError(f"must be {SEARCH_MESSAGE}")


class ContractsQuerySchema(ContractQuerySchema):
    """The query of GET /api/v1/contracts; `load` returns a validated `ContractQuery`."""

    @post_load
    def build(self, data: dict[str, object], **_: object) -> ContractQuery:  # type: ignore[override]
        query = ContractQuery(**self.instrument_fields(data))
        with worker_checks():
            query.validate()
        return query


class SymbolSearchSchema(Schema):
    """The query of GET /api/v1/contracts/search; `load` returns a validated `SymbolSearch`."""

    class Meta:
        unknown = RAISE

    q = fields.String(required=True, validate=_search_text, error_messages={
        "required": "is required", "null": "must not be null", "invalid": "must be a string"}, metadata={
        "description": "the start of a symbol or of a company's name, e.g. APP or 'apple' (any letter case): "
                       + SEARCH_MESSAGE, "pattern": json_pattern(SEARCH_RE), "minLength": 1, "maxLength": 32})

    @post_load
    def build(self, data: dict[str, str], **_: object) -> SymbolSearch:
        search = SymbolSearch(data["q"])
        with worker_checks():
            search.validate()
        return search


_contracts_schema = ContractsQuerySchema()
_search_schema = SymbolSearchSchema()


@contract_lookups.get("/contracts")
def contracts() -> Response:
    query: ContractQuery = load_validated(_contracts_schema, query_fields())
    if query.symbol:
        g.bridge_symbol = query.symbol
    result = call_worker("contracts", query.to_wire(), WorkerClient.bars_timeout(bridge_state().config))
    try:
        found = contracts_from_result(result)
    except ProtocolError as exc:
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, f"the TWS worker sent invalid contracts: {exc}")) \
            from None
    log.info("contracts %s -> %d", query.symbol or query.local_symbol or f"con_id {query.con_id}", len(found))
    return json_response({"success": True, "count": len(found), "contracts": found})


@contract_lookups.get("/contracts/search")
def search() -> Response:
    search: SymbolSearch = load_validated(_search_schema, query_fields())
    result = call_worker("symbol_search", search.to_wire(), WorkerClient.bars_timeout(bridge_state().config))
    try:
        matches = matches_from_result(result)
    except ProtocolError as exc:
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, f"the TWS worker sent invalid matches: {exc}")) \
            from None
    log.info("search %r -> %d", search.q, len(matches))
    return json_response({"success": True, "count": len(matches), "matches": matches})
