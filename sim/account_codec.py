"""Wire layouts of the account, position, order and execution requests and of their end markers.

Text layouts follow the official clients' `client.py` (requests) and `decoder.py` (replies) for the negotiated version;
protobuf bodies their `createXxxProto` / `processXxxProtoBuf` helpers. The 10.x client sends these requests as
protobuf from the versions in `REQUEST_PROTOBUF_FROM` (common.getServerVersionForMessage) and TWS answers in protobuf
from the same group versions (sim.codec.REPLY_PROTOBUF_FROM).
"""

from __future__ import annotations

import importlib
from typing import Any

from sim.account_messages import (
    AccountRequest,
    CancelAccountSummary,
    CancelAccountUpdatesMulti,
    CancelPositions,
    CancelPositionsMulti,
    ExecutionFilter,
    RequestAccountSummary,
    RequestAccountUpdates,
    RequestAccountUpdatesMulti,
    RequestAllOpenOrders,
    RequestAutoOpenOrders,
    RequestCompletedOrders,
    RequestExecutions,
    RequestManagedAccounts,
    RequestOpenOrders,
    RequestPositions,
    RequestPositionsMulti,
)
from sim.messages import MalformedMessage
from sim.text_fields import Field, FieldReader

V_PARAMETRIZED_DAYS_OF_EXECUTIONS = 200  # reqExecutions: lastNDays and specificDates

REQUEST_PROTOBUF_FROM: dict[str, int] = {
    "reqExecutions": 201,  # MIN_SERVER_VER_PROTOBUF
    **dict.fromkeys(("reqOpenOrders", "reqAllOpenOrders", "reqAutoOpenOrders", "reqCompletedOrders"), 204),
    **dict.fromkeys(("reqAccountUpdates", "reqManagedAccts", "reqPositions", "cancelPositions", "reqAccountSummary",
                     "cancelAccountSummary", "reqPositionsMulti", "cancelPositionsMulti", "reqAccountUpdatesMulti",
                     "cancelAccountUpdatesMulti"), 207),
}  # fmt: skip
REPLY_PROTOBUF_FROM: dict[str, int] = {
    "execution_details_end": 201,
    "open_order_end": 204,
    "completed_orders_end": 204,
    **dict.fromkeys(("position_end", "account_download_end", "account_summary_end", "position_multi_end",
                     "account_update_multi_end"), 207),
}  # fmt: skip
REPLY_IDS: dict[str, int] = {  # incoming message ids (ibapi/message.py IN)
    "open_order_end": 53, "account_download_end": 54, "execution_details_end": 55, "position_end": 62,
    "account_summary_end": 64, "position_multi_end": 72, "account_update_multi_end": 74, "completed_orders_end": 102,
}  # fmt: skip


# ---- text requests ------------------------------------------------------------------------------------------------


def _executions(r: FieldReader, version: int) -> RequestExecutions:
    r.integer()  # message version 3
    req_id = r.integer()  # from MIN_SERVER_VER_EXECUTION_DATA_CHAIN (42), below every version served here
    client_id, account, time, symbol = r.integer(), r.text(), r.text(), r.text()
    sec_type, exchange, side = r.text(), r.text(), r.text()
    last_n_days, dates = None, ()
    if version >= V_PARAMETRIZED_DAYS_OF_EXECUTIONS:
        last_n_days = r.integer()
        count = r.integer()
        if not 0 <= count <= 1000:
            raise MalformedMessage(f"reqExecutions: implausible date count {count}")
        dates = tuple(r.integer() for _ in range(count))
    spec = ExecutionFilter(client_id, account, time, symbol, sec_type, exchange, side, last_n_days, dates)
    return RequestExecutions(req_id=req_id, filter=spec)


def decode_text(msg_id: int, r: FieldReader, version: int) -> AccountRequest | None:
    """The account request with text id `msg_id` (its fields still in `r`), or None for another message."""
    if msg_id == 7:
        return _executions(r, version)
    if msg_id == 99:  # reqCompletedOrders has no version field
        return RequestCompletedOrders(api_only=r.flag())
    if msg_id not in (5, 6, 15, 16, 17, 61, 62, 63, 64, 74, 75, 76, 77):
        return None
    r.integer()  # message version
    match msg_id:
        case 5:
            return RequestOpenOrders()
        case 6:
            return RequestAccountUpdates(subscribe=r.flag(), account=r.text())
        case 15:
            return RequestAutoOpenOrders(auto_bind=r.flag())
        case 16:
            return RequestAllOpenOrders()
        case 17:
            return RequestManagedAccounts()
        case 61:
            return RequestPositions()
        case 62:
            return RequestAccountSummary(req_id=r.integer(), group=r.text(), tags=r.text())
        case 63:
            return CancelAccountSummary(req_id=r.integer())
        case 64:
            return CancelPositions()
        case 74:
            return RequestPositionsMulti(req_id=r.integer(), account=r.text(), model_code=r.text())
        case 75:
            return CancelPositionsMulti(req_id=r.integer())
        case 76:
            return RequestAccountUpdatesMulti(req_id=r.integer(), account=r.text(), model_code=r.text(),
                                              ledger_and_nlv=r.flag())
        case _:
            return CancelAccountUpdatesMulti(req_id=r.integer())


# ---- protobuf requests --------------------------------------------------------------------------------------------

_PROTO_REQUESTS = {
    7: "ExecutionRequest", 5: "OpenOrdersRequest", 16: "AllOpenOrdersRequest", 15: "AutoOpenOrdersRequest",
    99: "CompletedOrdersRequest", 6: "AccountDataRequest", 17: "ManagedAccountsRequest", 61: "PositionsRequest",
    64: "CancelPositions", 62: "AccountSummaryRequest", 63: "CancelAccountSummary", 74: "PositionsMultiRequest",
    75: "CancelPositionsMulti", 76: "AccountUpdatesMultiRequest", 77: "CancelAccountUpdatesMulti",
}  # fmt: skip
_PROTO_REPLIES = ("ExecutionDetailsEnd", "OpenOrdersEnd", "CompletedOrdersEnd", "PositionEnd", "AccountDataEnd",
                  "AccountSummaryEnd", "PositionMultiEnd", "AccountUpdateMultiEnd")


def _load() -> dict[str, Any]:
    return {name: getattr(importlib.import_module(f"ibapi.protobuf.{name}_pb2"), name)
            for name in (*_PROTO_REQUESTS.values(), *_PROTO_REPLIES)}


try:
    _PB: dict[str, Any] = _load()
except Exception:  # no 10.x client (9.81 environment): the text protocol only
    _PB = {}


def _req_id(message: Any) -> int:
    if not message.HasField("reqId"):
        raise MalformedMessage(f"{type(message).__name__}: no reqId")
    return int(message.reqId)


def decode_proto(msg_id: int, body: bytes) -> AccountRequest | None:
    """The account request in protobuf `body` for logical id `msg_id`, or None for another message."""
    name = _PROTO_REQUESTS.get(msg_id)
    if name is None or not _PB:
        return None
    m = _PB[name]()
    try:
        m.ParseFromString(body)
    except Exception as exc:  # DecodeError, and anything else the runtime raises on garbage
        raise MalformedMessage(f"{name}: undecodable protobuf ({exc})") from None
    match msg_id:
        case 7:
            f = m.executionFilter
            spec = ExecutionFilter(f.clientId, f.acctCode, f.time, f.symbol, f.secType, f.exchange, f.side,
                                   f.lastNDays if f.HasField("lastNDays") else None, tuple(f.specificDates))
            return RequestExecutions(req_id=_req_id(m), filter=spec)
        case 5:
            return RequestOpenOrders()
        case 16:
            return RequestAllOpenOrders()
        case 15:
            return RequestAutoOpenOrders(auto_bind=m.autoBind)
        case 99:
            return RequestCompletedOrders(api_only=m.apiOnly)
        case 6:
            return RequestAccountUpdates(subscribe=m.subscribe, account=m.acctCode)
        case 17:
            return RequestManagedAccounts()
        case 61:
            return RequestPositions()
        case 64:
            return CancelPositions()
        case 62:
            return RequestAccountSummary(req_id=_req_id(m), group=m.group, tags=m.tags)
        case 63:
            return CancelAccountSummary(req_id=_req_id(m))
        case 74:
            return RequestPositionsMulti(req_id=_req_id(m), account=m.account, model_code=m.modelCode)
        case 75:
            return CancelPositionsMulti(req_id=_req_id(m))
        case 76:
            return RequestAccountUpdatesMulti(req_id=_req_id(m), account=m.account, model_code=m.modelCode,
                                              ledger_and_nlv=m.ledgerAndNLV)
        case _:
            return CancelAccountUpdatesMulti(req_id=_req_id(m))


# ---- replies: the end markers -------------------------------------------------------------------------------------


# name -> (protobuf message, the field it carries: its request's id, the account name, or nothing)
END_MARKERS: dict[str, tuple[str, str | None]] = {
    "execution_details_end": ("ExecutionDetailsEnd", "reqId"), "open_order_end": ("OpenOrdersEnd", None),
    "completed_orders_end": ("CompletedOrdersEnd", None), "position_end": ("PositionEnd", None),
    "account_download_end": ("AccountDataEnd", "accountName"), "account_summary_end": ("AccountSummaryEnd", "reqId"),
    "position_multi_end": ("PositionMultiEnd", "reqId"), "account_update_multi_end": ("AccountUpdateMultiEnd", "reqId"),
}  # fmt: skip


def _checked(name: str, value: int | str | None) -> str | None:
    field = END_MARKERS[name][1]
    if (field is None) != (value is None):
        raise ValueError(f"{name} carries {field or 'no value'}, got {value!r}")
    return field


def end_marker_text(name: str, value: int | str | None) -> list[Field]:
    """Fields after the message id: completedOrdersEnd has none, the others a version (1) and their value if any."""
    _checked(name, value)
    if name == "completed_orders_end":
        return []
    return [1] if value is None else [1, value]


def end_marker_proto(name: str, value: int | str | None) -> bytes:
    field = _checked(name, value)
    m = _PB[END_MARKERS[name][0]]()
    if field is not None:
        setattr(m, field, value)
    return bytes(m.SerializeToString())
