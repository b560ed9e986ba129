"""What the worker can send TWS, as plain values; the only code in worker/ that calls ibapi's send methods.

Other modules build one of these and hand it to the outbox (worker/tws/outbox.py), which sends it when the message
budget and IB's pacing rules allow; `send_to` is called by the outbox alone (tests/worker/tws/test_requests.py proves
that no other module calls an ibapi method that sends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ibapi.contract import Contract


class TwsRequest(Protocol):
    name: str

    def send_to(self, client: Any) -> None: ...


@dataclass(frozen=True)
class HistoricalDataRequest:
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
