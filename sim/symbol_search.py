"""reqMatchingSymbols: the contracts whose symbol, or a word of whose name, starts with a pattern, as TWS answers.

TWS's rules as the simulator models them: case-insensitive; a symbol that starts with the pattern, or a word of the
company's long name that does ("APPLE" finds AAPL); stocks first, then the other kinds (within each an exact symbol
first, then symbols that start with the pattern, then name matches); at most 16 descriptions; one per listing (SHOP
on NYSE and on TSE). Futures appear as their underlying index (ES: IND on CME with derivative kinds FUT and FOP, the
conId the family's entry names), never one per expiry; options never appear themselves, only in their underlying's
derivative kinds.
"""

from __future__ import annotations

from sim.instruments import Universe
from sim.messages import SymbolDescription

MAX_MATCHES = 16  # IB: "up to 16 contract descriptions"


def matching_symbols(universe: Universe, pattern: str) -> list[SymbolDescription]:
    """The descriptions TWS answers for `pattern` (an empty or blank pattern matches nothing)."""
    wanted = pattern.strip().upper()
    if not wanted:
        return []
    found: list[tuple[bool, bool, bool, str, SymbolDescription]] = []
    for inst in universe.fixed:
        words = inst.long_name.upper().replace(".", " ").replace("-", " ").split()
        if inst.symbol.upper().startswith(wanted) or any(w.startswith(wanted) for w in words):
            derivatives = inst.derivative_sec_types
            symbol = inst.symbol.upper()
            found.append((inst.sec_type != "STK", symbol != wanted, not symbol.startswith(wanted), inst.symbol,
                          SymbolDescription(inst.con_id, inst.symbol, inst.sec_type,
                                            inst.primary_exchange or inst.exchange, inst.currency, derivatives,
                                            inst.long_name)))
    for family in universe.futures.values():
        t = family.template
        if t.symbol.upper().startswith(wanted) or any(w.startswith(wanted) for w in t.long_name.upper().split()):
            found.append((True, t.symbol.upper() != wanted, not t.symbol.upper().startswith(wanted), t.symbol,
                          SymbolDescription(family.index_con_id, t.symbol, "IND", t.exchange, t.currency,
                                            ("FUT", "FOP"), t.long_name)))
    found.sort(key=lambda f: f[:4])
    return [f[4] for f in found[:MAX_MATCHES]]
