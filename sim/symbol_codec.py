"""reqMatchingSymbols (81) in and symbolSamples (79) out, in the text layouts of 9.81 and 10.x and in protobuf.

Text: the request is [reqId, pattern] (no version field); the reply [reqId, count, then per description conId,
symbol, secType, primaryExchange, currency, derivative count, the kinds], and from server version 176
(MIN_SERVER_VER_BOND_ISSUERID) also description and issuerId after each one's kinds (10.x decoder). Protobuf: both
belong to the client's "rest messages 2" group, MIN_SERVER_VER_PROTOBUF_REST_MESSAGES_2 = 212.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sim.messages import MalformedMessage, RequestMatchingSymbols, SymbolDescription
from sim.text_fields import Field

OUT_REQ_MATCHING_SYMBOLS = 81
IN_SYMBOL_SAMPLES = 79
V_DESCRIPTION = 176  # symbolSamples: description and issuerId per contract
REQUEST_PROTOBUF_FROM = {"reqMatchingSymbols": 212}
REPLY_PROTOBUF_FROM = {"symbol_samples": 212}


def _pb(name: str) -> Any:
    return getattr(importlib.import_module(f"ibapi.protobuf.{name}_pb2"), name)


def decode_text(msg_id: int, reader: Any) -> RequestMatchingSymbols | None:
    """The text request, or None when `msg_id` is another message; `reader` is text_codec's FieldReader."""
    if msg_id != OUT_REQ_MATCHING_SYMBOLS:
        return None
    return RequestMatchingSymbols(req_id=reader.integer(), pattern=reader.text())


def decode_proto(msg_id: int, body: bytes) -> RequestMatchingSymbols | None:
    """The protobuf request (logical id `msg_id`), or None when it is another message."""
    if msg_id != OUT_REQ_MATCHING_SYMBOLS:
        return None
    m = _pb("MatchingSymbolsRequest")()
    try:
        m.ParseFromString(body)
    except Exception as exc:  # DecodeError and whatever else garbage raises
        raise MalformedMessage(f"MatchingSymbolsRequest: undecodable protobuf ({exc})") from None
    if not m.HasField("reqId"):
        raise MalformedMessage("MatchingSymbolsRequest: no reqId")
    return RequestMatchingSymbols(req_id=m.reqId, pattern=m.pattern)


def symbol_samples_text(req_id: int, found: Sequence[SymbolDescription], version: int) -> list[Field]:
    fields: list[Field] = [req_id, len(found)]
    for d in found:
        fields += [d.con_id, d.symbol, d.sec_type, d.primary_exchange, d.currency, len(d.derivative_sec_types),
                   *d.derivative_sec_types]
        if version >= V_DESCRIPTION:
            fields += [d.description, ""]  # issuerId: bonds only
    return fields


def symbol_samples_proto(req_id: int, found: Sequence[SymbolDescription]) -> bytes:
    m = _pb("SymbolSamples")(reqId=req_id)
    for d in found:
        cd = m.contractDescriptions.add()
        c = cd.contract
        c.conId, c.symbol, c.secType, c.currency = d.con_id, d.symbol, d.sec_type, d.currency
        if d.primary_exchange:
            c.primaryExch = d.primary_exchange
        if d.description:
            c.description = d.description
        cd.derivativeSecTypes.extend(d.derivative_sec_types)
    return bytes(m.SerializeToString())
