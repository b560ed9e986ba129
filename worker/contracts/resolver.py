"""Turns a request's contract fields (worker/contracts/query.py: a con_id alone, or symbol, sec_type, exchange,
currency and whichever of expiry, strike, right, multiplier, primary exchange, local symbol, trading class and
include_expired it gave) into one TWS contract with its conId and time zone, once.

reqContractDetails answers with every match; the resolved contract is cached for the worker's life under the full
key, so a contract costs one round trip. The choice among several matches is worker/contracts/choice.py's: futures
without an expiry resolve to the nearest unexpired one; any other multiple match is ambiguous, with the candidates.

"No such contract" (no match, or TWS's error 200 that is not about ambiguity) is remembered for
BRIDGE_CONTRACT_NOT_FOUND_TTL seconds and answered at once without a message to TWS: an unknown symbol asked for in a
loop must not become a lookup each time (TWS allows 50 messages a second). The memory is kept in the bar store too
(until when, in wall-clock time), so a restarted worker still knows it. Ambiguity, timeouts and every other failure
are not remembered. Identical lookups in flight share one request. Lookups go through the outbox (worker/tws/outbox.py):
one that cannot have its message token before its caller's deadline fails at once with 429.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.errors import BridgeError, ErrorCode
from worker.contracts.choice import choose
from worker.contracts.query import ContractKey, contract_key, key_text, parse_key_text, query_contract
from worker.contracts.resolved import ResolvedContract
from worker.tws.errors import NO_SECURITY_DEFINITION, classify_request_error
from worker.tws.requests import ContractDetailsRequest, TwsRequest

log = logging.getLogger("tws.contract_resolver")

__all__ = ["ContractKey", "ContractResolver", "ResolvedContract", "contract_key", "key_text", "query_contract"]

Resolved = Callable[["ResolvedContract | None", "BridgeError | None"], None]
MAX_NOT_FOUND = 10_000  # remembered unknown keys; the oldest is forgotten first (and costs one lookup again)


class NotFoundStore(Protocol):
    """Where "no such contract" outlives the worker (worker/history/store.py's BarStore)."""

    def not_found(self) -> dict[str, float]: ...
    def save_not_found(self, key: str, until: float) -> None: ...


class LookupSender(Protocol):
    """What the resolver needs of the outbox."""

    def request(self, prepare: Callable[[], TwsRequest], deadline: float, fail: Callable[[BridgeError], None],
                pacing: None = None) -> object: ...
    def withdraw(self, ticket: object) -> bool: ...


@dataclass
class _Pending:
    key: ContractKey
    matches: list[dict[str, Any]]
    waiters: list[Resolved]
    ticket: object = field(default=None)  # its place in the outbox's line until sent


class ContractResolver:
    def __init__(self, sender: LookupSender, next_id: Callable[[], int],
                 today: Callable[[], str] = lambda: datetime.now().strftime("%Y%m%d"),
                 call_later: Callable[[float, Callable[[], None]], object] | None = None,
                 timeout: float = 30.0, not_found_ttl: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, store: NotFoundStore | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self._sender = sender
        self._next_id = next_id
        self._today = today
        self._call_later = call_later  # a lookup TWS never answers must not hold later requests for the symbol
        self._timeout = timeout
        self._not_found_ttl = not_found_ttl  # 0: never remembered
        self._clock = clock
        self._cache: dict[ContractKey, ResolvedContract] = {}
        self._not_found: OrderedDict[ContractKey, tuple[float, BridgeError]] = OrderedDict()  # until, answer
        self._pending: dict[int, _Pending] = {}
        self._by_key: dict[ContractKey, int] = {}
        self.lookups = 0  # reqContractDetails sent
        self.coalesced = 0  # resolves that joined a lookup in flight
        self.not_found_hits = 0  # answered from the "no such contract" memory
        self._store = store
        self._wall = wall
        if store is not None:
            self._load_not_found(store)

    def _load_not_found(self, store: NotFoundStore) -> None:
        """What an earlier worker learnt: each key until its wall-clock time, on this process's monotonic clock."""
        if self._not_found_ttl <= 0:
            return
        now, wall_now = self._clock(), self._wall()
        for text, until in sorted(store.not_found().items(), key=lambda item: item[1]):
            key = parse_key_text(text)
            if key is None or until <= wall_now:
                continue
            # the remaining time, never more than the ttl (a wall clock set back must not make it longer)
            left = min(until - wall_now, self._not_found_ttl)
            self._not_found[key] = (now + left, BridgeError(ErrorCode.SYMBOL_NOT_FOUND,
                                                            f"no contract found for {key.label}", 200))
        while len(self._not_found) > MAX_NOT_FOUND:
            self._not_found.popitem(last=False)

    def resolve(self, key: ContractKey, done: Resolved, deadline: float = float("inf")) -> None:
        """Answer `done` from the cache or the not-found memory at once, or after one lookup that every resolve of
        the key shares; `deadline` (monotonic) bounds the lookup's wait for its turn to be sent."""
        cached = self._cache.get(key)
        if cached is not None:
            done(cached, None)
            return
        unknown = self._remembered_not_found(key)
        if unknown is not None:
            self.not_found_hits += 1
            done(None, unknown)
            return
        req_id = self._by_key.get(key)
        if req_id is not None:
            self.coalesced += 1
            self._pending[req_id].waiters.append(done)
            return
        req_id = self._next_id()
        pending = _Pending(key, [], [done])
        self._pending[req_id] = pending
        self._by_key[key] = req_id

        def prepare() -> TwsRequest:
            pending.ticket = None
            self.lookups += 1
            log.debug("reqContractDetails reqId %d for %s", req_id, key)
            if self._call_later is not None:
                self._call_later(self._timeout, lambda: self._expire(req_id))
            return ContractDetailsRequest(req_id, query_contract(key))

        def fail(error: BridgeError) -> None:  # not sent: 429 (no turn before the deadline) or 503
            if self._pending.get(req_id) is pending:
                for waiter in self._finish(req_id).waiters:
                    waiter(None, error)

        pending.ticket = self._sender.request(prepare, deadline, fail)

    def _remembered_not_found(self, key: ContractKey) -> BridgeError | None:
        entry = self._not_found.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._not_found[key]
            return None
        return entry[1]

    def _remember_not_found(self, key: ContractKey, error: BridgeError) -> None:
        if self._not_found_ttl <= 0:
            return
        self._not_found.pop(key, None)
        self._not_found[key] = (self._clock() + self._not_found_ttl, error)
        if self._store is not None:
            self._store.save_not_found(key_text(key), self._wall() + self._not_found_ttl)
        while len(self._not_found) > MAX_NOT_FOUND:
            self._not_found.popitem(last=False)

    def _expire(self, req_id: int) -> None:
        if req_id in self._pending:
            log.warning("reqContractDetails reqId %d not answered in %.0f s; the next request asks again", req_id,
                        self._timeout)
            error = BridgeError(ErrorCode.TWS_TIMEOUT, "TWS did not answer the contract lookup in time",
                                retry_after=5)
            for done in self._finish(req_id).waiters:
                done(None, error)

    def cached(self, key: ContractKey) -> bool:
        return key in self._cache

    def stats(self) -> dict[str, int]:
        return {"cached": len(self._cache), "not_found_remembered": len(self._not_found),
                "not_found_hits": self.not_found_hits, "lookups_sent": self.lookups, "coalesced": self.coalesced,
                "in_flight": len(self._pending)}

    def owns(self, req_id: int) -> bool:
        return req_id in self._pending

    def on_details(self, req_id: int, details: dict[str, Any]) -> None:
        self._pending[req_id].matches.append(details)

    def on_end(self, req_id: int) -> None:
        pending = self._finish(req_id)
        resolved, error = self._choose(pending)
        if resolved is not None:
            self._cache[pending.key] = resolved
        elif error is not None and error.code is ErrorCode.SYMBOL_NOT_FOUND:
            self._remember_not_found(pending.key, error)
        for done in pending.waiters:
            done(resolved, error)

    def on_error(self, req_id: int, code: int, message: str) -> None:
        outcome = classify_request_error(code, message)
        if outcome is None:
            return
        error = outcome.error or BridgeError(ErrorCode.SYMBOL_NOT_FOUND, message, code)
        pending = self._finish(req_id)
        if error.code is ErrorCode.SYMBOL_NOT_FOUND and code == NO_SECURITY_DEFINITION:
            self._remember_not_found(pending.key, error)  # 200 "No security definition": not ambiguity, not a fault
        for done in pending.waiters:
            done(None, error)

    def fail(self, req_id: int, error: BridgeError) -> None:
        """The lookup's answer could not be decoded: its callers get `error`; the next request asks again."""
        for done in self._finish(req_id).waiters:
            done(None, error)

    def fail_all(self, error: BridgeError) -> None:
        for req_id in list(self._pending):
            for done in self._finish(req_id).waiters:
                done(None, error)

    def _finish(self, req_id: int) -> _Pending:
        pending = self._pending.pop(req_id)
        self._by_key.pop(pending.key, None)
        if pending.ticket is not None:  # still waiting for its turn: never sent now
            self._sender.withdraw(pending.ticket)
            pending.ticket = None
        return pending

    def _choose(self, pending: _Pending) -> tuple[ResolvedContract | None, BridgeError | None]:
        return choose(pending.key, pending.matches, self._today())
