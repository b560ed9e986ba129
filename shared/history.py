"""The history operations both sides agree on besides "bars": a job's id and shape ("job", "job_cancel", and a "bars"
result that is still pending) and the head timestamp's request and result ("head").

Wire shapes (shared/protocol.py carries them):
- "job" / "job_cancel": body {"id": <32 lowercase hex>} -> {"job": JOB}; an unknown id is the error job_not_found.
- "bars" may answer {"status": "pending", "job": JOB} instead of bars (the range is fetched by a job).
- JOB = {"id", "state": pending|running|done|failed|cancelled, "done", "total" (windows), "bars_so_far",
  "eta_seconds" (number or null), "error" (null or {"code", "message"})}.
- "head": body {symbol, sec_type, exchange, currency, what_to_show, use_rth, and the contract fields of
  shared/contract_fields.py: con_id, last_trade_date, strike, right, multiplier, primary_exchange, local_symbol,
  trading_class, include_expired (each optional)} -> {"head": {"time": <epoch seconds>,
  "date": "yyyymmdd HH:MM:SS" in the exchange's time zone}}.
Each side checks what it receives: the HTTP side never passes on a job or head it did not validate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.bars import InvalidBarRequest, WireRequest
from shared.contract_fields import contract_problems
from shared.protocol import ProtocolError

JOB_ID_RE = re.compile(r"^[0-9a-f]{32}\Z", re.ASCII)
JOB_STATES = ("pending", "running", "done", "failed", "cancelled")
FINISHED_STATES = frozenset({"done", "failed", "cancelled"})
JOB_KEYS = ("id", "state", "done", "total", "bars_so_far", "eta_seconds", "error")


def valid_job_id(value: Any) -> bool:
    return isinstance(value, str) and JOB_ID_RE.match(value) is not None


def job_from_result(result: dict[str, Any]) -> dict[str, Any]:
    """The job of a worker result ({"job": JOB, ...}), checked and reduced to the documented keys."""
    job = result.get("job")
    if not isinstance(job, dict) or any(key not in job for key in JOB_KEYS):
        raise ProtocolError(f"a job needs {', '.join(JOB_KEYS)}")
    if not valid_job_id(job["id"]) or job["state"] not in JOB_STATES:
        raise ProtocolError("a job's id is 32 lowercase hex digits and its state one of " + ", ".join(JOB_STATES))
    for name in ("done", "total", "bars_so_far"):
        if not _count(job[name]):
            raise ProtocolError(f"a job's {name} is a whole number")
    eta = job["eta_seconds"]
    if eta is not None and (isinstance(eta, bool) or not isinstance(eta, int | float) or eta < 0):
        raise ProtocolError("a job's eta_seconds is a number of seconds or null")
    error = job["error"]
    if error is not None and not (isinstance(error, dict) and isinstance(error.get("code"), str)
                                  and isinstance(error.get("message"), str)):
        raise ProtocolError("a job's error is null or {code, message}")
    return {key: job[key] for key in JOB_KEYS} | (
        {"error": {"code": error["code"], "message": error["message"]}} if error is not None else {})


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class HeadRequest(WireRequest):
    """The earliest bar TWS has for a series' instrument and data (reqHeadTimeStamp): no bar size, no range."""

    symbol: str
    what_to_show: str = "TRADES"
    use_rth: bool = True
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    # the contract beyond symbol, sec_type, exchange, currency: as in BarRequest (shared/contract_fields.py)
    con_id: int = 0
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False

    def validate(self) -> None:
        problems = contract_problems(self)
        if problems:
            raise InvalidBarRequest(problems)


def head_from_result(result: dict[str, Any]) -> dict[str, Any]:
    """The head of a worker result ({"head": {"time", "date"}}), checked."""
    head = result.get("head")
    if not isinstance(head, dict) or not _count(head.get("time")) or not isinstance(head.get("date"), str):
        raise ProtocolError("a head is {time: epoch seconds, date: text}")
    return {"time": head["time"], "date": head["date"]}
