"""The "symbol_search" operation: the contracts whose symbol or name starts with a text (reqMatchingSymbols), for
GET /api/v1/contracts/search.

IB allows one reqMatchingSymbols a second: searches leave one at a time, each at least SEARCH_INTERVAL after the one
before it left (stamped as it leaves the outbox, so the message budget's own waits never bring two closer), and a
search whose turn would come after its caller's deadline is refused at once with 429 pacing_limited and Retry-After.
Answers are kept SEARCH_TTL per text (IB's case does not matter: the text is sent upper-cased), a search with no
match too; identical searches waiting or in flight share one request. Every message passes the outbox's budget.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.bars import InvalidBarRequest
from shared.contract_lookup import MAX_MATCHES, SymbolSearch
from shared.errors import BridgeError, ErrorCode
from worker.contracts.resolver import LookupSender
from worker.contracts.waiters import Reply, Waiters
from worker.timers import Timer, Timers
from worker.tws.errors import classify_request_error
from worker.tws.requests import MatchingSymbolsRequest, TwsRequest

log = logging.getLogger("tws.symbol_search")

SEARCH_INTERVAL = 1.0  # seconds between two reqMatchingSymbols (IB: one a second)
SEARCH_TTL = 3600.0  # seconds an answer is kept
MAX_CACHED = 2000  # texts whose answers are kept; the least recently used is forgotten first


@dataclass(eq=False)
class _Search:
    text: str
    waiters: Waiters
    deadline: float  # the latest of its callers' deadlines: sent no later
    req_id: int = 0  # set when handed to the outbox
    ticket: object = None
    timeout: Timer | None = None


class SymbolSearches:
    def __init__(self, sender: LookupSender, timers: Timers, next_id: Callable[[], int], timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, interval: float = SEARCH_INTERVAL,
                 ttl: float = SEARCH_TTL) -> None:
        self._sender = sender
        self._timers = timers
        self._next_id = next_id
        self._timeout = timeout
        self._clock = clock
        self._interval = interval
        self._ttl = ttl
        self._answers: OrderedDict[str, tuple[float, list[dict[str, Any]]]] = OrderedDict()  # until, matches
        self._line: deque[_Search] = deque()  # not yet handed to the outbox, in arrival order
        self._outgoing: _Search | None = None  # handed to the outbox, not yet sent
        self._in_flight: dict[int, _Search] = {}  # sent, waiting for symbolSamples
        self._last_sent: float | None = None
        self._wakeup: Timer | None = None
        self.sent = 0
        self.hits = 0
        self.refused = 0

    def handle(self, body: Any, deadline: float, reply: Reply) -> None:
        """Answer the "symbol_search" operation: {"matches": [...]} or an error, before `deadline` (monotonic)."""
        try:
            search = SymbolSearch.from_wire(body)
        except InvalidBarRequest as exc:
            reply(None, BridgeError(ErrorCode.INVALID_REQUEST, str(exc), fields=exc.fields))
            return
        text = search.q.upper()
        now = self._clock()
        kept = self._answers.get(text)
        if kept is not None and now < kept[0]:
            self._answers.move_to_end(text)
            self.hits += 1
            reply({"matches": kept[1]}, None)
            return
        shared = self._waiting_for(text)
        if shared is not None:
            shared.waiters.add(reply, deadline)
            shared.deadline = max(shared.deadline, deadline)
            return
        turn = self._next_turn(now, len(self._line))
        if turn > deadline:
            self.refused += 1
            wait = turn - now
            reply(None, BridgeError(ErrorCode.PACING_LIMITED, f"IB allows one symbol search a second: this one could "
                                    f"be sent in {wait:.1f} s", retry_after=max(1.0, round(wait, 1))))
            return
        search = _Search(text, Waiters(self._timers, "the symbol search"), deadline)
        search.waiters.add(reply, deadline)
        self._line.append(search)
        self._pump()

    def _waiting_for(self, text: str) -> _Search | None:
        candidates = [*self._line, *([self._outgoing] if self._outgoing else []), *self._in_flight.values()]
        return next((s for s in candidates if s.text == text), None)

    def _next_turn(self, now: float, ahead: int) -> float:
        """When a search with `ahead` searches before it in the line may leave (at the earliest)."""
        first = now if self._last_sent is None else max(now, self._last_sent + self._interval)
        if self._outgoing is not None:
            first = max(first, now) + self._interval  # the one handed over leaves first
        return first + ahead * self._interval

    def _pump(self) -> None:
        """Hand the next search to the outbox when the one before it has left and a second has passed since."""
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        while self._line and not len(self._line[0].waiters):
            self._line.popleft()  # every caller gave up (timed out): never sent
        if self._outgoing is not None or not self._line:
            return
        now = self._clock()
        if self._last_sent is not None and now < self._last_sent + self._interval:
            self._wakeup = self._timers.call_later(self._last_sent + self._interval - now, self._pump)
            return
        search = self._line.popleft()
        search.req_id = self._next_id()
        self._outgoing = search

        def prepare() -> TwsRequest:
            self._outgoing = None
            search.ticket = None
            self._last_sent = self._clock()
            self._in_flight[search.req_id] = search
            self.sent += 1
            search.timeout = self._timers.call_later(self._timeout, lambda: self._expire(search.req_id))
            self._wakeup = self._timers.call_later(self._interval, self._pump)
            log.debug("reqMatchingSymbols reqId %d for %r", search.req_id, search.text)
            return MatchingSymbolsRequest(search.req_id, search.text)

        def fail(error: BridgeError) -> None:  # not sent: 429 (no token before the deadline) or 503
            if self._outgoing is search:
                self._outgoing = None
                search.ticket = None
                search.waiters.answer(None, error)
                self._pump()

        search.ticket = self._sender.request(prepare, search.deadline, fail)

    # ---- TWS's answers (routed here by reqId) -------------------------------------------------------------------

    def owns(self, req_id: int) -> bool:
        return req_id in self._in_flight

    def on_samples(self, req_id: int, matches: list[dict[str, Any]]) -> None:
        search = self._finish(req_id)
        matches = matches[:MAX_MATCHES]  # TWS sends at most 16
        self._answers.pop(search.text, None)
        self._answers[search.text] = (self._clock() + self._ttl, matches)
        while len(self._answers) > MAX_CACHED:
            self._answers.popitem(last=False)
        search.waiters.answer({"matches": matches}, None)

    def on_error(self, req_id: int, code: int, message: str) -> None:
        outcome = classify_request_error(code, message)
        if outcome is None:
            return
        error = outcome.error or BridgeError(ErrorCode.TWS_ERROR, message, code)
        self._finish(req_id).waiters.answer(None, error)

    def fail(self, req_id: int, error: BridgeError) -> None:
        """The answer could not be decoded: its callers get `error`; the next search asks again."""
        self._finish(req_id).waiters.answer(None, error)

    def fail_all(self, error: BridgeError) -> None:
        """The connection is gone (or IB unreachable): every search waiting, handed over or sent fails."""
        for req_id in list(self._in_flight):
            self.fail(req_id, error)
        outgoing, self._outgoing = self._outgoing, None
        if outgoing is not None:
            self._sender.withdraw(outgoing.ticket)
            outgoing.waiters.answer(None, error)
        line, self._line = self._line, deque()
        for search in line:
            search.waiters.answer(None, error)

    def _expire(self, req_id: int) -> None:
        if req_id in self._in_flight:
            log.warning("reqMatchingSymbols reqId %d not answered in %.0f s", req_id, self._timeout)
            self.fail(req_id, BridgeError(ErrorCode.TWS_TIMEOUT, "TWS did not answer the symbol search in time",
                                          retry_after=5))

    def _finish(self, req_id: int) -> _Search:
        search = self._in_flight.pop(req_id)
        if search.timeout is not None:
            search.timeout.cancel()
        return search

    def stats(self) -> dict[str, int]:
        return {"cached": len(self._answers), "hits": self.hits, "sent": self.sent, "refused": self.refused,
                "waiting": len(self._line) + (self._outgoing is not None), "in_flight": len(self._in_flight)}
