"""The bar request both sides agree on, and IB's tables for bar sizes, durations and what to show.

The HTTP side builds a `BarRequest` from validated input; the worker rebuilds it from the wire with `from_wire`, which
validates again: a ZeroMQ peer is input from outside too. Nothing that reaches TWS escapes these checks, so no NUL,
comma or control character can ever be sent on the TWS socket.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from shared.ib_limits import LONGEST_DURATION, duration_allowed

# HTTP period -> IB barSizeSetting
PERIODS: dict[str, str] = {
    "1s": "1 secs", "5s": "5 secs", "10s": "10 secs", "15s": "15 secs", "30s": "30 secs",
    "1m": "1 min", "2m": "2 mins", "3m": "3 mins", "5m": "5 mins", "10m": "10 mins", "15m": "15 mins",
    "20m": "20 mins", "30m": "30 mins",
    "1h": "1 hour", "2h": "2 hours", "3h": "3 hours", "4h": "4 hours", "8h": "8 hours",
    "1d": "1 day", "1w": "1 week", "1M": "1 month",
}
BAR_SECONDS: dict[str, int] = {
    "1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30, "1 min": 60, "2 mins": 120,
    "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900, "20 mins": 1200, "30 mins": 1800,
    "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "4 hours": 14400, "8 hours": 28800,
    "1 day": 86400, "1 week": 7 * 86400, "1 month": 31 * 86400,
}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "AGGTRADES")  # AGGTRADES: IB's trades series for crypto
SESSIONS = {"rth": True, "all": False}  # -> useRTH
SEC_TYPES = ("STK", "CASH", "IND", "FUT", "CRYPTO")

DURATION_RE = re.compile(r"^[1-9][0-9]{0,5} [SDWMY]\Z", re.ASCII)
# "BRK B", "BRK.B", "EUR", "ES": never a comma, NUL or control character
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,23}\Z", re.ASCII)
CODE_RE = re.compile(r"^[A-Za-z0-9.]{1,16}\Z", re.ASCII)  # exchange, currency, expiry
LOCAL_END_RE = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2}\Z", re.ASCII)  # "20250126 10:30:00": the exchange's time zone
UTC_END_RE = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}\Z", re.ASCII)  # "20250126-15:30:00": UTC


MIN_YEAR, MAX_YEAR = 1900, 2200  # TWS has no data outside; datetime arithmetic overflows near the edges


class InvalidBarRequest(ValueError):
    """A field with a bad value: `fields` maps field name -> message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def parse_end_datetime(text: str) -> str:
    """"" (now), "yyyymmdd HH:MM:SS" (exchange time), or ISO 8601 with an offset -> the TWS form.

    Returns "" for now, "yyyymmdd HH:MM:SS" for exchange-local time (the worker adds the instrument's zone), or
    "yyyymmdd-HH:MM:SS" in UTC. Non-ASCII text is refused before anything else (\\d and fromisoformat read other
    digits, strip() other spaces); surrounding ASCII spaces are then ignored.
    """
    if not text.isascii():
        raise ValueError("must be ASCII")
    text = text.strip()
    if text == "":
        return ""
    if LOCAL_END_RE.match(text) or UTC_END_RE.match(text):
        moment = datetime.strptime(text.replace("-", " "), "%Y%m%d %H:%M:%S")  # ValueError for impossible dates
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
        return text
    moment = datetime.fromisoformat(text)  # raises ValueError
    if moment.tzinfo is None:
        raise ValueError("an ISO 8601 time needs an offset, e.g. 2025-01-26T10:30:00-05:00")
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return moment.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")


@dataclass(frozen=True)
class BarRequest:
    symbol: str
    bar_size: str  # IB barSizeSetting
    duration: str  # IB durationStr, "N S|D|W|M|Y"
    what_to_show: str = "TRADES"
    use_rth: bool = True
    include_forming: bool = False
    end_datetime: str = ""  # see parse_end_datetime
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    start_datetime: str = ""  # see parse_end_datetime; exactly one of duration and start_datetime
    limit: int = 50_000  # bars per answer; more are paged (next_page_token)
    page_token: str = ""  # the next_page_token of the previous page of the same request

    @property
    def bar_seconds(self) -> int:
        return BAR_SECONDS[self.bar_size]

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, body: Any) -> BarRequest:
        if not isinstance(body, dict):
            raise InvalidBarRequest({"body": "must be an object"})
        try:
            request = cls(**body)
        except TypeError as exc:
            raise InvalidBarRequest({"body": str(exc)}) from None
        request.validate()
        return request

    def validate(self) -> None:
        problems: dict[str, str] = {}
        if not isinstance(self.symbol, str) or not SYMBOL_RE.match(self.symbol):
            problems["symbol"] = "1-24 letters, digits, spaces, '.', '/' or '-'"
        if not isinstance(self.bar_size, str) or self.bar_size not in BAR_SECONDS:
            problems["bar_size"] = "not an IB bar size"
        if not isinstance(self.duration, str) or not DURATION_RE.match(self.duration):
            problems["duration"] = "must be 'N S|D|W|M|Y'"
        elif "bar_size" not in problems and not duration_allowed(self.bar_size, self.duration):
            problems["duration"] = (f"at most {LONGEST_DURATION[self.bar_size]} with {self.bar_size} bars "
                                    "(IB's longest duration for one request)")
        if not isinstance(self.what_to_show, str) or self.what_to_show not in WHAT_TO_SHOW:
            problems["what_to_show"] = f"one of {', '.join(WHAT_TO_SHOW)}"
        for name in ("use_rth", "include_forming"):
            if not isinstance(getattr(self, name), bool):
                problems[name] = "must be a boolean"
        if not isinstance(self.end_datetime, str) or not (
                self.end_datetime == "" or LOCAL_END_RE.match(self.end_datetime)
                or UTC_END_RE.match(self.end_datetime)):
            problems["end_datetime"] = "must be '', 'yyyymmdd HH:MM:SS' or 'yyyymmdd-HH:MM:SS'"
        if self.include_forming and self.end_datetime:
            problems["include_forming"] = "needs end_datetime empty (now)"
        if not isinstance(self.sec_type, str) or self.sec_type not in SEC_TYPES:
            problems["sec_type"] = f"one of {', '.join(SEC_TYPES)}"
        for name in ("exchange", "currency"):
            value = getattr(self, name)
            if not isinstance(value, str) or not CODE_RE.match(value):
                problems[name] = "1-16 letters, digits or '.'"
        if problems:
            raise InvalidBarRequest(problems)
