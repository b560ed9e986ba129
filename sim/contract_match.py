"""TWS's rule for whether a client's contract fields describe one instrument: each field given narrows the match."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.messages import ContractSpec

if TYPE_CHECKING:
    from sim.instruments import Instrument


def same(a: str, b: str) -> bool:
    """Contract fields compare without regard to case in TWS."""
    return a.upper() == b.upper()


def fits(inst: Instrument, spec: ContractSpec) -> bool:
    """Whether every field `spec` gives agrees with `inst` (conId aside: the universe looks that up first)."""
    if not spec.symbol and not spec.local_symbol:
        return False  # TWS needs at least a symbol or a local symbol
    if spec.symbol and not same(spec.symbol, inst.symbol):
        return False
    if spec.sec_type and not same(spec.sec_type, inst.sec_type):
        return False
    if spec.exchange and not same(spec.exchange, inst.exchange):
        # SMART routes any stock; naming the primary exchange as exchange also finds a stock.
        if not (inst.sec_type == "STK" and same(spec.exchange, inst.primary_exchange)):
            return False
    if spec.primary_exchange and not same(spec.primary_exchange, inst.primary_exchange):
        return False
    if spec.currency and not same(spec.currency, inst.currency):
        return False
    if spec.local_symbol and not same(spec.local_symbol.strip(), inst.local_symbol.strip()):
        return False
    if spec.trading_class and not same(spec.trading_class, inst.trading_class):
        return False
    if spec.multiplier and inst.multiplier and spec.multiplier.strip() != inst.multiplier:
        try:
            if float(spec.multiplier) != float(inst.multiplier):
                return False
        except ValueError:
            return False
    # strike 0 (or the client's unset value, DBL_MAX, or NaN) and an empty right ask for every strike and right
    if spec.strike and math.isfinite(spec.strike) and spec.strike < 1e300 and spec.strike != inst.strike:
        return False
    if spec.right and _right(spec.right) != inst.right:
        return False
    ltd = spec.last_trade_date.strip()
    if ltd:  # yyyymm matches the contract month, yyyymmdd the last trade date
        if len(ltd) == 6 and ltd not in (inst.contract_month, inst.last_trade_date[:6]):
            return False
        if len(ltd) != 6 and ltd != inst.last_trade_date:
            return False
    return True


def _right(text: str) -> str:
    """TWS takes C/P and CALL/PUT in any case."""
    upper = text.strip().upper()
    return {"CALL": "C", "PUT": "P"}.get(upper, upper)
