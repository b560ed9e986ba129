"""The TWS connection and everything sent to TWS: the official client, its guarded decoder, the one outbox
with its message budget and IB's pacing rules (and their durable ledger), TWS's errors and time strings."""
