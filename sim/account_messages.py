"""Requests about the account, its positions, orders and executions: what client libraries ask for at start-up.

ib_async, for one, asks for positions, open and completed orders, account updates and executions at connect and waits
for each end marker. The simulated account is empty, so each gets TWS's empty answer: just the end marker
(sim.account_answers). Codecs: sim.account_codec.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestPositions:
    pass


@dataclass(frozen=True)
class CancelPositions:
    pass


@dataclass(frozen=True)
class RequestOpenOrders:
    pass


@dataclass(frozen=True)
class RequestAllOpenOrders:
    pass


@dataclass(frozen=True)
class RequestAutoOpenOrders:
    auto_bind: bool


@dataclass(frozen=True)
class RequestCompletedOrders:
    api_only: bool


@dataclass(frozen=True)
class ExecutionFilter:
    client_id: int = 0
    account: str = ""
    time: str = ""
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""
    last_n_days: int | None = None  # from server version 200 (MIN_SERVER_VER_PARAMETRIZED_DAYS_OF_EXECUTIONS)
    specific_dates: tuple[int, ...] = ()


@dataclass(frozen=True)
class RequestExecutions:
    req_id: int
    filter: ExecutionFilter


@dataclass(frozen=True)
class RequestAccountUpdates:
    subscribe: bool
    account: str


@dataclass(frozen=True)
class RequestAccountSummary:
    req_id: int
    group: str
    tags: str


@dataclass(frozen=True)
class CancelAccountSummary:
    req_id: int


@dataclass(frozen=True)
class RequestManagedAccounts:
    pass


@dataclass(frozen=True)
class RequestPositionsMulti:
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True)
class CancelPositionsMulti:
    req_id: int


@dataclass(frozen=True)
class RequestAccountUpdatesMulti:
    req_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass(frozen=True)
class CancelAccountUpdatesMulti:
    req_id: int


AccountRequest = (
    RequestPositions
    | CancelPositions
    | RequestOpenOrders
    | RequestAllOpenOrders
    | RequestAutoOpenOrders
    | RequestCompletedOrders
    | RequestExecutions
    | RequestAccountUpdates
    | RequestAccountSummary
    | CancelAccountSummary
    | RequestManagedAccounts
    | RequestPositionsMulti
    | CancelPositionsMulti
    | RequestAccountUpdatesMulti
    | CancelAccountUpdatesMulti
)

# The outgoing message id of each (ibapi/message.py OUT), for the request log.
MSG_IDS: dict[type, int] = {
    RequestOpenOrders: 5, RequestAccountUpdates: 6, RequestExecutions: 7, RequestAutoOpenOrders: 15,
    RequestAllOpenOrders: 16, RequestManagedAccounts: 17, RequestPositions: 61, RequestAccountSummary: 62,
    CancelAccountSummary: 63, CancelPositions: 64, RequestPositionsMulti: 74, CancelPositionsMulti: 75,
    RequestAccountUpdatesMulti: 76, CancelAccountUpdatesMulti: 77, RequestCompletedOrders: 99,
}  # fmt: skip
ACCOUNT_REQUESTS: tuple[type, ...] = tuple(MSG_IDS)
