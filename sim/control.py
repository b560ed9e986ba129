"""Runtime control of a running simulator: the fault and clock operations, by name.

One table serves both the in-process test harness (`SimulatedTws.control`) and the loopback control socket that
`python -m sim --control-port P` opens for tests that run the simulator as its own process (`python -m sim.ctl`).
The socket speaks JSON lines: {"op": "refuse_connections", "seconds": 10} -> {"ok": true, "result": ...}.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sim.pacing import check_scale
from sim.server import SimServer

log = logging.getLogger("sim.control")

Operation = Callable[..., Any]


def _set_fault(name: str) -> Operation:
    def op(server: SimServer, value: Any) -> None:
        setattr(server.faults, name, value)
    return op


def _lenient_durations(server: SimServer, value: object = True) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"lenient_durations: value must be true or false, got {value!r}")
    server.lenient_durations = value


def _pacing_scale(server: SimServer, value: object) -> None:
    server.pacing.scale = check_scale(value)  # the windows of requests already counted shrink or grow with it


OPERATIONS: dict[str, Operation] = {
    "drop_all": lambda s: s.drop_all(),
    "drop_after_next_history": lambda s: setattr(s.faults, "drop_after_next_history", True),
    "drop_after_updates": lambda s, count=1: setattr(s.faults, "drop_after_updates", int(count)),
    "refuse_connections": lambda s, seconds: s.refuse_connections(float(seconds)),
    "lose_connectivity": lambda s: s.lose_connectivity(),
    "restore_connectivity": lambda s, data_kept: s.restore_connectivity(bool(data_kept)),
    "set_farm": lambda s, farm, ok: s.set_farm(str(farm), bool(ok)),
    "reply_delay": lambda s, seconds: setattr(s.faults, "reply_delay", float(seconds)),
    "never_answer": lambda s, name="RequestHistoricalData", count=1: s.faults.never_answer(str(name), int(count)),
    "split_frames": _set_fault("split_frames"),
    "silent_handshake": _set_fault("silent_handshake"),
    "malformed_volume": lambda s, symbol, text: s.faults.malformed_volume(str(symbol), str(text)),
    "clear_faults": lambda s: s.faults.clear(),
    "lenient_durations": _lenient_durations,
    "pacing_scale": _pacing_scale,
    "max_message_rate": lambda s, value=None, drop_after=None: s.set_message_rate(value, drop_after),
    "clock_freeze": lambda s, at=None: s.clock.freeze(None if at is None else float(at)),
    "clock_run_from": lambda s, at, speed=1.0: s.clock.run_from(float(at), float(speed)),
    "clock_real": lambda s: s.clock.set_real(),
    "clock_now": lambda s: s.clock.now(),
    "client_ids": lambda s: s.client_ids,
    "received": lambda s, name=None: [dataclasses.asdict(r) for r in s.request_log.received(name)],
    "errors": lambda s, code=None: [dataclasses.asdict(e) for e in s.request_log.errors(code)],
    "clear_log": lambda s: s.request_log.clear(),
    "record_updates": lambda s, value=True: setattr(s.request_log, "recording_updates", bool(value)),
    "updates_sent": lambda s: [dataclasses.asdict(u) for u in s.request_log.updates()],
}


async def perform(server: SimServer, op: str, args: dict[str, Any]) -> Any:
    """Run one operation on the server's loop; coroutines (refuse_connections) are awaited."""
    func = OPERATIONS.get(op)
    if func is None:
        raise ValueError(f"unknown operation {op!r}; one of {', '.join(sorted(OPERATIONS))}")
    result = func(server, **args)
    if isinstance(result, Awaitable):
        result = await result
    return result


async def serve_control(server: SimServer, host: str, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    msg = json.loads(line)
                    if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
                        raise ValueError('expected {"op": NAME, ...}')
                    args = {k: v for k, v in msg.items() if k != "op"}
                    reply = {"ok": True, "result": await perform(server, msg["op"], args)}
                except (ValueError, TypeError, KeyError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(reply, default=str).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    control = await asyncio.start_server(handle, host, port, reuse_address=True)
    log.info("control socket on %s:%d", host, control.sockets[0].getsockname()[1])
    return control
