"""Command-line clients of a running bridge: they speak its HTTP API only (no Flask, no bridge internals)."""
