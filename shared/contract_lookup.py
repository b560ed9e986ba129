"""The contract look-ups both sides agree on: "contracts" (reqContractDetails: every contract that matches the
contract fields) and "symbol_search" (reqMatchingSymbols: the contracts whose symbol or name starts with a text).

Wire shapes (shared/protocol.py carries them):
- "contracts": body {symbol, sec_type, exchange, currency and the contract fields of shared/contract_fields.py:
  con_id, last_trade_date, strike, right, multiplier, primary_exchange, local_symbol, trading_class,
  include_expired} -> {"contracts": [CONTRACT, ...]} (at least one; none is the error symbol_not_found).
  CONTRACT = {con_id, symbol, sec_type, local_symbol, last_trade_date, strike, right, multiplier, exchange,
  primary_exchange, currency, trading_class, long_name, time_zone, trading_hours, liquid_hours, min_tick}.
- "symbol_search": body {"q"} -> {"matches": [MATCH, ...]} (possibly none), MATCH = {con_id, symbol, sec_type,
  primary_exchange, currency, derivative_sec_types}.
Each side checks what it receives: the HTTP side never passes on a contract or a match it did not validate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from shared.bars import InvalidBarRequest, WireRequest
from shared.contract_fields import OPTION_SEC_TYPES, contract_problems
from shared.protocol import ProtocolError

# a search text: letters, digits, space, '.', '-', '/' (no comma, NUL or control character), starting with a letter
# or digit
SEARCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,31}\Z", re.ASCII)
SEARCH_MESSAGE = "1-32 letters, digits, spaces, '.', '/' or '-', starting with a letter or digit"
MAX_CONTRACTS = 1000  # contracts in one answer: a whole option chain fits (TWS sends every match)
MAX_MATCHES = 16  # reqMatchingSymbols answers at most 16
CONTRACT_TEXT_KEYS = ("symbol", "sec_type", "local_symbol", "last_trade_date", "right", "multiplier", "exchange",
                      "primary_exchange", "currency", "trading_class", "long_name", "time_zone", "trading_hours",
                      "liquid_hours")
CONTRACT_KEYS = ("con_id", *CONTRACT_TEXT_KEYS[:4], "strike", *CONTRACT_TEXT_KEYS[4:], "min_tick")
MATCH_KEYS = ("con_id", "symbol", "sec_type", "primary_exchange", "currency", "derivative_sec_types")


@dataclass(frozen=True)
class ContractQuery(WireRequest):
    """The contract fields of a bars request, with the same defaults: what such a request would match."""

    symbol: str = ""
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    con_id: int = 0  # > 0: that contract alone (the other fields are not sent)
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False
    # contract_problems checks a series' data kind too; a look-up names none (these pass its checks)
    what_to_show: ClassVar[str] = "TRADES"
    use_rth: ClassVar[bool] = True

    def validate(self) -> None:
        # A look-up may list a whole option chain (TWS answers reqContractDetails with every contract of it): the
        # bars' rule that an option names its expiry, strike and right is not one here. The fields are checked as
        # those of a stock, and the security type on its own.
        option = isinstance(self.sec_type, str) and self.sec_type in OPTION_SEC_TYPES
        problems = contract_problems(replace(self, sec_type="STK") if option else self)
        if problems:
            raise InvalidBarRequest(problems)


@dataclass(frozen=True)
class SymbolSearch(WireRequest):
    q: str

    def validate(self) -> None:
        if not isinstance(self.q, str) or not SEARCH_RE.match(self.q):
            raise InvalidBarRequest({"q": SEARCH_MESSAGE})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value and \
        abs(value) != float("inf")


def _con_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def contracts_from_result(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The contracts of a worker result ({"contracts": [...]}), checked and reduced to CONTRACT_KEYS."""
    contracts = result.get("contracts")
    if not isinstance(contracts, list) or not 1 <= len(contracts) <= MAX_CONTRACTS:
        raise ProtocolError(f"contracts are a list of 1 to {MAX_CONTRACTS}")
    checked = []
    for contract in contracts:
        if not isinstance(contract, dict) or any(key not in contract for key in CONTRACT_KEYS):
            raise ProtocolError(f"a contract needs {', '.join(CONTRACT_KEYS)}")
        if not _con_id(contract["con_id"]) or not _number(contract["strike"]) or not _number(contract["min_tick"]) \
                or not all(isinstance(contract[key], str) for key in CONTRACT_TEXT_KEYS):
            raise ProtocolError("a contract's con_id is a whole number, strike and min_tick numbers, the rest text")
        checked.append({key: contract[key] for key in CONTRACT_KEYS})
    return checked


def matches_from_result(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The matches of a worker result ({"matches": [...]}), checked and reduced to MATCH_KEYS."""
    matches = result.get("matches")
    if not isinstance(matches, list) or len(matches) > MAX_MATCHES:
        raise ProtocolError(f"matches are a list of at most {MAX_MATCHES}")
    checked = []
    for match in matches:
        if not isinstance(match, dict) or any(key not in match for key in MATCH_KEYS):
            raise ProtocolError(f"a match needs {', '.join(MATCH_KEYS)}")
        kinds = match["derivative_sec_types"]
        if not _con_id(match["con_id"]) or not all(isinstance(match[key], str) for key in MATCH_KEYS[1:5]) or \
                not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
            raise ProtocolError("a match's con_id is a whole number, derivative_sec_types a list of text, the rest "
                                "text")
        checked.append({key: match[key] for key in MATCH_KEYS})
    return checked
