"""The fields that name a series' instrument and its data, shared by every request that names one (`BarRequest`,
`HeadRequest`, a stream's series), and their checks.

Every text field that reaches TWS's Contract is checked against an ASCII pattern without a comma, NUL or control
character; numbers are checked for type, range and finiteness. The rules between fields that TWS would refuse (an
option without its expiry, strike and right; keepUpToDate for a data kind IB serves only as history) are checked here
too, so the bridge never sends TWS what TWS would refuse.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "AGGTRADES", "BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY",
                "OPTION_IMPLIED_VOLATILITY")  # AGGTRADES: IB's trades series for crypto
# keepUpToDate (include_forming, streams): IB keeps only these up to date ("keepUpToDate ... only for TRADES, MIDPOINT,
# BID and ASK"); AGGTRADES is crypto's trades series
LIVE_WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "AGGTRADES")
SEC_TYPES = ("STK", "CASH", "IND", "FUT", "CONTFUT", "OPT", "FOP", "CRYPTO")
OPTION_SEC_TYPES = ("OPT", "FOP")  # need an expiry, a strike and a right unless con_id or local_symbol names one
NO_LIVE_SEC_TYPES = ("CONTFUT",)  # TWS refuses keepUpToDate for a continuous future
RIGHTS = ("", "C", "P")
MAX_CON_ID = 2**31 - 1  # IB's conId is a signed 32-bit integer
MAX_STRIKE = 1e9

# "BRK B", "BRK.B", "EUR", "ES": never a comma, NUL or control character
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,23}\Z", re.ASCII)
CODE_RE = re.compile(r"^[A-Za-z0-9.]{1,16}\Z", re.ASCII)  # exchange, currency, primary exchange, trading class
LAST_TRADE_DATE_RE = re.compile(r"^[0-9]{6}([0-9]{2})?\Z", re.ASCII)  # YYYYMM (contract month) or YYYYMMDD
MULTIPLIER_RE = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,10})?\Z", re.ASCII)  # "50", "100", "0.1"
# "ESH5", "AAPL  250117C00150000", "EUR.USD", "BRK B"
LOCAL_SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_\-]{0,31}\Z", re.ASCII)
MIN_YEAR, MAX_YEAR = 1900, 2200  # TWS has no data outside; datetime arithmetic overflows near the edges

# The contract fields beyond symbol, sec_type, exchange and currency, with their defaults (the dataclasses' defaults)
CONTRACT_DEFAULTS: dict[str, Any] = {
    "con_id": 0, "last_trade_date": "", "strike": 0.0, "right": "", "multiplier": "", "primary_exchange": "",
    "local_symbol": "", "trading_class": "", "include_expired": False,
}
CONTRACT_FIELDS = ("symbol", "sec_type", "exchange", "currency", *CONTRACT_DEFAULTS)
CODE_MESSAGE = "1-16 letters, digits or '.'"


def valid_last_trade_date(value: str) -> bool:
    """"YYYYMM" or "YYYYMMDD" naming a real month or day within the years TWS has data for."""
    if not LAST_TRADE_DATE_RE.match(value):
        return False
    try:
        moment = datetime.strptime(value, "%Y%m%d" if len(value) == 8 else "%Y%m")
    except ValueError:
        return False
    return MIN_YEAR <= moment.year <= MAX_YEAR


def valid_strike(value: Any) -> bool:
    """A number from 0 to MAX_STRIKE: NaN and infinities compare false, a huge int compares without overflow."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_STRIKE


def contract_problems(request: Any) -> dict[str, str]:
    """The checks of the fields that name a series' instrument and data (bars and the head timestamp alike): each
    field's type and pattern, then the rules between them. `request` has CONTRACT_FIELDS, what_to_show and use_rth."""
    problems: dict[str, str] = {}
    con_id = request.con_id
    if not isinstance(con_id, int) or isinstance(con_id, bool) or not 0 <= con_id <= MAX_CON_ID:
        problems["con_id"] = f"a whole number from 0 (not given) to {MAX_CON_ID}"
        con_id = 0
    symbol = request.symbol
    if not isinstance(symbol, str) or not (SYMBOL_RE.match(symbol) or (symbol == "" and con_id > 0)):
        problems["symbol"] = "1-24 letters, digits, spaces, '.', '/' or '-' (may be empty with con_id)"
    if not isinstance(request.what_to_show, str) or request.what_to_show not in WHAT_TO_SHOW:
        problems["what_to_show"] = f"one of {', '.join(WHAT_TO_SHOW)}"
    if not isinstance(request.use_rth, bool):
        problems["use_rth"] = "must be a boolean"
    if not isinstance(request.sec_type, str) or request.sec_type not in SEC_TYPES:
        problems["sec_type"] = f"one of {', '.join(SEC_TYPES)}"
    for name in ("exchange", "currency"):
        value = getattr(request, name)
        if not isinstance(value, str) or not CODE_RE.match(value):
            problems[name] = CODE_MESSAGE
    problems.update(_optional_text_problems(request))
    if not valid_strike(request.strike):
        problems["strike"] = f"a finite number from 0 (not given) to {MAX_STRIKE:.0f}"
    if not isinstance(request.include_expired, bool):
        problems["include_expired"] = "must be a boolean"
    if not problems:
        problems.update(_option_problems(request))
    return problems


def _optional_text_problems(request: Any) -> dict[str, str]:
    """The optional text fields: "" (not given) or their pattern."""
    checks = (
        ("last_trade_date", valid_last_trade_date, "YYYYMM (contract month) or YYYYMMDD (last trading day)"),
        ("right", lambda v: v in RIGHTS, "C (call) or P (put)"),
        ("multiplier", MULTIPLIER_RE.match, "digits with an optional decimal point, e.g. 50, 100, 0.1"),
        ("primary_exchange", CODE_RE.match, CODE_MESSAGE),
        ("local_symbol", LOCAL_SYMBOL_RE.match, "1-32 letters, digits, spaces, '.', '/', '_' or '-', starting with "
                                                "a letter or digit"),
        ("trading_class", CODE_RE.match, CODE_MESSAGE),
    )
    problems: dict[str, str] = {}
    for name, check, message in checks:
        value = getattr(request, name)
        if not isinstance(value, str) or not (value == "" or check(value)):
            problems[name] = message
    return problems


def _option_problems(request: Any) -> dict[str, str]:
    """An option (OPT, FOP) is one contract of a chain: its expiry, strike and right name it, unless its con_id or
    local symbol does (otherwise TWS answers with every contract of the chain, or 200 "No security definition")."""
    if request.sec_type not in OPTION_SEC_TYPES or request.con_id > 0 or request.local_symbol:
        return {}
    why = f"required for {request.sec_type} unless con_id or local_symbol names the contract"
    problems: dict[str, str] = {}
    if not request.last_trade_date:
        problems["last_trade_date"] = why
    if not request.strike > 0:
        problems["strike"] = why + " (a strike above 0)"
    if not request.right:
        problems["right"] = why + " (C or P)"
    return problems


def live_problems(what_to_show: Any, sec_type: Any) -> dict[str, str]:
    """Why IB cannot keep this series up to date (keepUpToDate: include_forming, streams), by the field responsible;
    {} when it can."""
    if what_to_show not in LIVE_WHAT_TO_SHOW:
        return {"what_to_show": f"IB keeps only {', '.join(LIVE_WHAT_TO_SHOW)} up to date, not {what_to_show}"}
    if sec_type in NO_LIVE_SEC_TYPES:
        return {"sec_type": f"TWS refuses keepUpToDate for {sec_type} (a continuous future)"}
    return {}
