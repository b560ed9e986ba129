"""ib_async, an independent TWS client library (its own protocol code, not ibapi), driven with its synchronous API.

It negotiates server versions 157..178, asks for positions, open and completed orders, account updates and executions
at connect and waits for each end marker, and sends unset numeric fields (None) as empty fields: the other-library
behaviour the simulator must meet as TWS does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from ib_async import IB

DEADLINE_S = 10.0


@contextmanager
def ib_async_connected(port: int, client_id: int = 1, readonly: bool = False, **connect: object) -> Iterator[IB]:
    """An ib_async IB() connected to 127.0.0.1:`port`; every blocking request fails after DEADLINE_S."""
    ib = IB()
    try:
        ib.connect("127.0.0.1", port, clientId=client_id, timeout=DEADLINE_S, readonly=readonly, **connect)
        ib.RequestTimeout = DEADLINE_S  # not before: connect() itself runs under it
        yield ib
    finally:
        ib.disconnect()


def timed_connect(port: int, client_id: int, readonly: bool) -> float:
    """Seconds IB().connect() takes to finish its start-up synchronisation (raising on any start-up timeout)."""
    ib = IB()
    started = time.monotonic()
    try:
        ib.connect("127.0.0.1", port, clientId=client_id, timeout=DEADLINE_S, readonly=readonly, raiseSyncErrors=True)
        return time.monotonic() - started
    finally:
        ib.disconnect()
