"""The contract look-ups as the worker's service sees them: the operations "contracts" and "symbol_search"
(shared/contract_lookup.py) and the TWS events that answer them (contractDetails for a look-up's reqId,
symbolSamples), built from the worker's parts so that the service only routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.config import BridgeConfig
from shared.errors import BridgeError
from worker.contracts.lookup import ContractLookups
from worker.contracts.resolver import LookupSender
from worker.contracts.symbol_search import SymbolSearches
from worker.contracts.waiters import Reply
from worker.timers import Timers

LOOKUP_OPS = ("contracts", "symbol_search")


class LookupOperations:
    def __init__(self, config: BridgeConfig, sender: LookupSender, timers: Timers, next_id: Callable[[], int],
                 tws_now: Callable[[], float | None] = lambda: None) -> None:
        def today() -> str:  # TWS's date (a simulator's clock may be anywhere), this host's while TWS gave none
            now = tws_now()
            return time.strftime("%Y%m%d", time.gmtime(time.time() if now is None else now))

        self.contracts = ContractLookups(sender, timers, next_id, timeout=config.bar_timeout,
                                         not_found_ttl=config.contract_not_found_ttl, today=today)
        self.searches = SymbolSearches(sender, timers, next_id, timeout=config.bar_timeout)

    def handle(self, op: str, body: Any, deadline: float, reply: Reply) -> None:
        (self.contracts if op == "contracts" else self.searches).handle(body, deadline, reply)

    def on_event(self, kind: str, req_id: int, event: tuple[Any, ...]) -> bool:
        """Handle a TWS event of one of our requests; False when it is not ours."""
        if self.contracts.owns(req_id):
            if kind == "contract_details":
                self.contracts.on_details(req_id, event[3])
            elif kind == "contract_details_end":
                self.contracts.on_end(req_id)
            elif kind == "error":
                self.contracts.on_error(req_id, event[3], event[4])
            return True
        if self.searches.owns(req_id):
            if kind == "symbol_samples":
                self.searches.on_samples(req_id, event[3])
            elif kind == "error":
                self.searches.on_error(req_id, event[3], event[4])
            return True
        return False

    def owns(self, req_id: int) -> bool:
        return self.contracts.owns(req_id) or self.searches.owns(req_id)

    def fail(self, req_id: int, error: BridgeError) -> None:
        """A message for `req_id` could not be decoded (worker/tws/undecodable.py)."""
        (self.contracts if self.contracts.owns(req_id) else self.searches).fail(req_id, error)

    def fail_all(self, error: BridgeError) -> None:
        self.contracts.fail_all(error)
        self.searches.fail_all(error)

    def stats(self) -> dict[str, Any]:
        return {"contracts": self.contracts.stats(), "symbol_search": self.searches.stats()}
