"""`python -m sim.ctl --control-port P OP [key=value ...]`: drive a running simulator's faults and clock.

Example: python -m sim.ctl --control-port 7498 refuse_connections seconds=10
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any


def request(port: int, op: str, host: str = "127.0.0.1", timeout: float = 10.0, **args: Any) -> Any:
    """Send one operation to the control socket and return its result (raises RuntimeError on failure)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            line = stream.readline()
    if not line:
        raise RuntimeError("control socket closed without a reply")
    reply = json.loads(line)
    if not reply.get("ok"):
        raise RuntimeError(reply.get("error", "control operation failed"))
    return reply.get("result")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.ctl", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--control-port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("op", help="operation, e.g. drop_all, refuse_connections, lose_connectivity, clock_freeze")
    p.add_argument("args", nargs="*", help="key=value arguments (values are JSON when they parse)")
    a = p.parse_args(argv)
    kwargs = {}
    for item in a.args:
        key, sep, val = item.partition("=")
        if not sep:
            p.error(f"argument {item!r} is not key=value")
        kwargs[key] = _value(val)
    try:
        print(json.dumps(request(a.control_port, a.op, a.host, **kwargs), default=str))
    except (OSError, RuntimeError) as exc:
        print(f"python -m sim.ctl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
