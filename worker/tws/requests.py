"""What the worker can send TWS, as plain values; the only code in worker/ that calls ibapi's send methods.

Other modules build one of these and hand it to the outbox (worker/tws/outbox.py), which sends it when the message
budget and IB's pacing rules allow; `send_to` is called by the outbox alone (tests/worker/tws/test_requests.py proves
that no other module calls an ibapi method that sends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ibapi.contract import Contract

from shared.contract_fields import live_problems


class TwsRequest(Protocol):
    name: str

    def send_to(self, client: Any) -> None: ...


# IB's rules for reqHistoricalData's contract and whatToShow (docs/tws-protocol.md): a continuous future refuses an
# end date (error 10339 "Set historical data query end date/time to null for continuous future"), ADJUSTED_LAST needs
# an empty end, and keepUpToDate takes only LIVE_WHAT_TO_SHOW, never for a CONTFUT (shared/contract_fields.py)
NO_END_SEC_TYPES = frozenset({"CONTFUT"})
NO_END_WHAT_TO_SHOW = frozenset({"ADJUSTED_LAST"})


def ends_only_now(sec_type: str, what_to_show: str) -> bool:
    """Whether TWS answers this series only up to now (an empty endDateTime)."""
    return sec_type in NO_END_SEC_TYPES or what_to_show in NO_END_WHAT_TO_SHOW


def can_stream(sec_type: str, what_to_show: str) -> bool:
    """Whether TWS takes keepUpToDate for this series: an end-less series can never be kept up to date."""
    return not live_problems(what_to_show, sec_type)


def refusal(sec_type: str, what_to_show: str, end: str, keep_up_to_date: bool) -> str | None:
    """Why TWS would refuse this reqHistoricalData (the bridge never sends it then), or None."""
    if end and ends_only_now(sec_type, what_to_show):
        return f"TWS refuses an end date for {sec_type if sec_type in NO_END_SEC_TYPES else what_to_show} bars"
    if keep_up_to_date and not can_stream(sec_type, what_to_show):
        return f"TWS keeps no {sec_type} {what_to_show} series up to date"
    return None


@dataclass(frozen=True)
class HistoricalDataRequest:
    """reqHistoricalData. Built only when `refusal` has nothing against it: a request TWS would refuse is a bug of
    ours, and fails here rather than on the socket."""

    req_id: int
    contract: Contract
    end: str
    duration: str
    bar_size: str
    what_to_show: str
    use_rth: int
    format_date: int
    keep_up_to_date: bool
    name: str = "reqHistoricalData"

    def __post_init__(self) -> None:
        reason = refusal(self.contract.secType, self.what_to_show, self.end, self.keep_up_to_date)
        if reason is not None:
            raise ValueError(reason)

    def send_to(self, client: Any) -> None:
        client.reqHistoricalData(self.req_id, self.contract, self.end, self.duration, self.bar_size,
                                 self.what_to_show, self.use_rth, self.format_date, self.keep_up_to_date, [])


@dataclass(frozen=True)
class CancelHistoricalData:
    req_id: int
    name: str = "cancelHistoricalData"

    def send_to(self, client: Any) -> None:
        client.cancelHistoricalData(self.req_id)


@dataclass(frozen=True)
class ContractDetailsRequest:
    req_id: int
    contract: Contract
    name: str = "reqContractDetails"

    def send_to(self, client: Any) -> None:
        client.reqContractDetails(self.req_id, self.contract)


@dataclass(frozen=True)
class MatchingSymbolsRequest:
    """reqMatchingSymbols: the contracts whose symbol or name starts with `pattern` (IB: at most one a second)."""

    req_id: int
    pattern: str
    name: str = "reqMatchingSymbols"

    def send_to(self, client: Any) -> None:
        client.reqMatchingSymbols(self.req_id, self.pattern)


@dataclass(frozen=True)
class CurrentTimeRequest:
    name: str = "reqCurrentTime"

    def send_to(self, client: Any) -> None:
        client.reqCurrentTime()


@dataclass(frozen=True)
class MarketDataTypeRequest:
    market_data_type: int
    name: str = "reqMarketDataType"

    def send_to(self, client: Any) -> None:
        client.reqMarketDataType(self.market_data_type)


@dataclass(frozen=True)
class HeadTimestampRequest:
    """reqHeadTimeStamp: the earliest data TWS has for (contract, whatToShow, useRTH); formatDate 2 = epoch."""

    req_id: int
    contract: Contract
    what_to_show: str
    use_rth: int
    format_date: int = 2
    name: str = "reqHeadTimeStamp"

    def send_to(self, client: Any) -> None:
        client.reqHeadTimeStamp(self.req_id, self.contract, self.what_to_show, self.use_rth, self.format_date)


@dataclass(frozen=True)
class CancelHeadTimestamp:
    """cancelHeadTimeStamp: IB's samples cancel the request once it is answered (it stays open in TWS otherwise)."""

    req_id: int
    name: str = "cancelHeadTimeStamp"

    def send_to(self, client: Any) -> None:
        client.cancelHeadTimeStamp(self.req_id)


# what each message is, for the count of upstream requests by kind (GET /metrics): a bounded set of labels
KIND_OF_MESSAGE = {"reqHistoricalData": "historical", "cancelHistoricalData": "cancel_historical",
                   "reqContractDetails": "contract_details", "reqMatchingSymbols": "matching_symbols",
                   "reqCurrentTime": "current_time",
                   "reqMarketDataType": "market_data_type", "reqHeadTimeStamp": "head_timestamp",
                   "cancelHeadTimeStamp": "cancel_head_timestamp"}


def request_kind(message: TwsRequest) -> str:
    """"live_subscription" for a keepUpToDate request, else the kind of its message ("other" for none known)."""
    if isinstance(message, HistoricalDataRequest) and message.keep_up_to_date:
        return "live_subscription"
    return KIND_OF_MESSAGE.get(message.name, "other")
