"""The TWS worker: the one process that owns the TWS client id, the official ibapi client and the reconnect loop."""
