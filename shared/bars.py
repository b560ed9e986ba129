"""The bar request both sides agree on, and IB's tables for bar sizes and durations (what names the instrument and
its data, and their checks: shared/contract_fields.py).

The HTTP side builds a `BarRequest` from validated input; the worker rebuilds it from the wire with `from_wire`, which
validates again: a ZeroMQ peer is input from outside too. Nothing that reaches TWS escapes these checks, so no NUL,
comma or control character can ever be sent on the TWS socket.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from shared.contract_fields import (  # noqa: F401 (SYMBOL_RE, CODE_RE, SEC_TYPES, WHAT_TO_SHOW: imported from here)
    CODE_RE,
    MAX_YEAR,
    MIN_YEAR,
    SEC_TYPES,
    SYMBOL_RE,
    WHAT_TO_SHOW,
    contract_problems,
    live_problems,
)
from shared.ib_limits import LONGEST_DURATION, LONGEST_RANGE, duration_allowed, range_allowed

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
SESSIONS = {"rth": True, "all": False}  # -> useRTH

DURATION_RE = re.compile(r"^[1-9][0-9]{0,5} [SDWMY]\Z", re.ASCII)
LOCAL_END_RE = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2}\Z", re.ASCII)  # "20250126 10:30:00": the exchange's time zone
UTC_END_RE = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}\Z", re.ASCII)  # "20250126-15:30:00": UTC
PAGE_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,512}\Z", re.ASCII)  # opaque: the worker makes it (base64url)
MAX_LIMIT = 50_000  # bars in one answer; the rest in pages


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


def not_before(start: str, end: str) -> bool:
    """Whether `start` is certainly not before `end` (both valid TWS-form times, neither ""). Two times of one form
    compare as written; an exchange-local time against a UTC one is compared in every zone it may be in (UTC-12 to
    UTC+14): only a start that is not before the end in any of them is refused here, the worker checks the rest
    once it knows the exchange's zone."""
    start_local, end_local = bool(LOCAL_END_RE.match(start)), bool(LOCAL_END_RE.match(end))
    earliest_start = _as_utc(start) - (timedelta(hours=14) if start_local and not end_local else timedelta(0))
    latest_end = _as_utc(end) + (timedelta(hours=12) if end_local and not start_local else timedelta(0))
    return earliest_start >= latest_end


def _as_utc(text: str) -> datetime:
    return datetime.strptime(text.replace("-", " "), "%Y%m%d %H:%M:%S")


def _tws_time(value: Any) -> bool:
    """"" or one of the two TWS forms parse_end_datetime returns, naming a real date within the years."""
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    if not (LOCAL_END_RE.match(value) or UTC_END_RE.match(value)):
        return False
    try:
        return MIN_YEAR <= _as_utc(value).year <= MAX_YEAR
    except ValueError:
        return False


class WireRequest:
    """A frozen request dataclass the worker rebuilds from the wire: the same fields, checked again by `validate`."""

    def validate(self) -> None:
        raise NotImplementedError

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_wire(cls, body: Any) -> Self:
        if not isinstance(body, dict):
            raise InvalidBarRequest({"body": "must be an object"})
        try:
            request = cls(**body)
        except TypeError as exc:
            raise InvalidBarRequest({"body": str(exc)}) from None
        request.validate()
        return request


@dataclass(frozen=True)
class BarRequest(WireRequest):
    symbol: str
    bar_size: str  # IB barSizeSetting
    duration: str  # IB durationStr, "N S|D|W|M|Y" ending at the end; "" when start_datetime names the start
    what_to_show: str = "TRADES"
    use_rth: bool = True
    include_forming: bool = False
    end_datetime: str = ""  # see parse_end_datetime
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    start_datetime: str = ""  # the range's start, in end_datetime's forms; "" when duration is given
    limit: int = MAX_LIMIT  # bars per answer; more come in pages (next_page_token)
    page_token: str = ""  # the worker's next_page_token of the previous page of this request
    # the contract beyond symbol, sec_type, exchange, currency (shared/contract_fields.py); con_id > 0 names it alone
    con_id: int = 0
    last_trade_date: str = ""  # YYYYMM or YYYYMMDD: a future's or option's expiry
    strike: float = 0.0
    right: str = ""  # "", "C", "P"
    multiplier: str = ""
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False

    @property
    def bar_seconds(self) -> int:
        return BAR_SECONDS[self.bar_size]

    @property
    def range_text(self) -> str:
        """The range for log lines: the duration, or start..end."""
        if self.duration:
            return self.duration
        return f"{self.start_datetime}..{self.end_datetime or 'now'}"

    def validate(self) -> None:
        problems = contract_problems(self)
        if not isinstance(self.bar_size, str) or self.bar_size not in BAR_SECONDS:
            problems["bar_size"] = "not an IB bar size"
        if not isinstance(self.include_forming, bool):
            problems["include_forming"] = "must be a boolean"
        for name in ("end_datetime", "start_datetime"):
            if not _tws_time(getattr(self, name)):
                problems[name] = "must be '', 'yyyymmdd HH:MM:SS' or 'yyyymmdd-HH:MM:SS'"
        if not isinstance(self.limit, int) or isinstance(self.limit, bool) or not 1 <= self.limit <= MAX_LIMIT:
            problems["limit"] = f"a whole number of bars from 1 to {MAX_LIMIT}"
        if not isinstance(self.page_token, str) or not (self.page_token == "" or PAGE_TOKEN_RE.match(self.page_token)):
            problems["page_token"] = "must be a next_page_token the bridge returned"
        problems.update(self._range_problems(problems))
        if not problems.keys() & {"what_to_show", "sec_type", "end_datetime", "include_forming"}:
            for name, why in self._kind_problems().items():
                problems.setdefault(name, why)
        if problems:
            raise InvalidBarRequest(problems)

    def _range_problems(self, problems: dict[str, str]) -> dict[str, str]:
        """Exactly one of duration and start_datetime; the range's bounds; include_forming's narrower rules."""
        found: dict[str, str] = {}
        duration = self.duration
        duration_valid = isinstance(duration, str) and bool(duration == "" or DURATION_RE.match(duration))
        start_valid = "start_datetime" not in problems
        if not duration_valid:
            found["duration"] = "must be 'N S|D|W|M|Y'"
        elif self.duration and not range_allowed(self.duration):
            found["duration"] = f"at most {LONGEST_RANGE} in all"
        if duration_valid and start_valid:
            if self.duration and self.start_datetime:
                found["start_datetime"] = "give duration or start_datetime, not both"
            elif not self.duration and not self.start_datetime:
                found["duration"] = "give duration or start_datetime"
        if start_valid and self.start_datetime and self.end_datetime and "end_datetime" not in problems and \
                not_before(self.start_datetime, self.end_datetime):
            found["start_datetime"] = "must be before end_datetime"
        if self.include_forming is True:
            if self.end_datetime:
                found["include_forming"] = "needs end_datetime empty (now)"
            elif self.start_datetime or self.page_token:
                found["include_forming"] = "takes a duration, not start_datetime or page_token"
            elif self.duration and duration_valid and "bar_size" not in problems and "duration" not in found and \
                    not duration_allowed(self.bar_size, self.duration):
                found["duration"] = (f"at most {LONGEST_DURATION[self.bar_size]} with {self.bar_size} bars and "
                                     "include_forming (answered from one live subscription: IB's longest duration "
                                     "for one request)")
        return found

    def _kind_problems(self) -> dict[str, str]:
        """What TWS refuses for the data kind and security type: an end with ADJUSTED_LAST (IB computes adjusted bars
        only up to now), keepUpToDate for a kind or a CONTFUT it keeps no series of."""
        if self.include_forming is True:
            for why in live_problems(self.what_to_show, self.sec_type).values():
                return {"include_forming": why}
        if self.what_to_show == "ADJUSTED_LAST" and self.end_datetime:
            return {"end_datetime": "must be empty (now) with ADJUSTED_LAST: IB refuses an end for adjusted bars "
                                    "(give a duration or start_datetime)"}
        return {}
