"""The JSON of a contract as the bridge answers it, built from what ibapi decoded: one place for every answer that
shows contracts (GET /api/v1/contracts, the candidates of an ambiguous bars request) and the resolver's matches.

A contract: {con_id, symbol, sec_type, local_symbol, last_trade_date, strike, right, multiplier, exchange,
primary_exchange, currency, trading_class, long_name, time_zone, trading_hours, liquid_hours, min_tick}.
A symbol search match (reqMatchingSymbols' ContractDescription): {con_id, symbol, sec_type, primary_exchange,
currency, derivative_sec_types}.

10.x leaves a strike or a tick TWS did not send at UNSET_DOUBLE (the largest double), 9.81 at 0.0: both are 0.0 here.
A value that is not a finite number is a message the bridge cannot represent (UnreadableValue: its request fails).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from worker.tws.decoder import UnreadableValue

UNSET_DOUBLE = sys.float_info.max  # ibapi.common.UNSET_DOUBLE in both clients


def _number(value: Any, name: str) -> float:
    number = float(value) if value not in (None, "") else 0.0
    if number == UNSET_DOUBLE:
        return 0.0
    if not math.isfinite(number):
        raise UnreadableValue(f"{name} {value!r} is not a finite number")
    return number


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def contract_json(details: Any) -> dict[str, Any]:
    """ibapi's ContractDetails (either client) -> the bridge's contract object (contract_lookup.CONTRACT_KEYS)."""
    c = details.contract
    return {"con_id": int(c.conId), "symbol": _text(c.symbol), "sec_type": _text(c.secType),
            "local_symbol": _text(c.localSymbol), "last_trade_date": _text(c.lastTradeDateOrContractMonth),
            "strike": _number(c.strike, "strike"), "right": _text(c.right), "multiplier": _text(c.multiplier),
            "exchange": _text(c.exchange), "primary_exchange": _text(c.primaryExchange),
            "currency": _text(c.currency), "trading_class": _text(c.tradingClass),
            "long_name": _text(details.longName), "time_zone": _text(details.timeZoneId),
            "trading_hours": _text(details.tradingHours), "liquid_hours": _text(details.liquidHours),
            "min_tick": _number(details.minTick, "minTick")}


def match_json(description: Any) -> dict[str, Any]:
    """ibapi's ContractDescription (reqMatchingSymbols' answer, either client) -> one match (MATCH_KEYS)."""
    c = description.contract
    return {"con_id": int(c.conId), "symbol": _text(c.symbol), "sec_type": _text(c.secType),
            "primary_exchange": _text(c.primaryExchange), "currency": _text(c.currency),
            "derivative_sec_types": [_text(t) for t in (description.derivativeSecTypes or [])]}
