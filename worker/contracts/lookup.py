"""The "contracts" operation: every contract that matches the contract fields (reqContractDetails), as the bridge's
contract objects (worker/contracts/contract_json.py), for GET /api/v1/contracts.

Cached like the resolver's contracts (worker/contracts/resolver.py): a listing is kept for the worker's life, except
that one naming an expiry is kept only until that day has passed (a futures listing changes when its front contract
expires). "No such contract" (no match, or TWS's error 200) is remembered for BRIDGE_CONTRACT_NOT_FOUND_TTL seconds
and answered at once, 404 symbol_not_found, without a message to TWS; other failures are not remembered. Identical
look-ups in flight share one request; the request goes through the outbox (worker/tws/outbox.py) like every other, so
one that cannot have its message token before its caller's deadline fails at once with 429.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ibapi.contract import Contract

from shared.bars import InvalidBarRequest
from shared.contract_lookup import MAX_CONTRACTS, ContractQuery
from shared.errors import BridgeError, ErrorCode
from worker.contracts.resolver import LookupSender
from worker.contracts.waiters import Reply, Waiters
from worker.timers import Timers
from worker.tws.errors import NO_SECURITY_DEFINITION, classify_request_error
from worker.tws.requests import ContractDetailsRequest, TwsRequest

log = logging.getLogger("tws.contract_lookup")

MAX_CACHED = 2000  # listings kept (and unknown queries remembered); the least recently used is forgotten first


def query_contract(query: ContractQuery) -> Contract:
    """The Contract TWS matches: a con_id alone names its contract (the other fields could only contradict it);
    otherwise every field given narrows the match and the others keep the client's defaults."""
    c = Contract()
    c.includeExpired = query.include_expired
    if query.con_id > 0:
        c.conId = query.con_id
        return c
    c.symbol, c.secType, c.exchange, c.currency = query.symbol, query.sec_type, query.exchange, query.currency
    for attribute, value in (("lastTradeDateOrContractMonth", query.last_trade_date), ("right", query.right),
                             ("multiplier", query.multiplier), ("primaryExchange", query.primary_exchange),
                             ("localSymbol", query.local_symbol), ("tradingClass", query.trading_class)):
        if value:
            setattr(c, attribute, value)
    if query.strike > 0:
        c.strike = float(query.strike)
    return c


@dataclass
class _Listing:
    contracts: list[dict[str, Any]]
    last_day: str  # yyyymmdd: the earliest expiry listed ("" none): kept while today is not after it


@dataclass
class _Pending:
    query: ContractQuery
    waiters: Waiters
    matches: list[dict[str, Any]] = field(default_factory=list)
    too_many: bool = False  # more than MAX_CONTRACTS matched (a large stock's whole option chain)
    ticket: object = None  # its place in the outbox's line until sent
    timeout: Any = None


class ContractLookups:
    def __init__(self, sender: LookupSender, timers: Timers, next_id: Callable[[], int], timeout: float = 30.0,
                 not_found_ttl: float = 300.0,
                 today: Callable[[], str] = lambda: datetime.now().strftime("%Y%m%d"),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sender = sender
        self._timers = timers
        self._next_id = next_id
        self._timeout = timeout  # once sent, TWS has this long to answer
        self._not_found_ttl = not_found_ttl  # 0: never remembered
        self._today = today
        self._clock = clock
        self._listings: OrderedDict[ContractQuery, _Listing] = OrderedDict()
        self._not_found: OrderedDict[ContractQuery, tuple[float, BridgeError]] = OrderedDict()  # until, answer
        self._pending: dict[int, _Pending] = {}
        self._by_query: dict[ContractQuery, int] = {}
        self.lookups = 0  # reqContractDetails sent
        self.hits = 0  # answered from the cache or the "no such contract" memory

    def handle(self, body: Any, deadline: float, reply: Reply) -> None:
        """Answer the "contracts" operation: {"contracts": [...]} or an error, before `deadline` (monotonic)."""
        try:
            query = ContractQuery.from_wire(body)
        except InvalidBarRequest as exc:
            reply(None, BridgeError(ErrorCode.INVALID_REQUEST, str(exc), fields=exc.fields))
            return
        if query.con_id > 0:  # the other fields are not sent: one cache entry per contract
            query = ContractQuery(con_id=query.con_id, include_expired=query.include_expired)
        answer = self._remembered(query)
        if answer is not None:
            self.hits += 1
            reply(*answer)
            return
        req_id = self._by_query.get(query)
        if req_id is not None:
            self._pending[req_id].waiters.add(reply, deadline)
            return
        req_id = self._next_id()
        pending = _Pending(query, Waiters(self._timers, "the contract look-up"))
        pending.waiters.add(reply, deadline)
        self._pending[req_id] = pending
        self._by_query[query] = req_id

        def prepare() -> TwsRequest:
            pending.ticket = None
            self.lookups += 1
            pending.timeout = self._timers.call_later(self._timeout, lambda: self._expire(req_id))
            log.debug("reqContractDetails reqId %d for %s", req_id, query)
            return ContractDetailsRequest(req_id, query_contract(query))

        def fail(error: BridgeError) -> None:  # not sent: 429 (no turn before the deadline) or 503
            if self._pending.get(req_id) is pending:
                self._finish(req_id).waiters.answer(None, error)

        pending.ticket = self._sender.request(prepare, deadline, fail)

    def _remembered(self, query: ContractQuery) -> tuple[dict[str, Any] | None, BridgeError | None] | None:
        listing = self._listings.get(query)
        if listing is not None:
            if listing.last_day and self._today() > listing.last_day:
                del self._listings[query]  # a contract in it has expired: ask TWS again
            else:
                self._listings.move_to_end(query)
                return {"contracts": listing.contracts}, None
        unknown = self._not_found.get(query)
        if unknown is not None:
            if self._clock() < unknown[0]:
                return None, unknown[1]
            del self._not_found[query]
        return None

    def _remember_not_found(self, query: ContractQuery, error: BridgeError) -> None:
        if self._not_found_ttl > 0:
            self._not_found.pop(query, None)
            self._not_found[query] = (self._clock() + self._not_found_ttl, error)
            while len(self._not_found) > MAX_CACHED:
                self._not_found.popitem(last=False)

    # ---- TWS's answers (routed here by reqId) -------------------------------------------------------------------

    def owns(self, req_id: int) -> bool:
        return req_id in self._pending

    def on_details(self, req_id: int, details: dict[str, Any]) -> None:
        pending = self._pending[req_id]
        if len(pending.matches) < MAX_CONTRACTS:
            pending.matches.append(details)
        else:
            pending.too_many = True

    def on_end(self, req_id: int) -> None:
        pending = self._finish(req_id)
        query = pending.query
        if pending.too_many:  # an arbitrary part of the list would mislead: the caller narrows it instead
            why = (f"matches more than {MAX_CONTRACTS} contracts: narrow it with last_trade_date, right or strike "
                   "(or exchange, trading_class)")
            pending.waiters.answer(None, BridgeError(ErrorCode.INVALID_REQUEST, f"{_described(query)} {why}",
                                                     fields={"symbol": why}))
            return
        if not pending.matches:
            error = BridgeError(ErrorCode.SYMBOL_NOT_FOUND, f"no contract matches {_described(query)}", 200)
            self._remember_not_found(query, error)
            pending.waiters.answer(None, error)
            return
        contracts = sorted(pending.matches, key=lambda c: (c["last_trade_date"], c["right"], c["strike"],
                                                           c["con_id"]))
        days = [c["last_trade_date"][:8] for c in contracts if len(c["last_trade_date"]) >= 8]
        self._listings[query] = _Listing(contracts, min(days, default=""))
        while len(self._listings) > MAX_CACHED:
            self._listings.popitem(last=False)
        pending.waiters.answer({"contracts": contracts}, None)

    def on_error(self, req_id: int, code: int, message: str) -> None:
        outcome = classify_request_error(code, message)
        if outcome is None:
            return  # informational: the answer goes on
        error = outcome.error or BridgeError(ErrorCode.SYMBOL_NOT_FOUND, message, code)
        pending = self._finish(req_id)
        if code == NO_SECURITY_DEFINITION:  # "No security definition has been found": a fact, not a fault
            error = BridgeError(ErrorCode.SYMBOL_NOT_FOUND, f"no contract matches {_described(pending.query)} "
                                f"(TWS {code}: {message})", code)
            self._remember_not_found(pending.query, error)
        pending.waiters.answer(None, error)

    def fail(self, req_id: int, error: BridgeError) -> None:
        """The answer could not be decoded: its callers get `error`; the next request asks again."""
        self._finish(req_id).waiters.answer(None, error)

    def fail_all(self, error: BridgeError) -> None:
        for req_id in list(self._pending):
            self.fail(req_id, error)

    def _expire(self, req_id: int) -> None:
        if req_id in self._pending:
            log.warning("reqContractDetails reqId %d not answered in %.0f s", req_id, self._timeout)
            self.fail(req_id, BridgeError(ErrorCode.TWS_TIMEOUT, "TWS did not answer the contract look-up in time",
                                          retry_after=5))

    def _finish(self, req_id: int) -> _Pending:
        pending = self._pending.pop(req_id)
        self._by_query.pop(pending.query, None)
        if pending.ticket is not None:  # still waiting for its turn: never sent now
            self._sender.withdraw(pending.ticket)
            pending.ticket = None
        if pending.timeout is not None:
            pending.timeout.cancel()
        return pending

    def stats(self) -> dict[str, int]:
        return {"cached": len(self._listings), "not_found_remembered": len(self._not_found), "hits": self.hits,
                "lookups_sent": self.lookups, "in_flight": len(self._pending)}


def _described(query: ContractQuery) -> str:
    if query.con_id > 0:
        return f"con_id {query.con_id}"
    given = [query.symbol or query.local_symbol, query.sec_type, query.exchange, query.currency, query.last_trade_date]
    return " ".join(part for part in given if part)
