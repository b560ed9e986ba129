"""Loopback ports for tests: a free one to listen on, and whether something accepts on one."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def connections_to(port: int) -> set[int]:
    """The client-side ports of the established TCP connections to 127.0.0.1:`port` on this host (Linux's
    /proc/net/tcp), whoever opened them: a connection that stays open keeps its port, a new one has a new port."""
    ports: set[int] = set()
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        if state == "01" and remote == f"0100007F:{port:04X}" and local.startswith("0100007F:"):
            ports.add(int(local.split(":")[1], 16))
    return ports
