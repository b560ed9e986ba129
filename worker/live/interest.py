"""Who streams a live series: each HTTP worker's count of clients, as its latest `stream_interest` said.

An HTTP worker renews its counts every few seconds while it has clients (shared/streams.py INTEREST_INTERVAL_S) and
sends 0 when its last client of a series leaves; a count not renewed within the idle TTL (an HTTP worker that died)
no longer counts.
"""

from __future__ import annotations


class Interest:
    def __init__(self) -> None:
        self._by_worker: dict[int, tuple[int, float]] = {}  # pid -> (clients, monotonic time of the renewal)

    def renew(self, http_worker: int, clients: int, now: float) -> None:
        if clients > 0:
            self._by_worker[http_worker] = (clients, now)
        else:
            self._by_worker.pop(http_worker, None)

    def prune(self, now: float, ttl: float) -> None:
        self._by_worker = {pid: entry for pid, entry in self._by_worker.items() if now - entry[1] < ttl}

    def clients(self, now: float, ttl: float) -> int:
        return sum(count for count, at in self._by_worker.values() if now - at < ttl)

    def workers(self, now: float, ttl: float) -> int:
        return sum(1 for _, at in self._by_worker.values() if now - at < ttl)
