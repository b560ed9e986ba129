"""What a request asks TWS to look up: every contract field it gave, normalised into one hashable key, and the ibapi
Contract that carries exactly those fields to reqContractDetails.

A request with `con_id` > 0 names its contract alone: the key keeps only the conId and the exchange (the exchange its
bars are asked on), and the lookup sends the conId only. Every other request's key keeps every contract field, so two
requests that differ in any of them (an expiry, a strike, include_expired) are looked up and cached apart. The fields
were validated at the edge and again from the wire (shared/bars.py): none holds a NUL, a comma, a control character or
a '|', so `key_text` joins them with '|' and `parse_key_text` splits them back.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from typing import Any

from ibapi.contract import Contract

# "SYMBOL|SEC_TYPE|EXCHANGE|CURRENCY": the key text before contract fields existed (still read from older stores)
PLAIN_PARTS = 4


@dataclass(frozen=True)
class ContractKey:
    """The resolver's key of a request's contract (not shared/contract_lookup.py's ContractQuery, the look-up
    endpoint's request)."""

    symbol: str
    sec_type: str
    exchange: str
    currency: str
    con_id: int = 0
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False

    @property
    def plain(self) -> bool:
        """Only symbol, sec_type, exchange and currency: the request as the bridge knew them before issue 12."""
        return self == ContractKey(self.symbol, self.sec_type, self.exchange, self.currency)

    @property
    def names_expiry(self) -> bool:
        """Whether the query picks one contract of a family (a future's expiry) by itself."""
        return bool(self.con_id or self.last_trade_date or self.local_symbol)

    @property
    def label(self) -> str:
        """The query for messages: what a person would call the contract."""
        if self.con_id:
            return f"con_id {self.con_id}"
        parts = [self.local_symbol or self.symbol, self.sec_type, self.last_trade_date,
                 f"{self.strike:g}" if self.strike else "", self.right]
        return " ".join(p for p in parts if p)


def contract_key(request: Any) -> ContractKey:
    """The key of a BarRequest or HeadRequest (both carry the contract fields, shared/bars.py)."""
    r = request
    con_id = int(getattr(r, "con_id", 0) or 0)
    if con_id > 0:
        return ContractKey("", "", r.exchange.upper(), "", con_id=con_id)
    return ContractKey(r.symbol.upper(), r.sec_type, r.exchange.upper(), r.currency.upper(),
                         last_trade_date=getattr(r, "last_trade_date", ""),
                         strike=float(getattr(r, "strike", 0.0)), right=getattr(r, "right", "").upper(),
                         multiplier=getattr(r, "multiplier", ""),
                         primary_exchange=getattr(r, "primary_exchange", "").upper(),
                         local_symbol=getattr(r, "local_symbol", "").upper(),
                         trading_class=getattr(r, "trading_class", "").upper(),
                         include_expired=bool(getattr(r, "include_expired", False)))


def query_contract(key: ContractKey) -> Contract:
    """The contract reqContractDetails is sent with: exactly the fields the request gave (conId alone for a con_id)."""
    c = Contract()
    if key.con_id:
        c.conId = key.con_id
        return c
    c.symbol, c.secType, c.exchange, c.currency = key.symbol, key.sec_type, key.exchange, key.currency
    c.lastTradeDateOrContractMonth = key.last_trade_date
    c.strike = key.strike
    c.right = key.right
    c.multiplier = key.multiplier
    c.primaryExchange = key.primary_exchange
    c.localSymbol = key.local_symbol
    c.tradingClass = key.trading_class
    c.includeExpired = key.include_expired
    return c


def key_text(key: ContractKey) -> str:
    """The key as the store keeps it: a plain key as before (older stores stay readable), else every field."""
    values = astuple(key)
    if key.plain:
        values = values[:PLAIN_PARTS]
    return "|".join("1" if v is True else "0" if v is False else repr(v) if isinstance(v, float) else str(v)
                    for v in values)


def parse_key_text(text: str) -> ContractKey | None:
    """`key_text`'s inverse; None for a record that is no key of ours."""
    parts = text.split("|")
    if len(parts) == PLAIN_PARTS:
        return ContractKey(*parts)
    if len(parts) != len(fields(ContractKey)):
        return None
    try:
        con_id, strike = int(parts[4]), float(parts[6])
    except ValueError:
        return None
    if con_id < 0 or not math.isfinite(strike) or parts[12] not in ("0", "1"):
        return None
    return ContractKey(*parts[:4], con_id=con_id, last_trade_date=parts[5], strike=strike, right=parts[7],
                         multiplier=parts[8], primary_exchange=parts[9], local_symbol=parts[10],
                         trading_class=parts[11], include_expired=parts[12] == "1")
