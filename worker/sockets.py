"""The worker's two ZeroMQ sockets: the ROUTER that HTTP workers ask, and the PUB socket live series' events go out on.

An ipc:// endpoint lives in a private directory (mode 0700), so only the bridge's user can connect to either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import zmq

SEND_HWM = 100_000  # events queued per subscriber before ZeroMQ drops (a receiver sees the gap in seq, re-opens)


def _private_directory(endpoint: str) -> None:
    if endpoint.startswith("ipc://"):
        directory = Path(endpoint[len("ipc://"):]).parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)


def bind_router(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    """Bind the ROUTER; an ipc:// endpoint lives in a private directory (mode 0700)."""
    _private_directory(endpoint)
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 0)  # a caller that went away: drop its late answer silently
    sock.bind(endpoint)
    return sock


def bind_publisher(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    """Bind the PUB socket for live series' events (shared/streams.py), private like the ROUTER's."""
    _private_directory(endpoint)
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, SEND_HWM)
    sock.bind(endpoint)
    return sock
