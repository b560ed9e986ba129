"""Which of reqContractDetails' matches a bar request means, and a contract's JSON as the bridge shows it.

One match is the contract. None is "no such contract". A future asked for without an expiry (no last_trade_date,
local_symbol or con_id) is the nearest unexpired expiry, as before contract fields existed. A con_id that TWS lists on
several exchanges is the one on the request's exchange. Any other several matches are ambiguous: the error carries
up to MAX_CANDIDATES of them in `fields.candidates` (each a contract's JSON), so the caller can pick one by con_id.
"""

from __future__ import annotations

from typing import Any

from shared.contract_lookup import CONTRACT_KEYS
from shared.errors import BridgeError, ErrorCode
from worker.contracts.query import ContractKey
from worker.contracts.resolved import ResolvedContract

MAX_CANDIDATES = 20
DEFAULT_ZONE = "America/New_York"  # a contract whose details name no zone (never seen from TWS; the simulator's US)
_DEFAULTS: dict[str, Any] = {"strike": 0.0, "min_tick": 0.0, "con_id": 0}


def candidate(details: dict[str, Any]) -> dict[str, Any]:
    """One candidate as the API shows a contract (shared/contract_lookup.py's CONTRACT_KEYS, as GET
    /api/v1/contracts), from what TwsClient.contractDetails posts (worker/contracts/contract_json.py)."""
    return {key: details.get(key, _DEFAULTS.get(key, "")) for key in CONTRACT_KEYS}


def _order(details: dict[str, Any]) -> tuple[Any, ...]:
    return (details.get("last_trade_date", ""), details.get("strike", 0.0), details.get("right", ""),
            details.get("exchange", ""), details.get("primary_exchange", ""), details.get("con_id", 0))


def choose(query: ContractKey, matches: list[dict[str, Any]],
           today: str) -> tuple[ResolvedContract | None, BridgeError | None]:
    """The contract `query` resolves to among `matches` (today: "yyyymmdd" for the futures rule), or the error."""
    label = query.label
    if query.sec_type == "FUT" and not query.names_expiry:
        live = sorted((m for m in matches if m["last_trade_date"][:8] >= today), key=lambda m: m["last_trade_date"])
        matches = live[:1]
    if query.con_id and len(matches) > 1:
        matches = [m for m in matches if m["exchange"].upper() == query.exchange] or matches
    if not matches:
        return None, BridgeError(ErrorCode.SYMBOL_NOT_FOUND, f"no contract found for {label}", 200)
    if len(matches) > 1:
        ordered = sorted(matches, key=_order)
        candidates = [candidate(m) for m in ordered[:MAX_CANDIDATES]]
        if query.sec_type in ("STK", "CASH", "IND", "CRYPTO"):
            places = ", ".join(sorted(f"{m['primary_exchange'] or m['exchange']}/{m['currency']}" for m in matches))
            message = f"{label} is ambiguous ({places}): give exchange and currency, or con_id"
        else:
            message = (f"{label} is ambiguous: {len(matches)} contracts match; give con_id, or the fields that tell "
                       "them apart")
        return None, BridgeError(ErrorCode.AMBIGUOUS_SYMBOL, message, 200, fields={"candidates": candidates})
    return resolved_from(query, matches[0]), None


def resolved_from(query: ContractKey, m: dict[str, Any]) -> ResolvedContract:
    sec_type = m["sec_type"]
    if query.sec_type == "CONTFUT":
        sec_type = "CONTFUT"  # TWS describes the front future; the bars asked for are the continuous series
    return ResolvedContract(int(m["con_id"]), m["symbol"], sec_type, m["exchange"], m["primary_exchange"],
                            m["currency"], m["local_symbol"], m["last_trade_date"], m["time_zone"] or DEFAULT_ZONE,
                            m.get("trading_hours", ""), m.get("liquid_hours", ""),
                            trading_class=m.get("trading_class", ""), multiplier=m.get("multiplier", ""),
                            strike=float(m.get("strike", 0.0) or 0.0), right=m.get("right", ""),
                            include_expired=query.include_expired, by_con_id=bool(query.con_id))
