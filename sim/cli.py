"""Command line of the simulator: `python -m sim --port 7497 ...` (see `python -m sim --help`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from datetime import datetime
from pathlib import Path

from sim import codec
from sim.clock import SimClock
from sim.control import serve_control
from sim.faults import ANSWERABLE, FaultPlan
from sim.message_rate import DEFAULT_MAX_MESSAGE_RATE
from sim.options import SimOptions
from sim.pacing import check_scale
from sim.server import SimServer

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def _instant(text: str) -> float:
    """ISO 8601 with an offset, e.g. 2025-01-27T10:00:00-05:00 (a time without one is refused)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the instant an offset, e.g. {text}-05:00 or {text}+00:00")
    return moment.timestamp()


def _malformed_volume(text: str) -> tuple[str, str]:
    symbol, sep, volume = text.partition("=")
    if not sep or not symbol:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=TEXT, e.g. AAPL=0.5, got {text!r}")
    return symbol, volume


def _count(text: str) -> int:
    """An integer >= 0 (0 = off)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def _pacing_scale(text: str) -> float:
    """A factor in (0, 1]."""
    try:
        return check_scale(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None


def _never_answer(text: str) -> tuple[str, int]:
    name, _, count = text.partition(":")
    if name not in ANSWERABLE or (count and not count.lstrip("-").isdigit()):
        raise argparse.ArgumentTypeError(f"expected NAME[:COUNT] with NAME one of {', '.join(ANSWERABLE)}")
    return name, int(count or -1)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action) or ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sim",
        description="A simulated TWS / IB Gateway that speaks the real TWS socket protocol (text protocol for server "
                    "versions 100-200; protobuf framing from 201 when the 10.x client's protobuf modules are "
                    "installed). Serves handshake, startApi, reqIds, reqCurrentTime, reqMarketDataType, "
                    "reqContractDetails, reqHistoricalData (keepUpToDate too), cancelHistoricalData, "
                    "reqHeadTimeStamp, the empty answers of an account without positions, orders or executions to "
                    "the start-up requests of client libraries (reqPositions, reqOpenOrders, reqExecutions, "
                    "reqAccountUpdates, reqAccountSummary, ...), with seeded synthetic bars on a real NYSE "
                    "calendar, and BTC (CRYPTO on PAXOS: 24/7, AGGTRADES/MIDPOINT/BID/ASK, fractional volumes as "
                    "decimals from server version 163, rounded below).",
        formatter_class=_HelpFormatter)
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (keep it on loopback)")
    g.add_argument("--port", type=int, default=7497, help="TWS API port (7497 paper TWS, 4002 paper Gateway)")
    g.add_argument("--max-version", type=int, default=None,
                   help=f"highest server version to negotiate; default: the highest fully supported here "
                        f"({codec.max_supported_version()})")
    g.add_argument("--account", default="DU1234567", help="account sent in managedAccounts")
    g.add_argument("--instruments", type=Path, default=None, help="instrument universe JSON (default: bundled)")
    g.add_argument("--control-port", type=int, default=None,
                   help="open a loopback JSON-lines control socket on this port (python -m sim.ctl)")
    g.add_argument("--log-requests", type=Path, default=None, metavar="FILE",
                   help="append every received message and every error sent as JSON lines")
    g.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log detail on stderr")
    g.add_argument("--max-message-rate", type=_count, default=DEFAULT_MAX_MESSAGE_RATE, metavar="N",
                   help="messages per second a connection may send (every message after the handshake, in a "
                        "sliding 1-s window); the one over it is not served and gets error 100, as in TWS; 0 = off")
    g.add_argument("--drop-after-rate-violations", type=_count, default=0, metavar="N",
                   help="close a connection at its Nth message over --max-message-rate (TWS may drop a client that "
                        "keeps flooding it); 0 = never")
    g = p.add_argument_group("market data")
    g.add_argument("--update-interval", type=float, default=5.0,
                   help="seconds between keepUpToDate updates (TWS sends about every 5 s)")
    g.add_argument("--no-pacing", action="store_true", help="do not enforce IB's historical-data pacing rules")
    g.add_argument("--pacing-scale", type=_pacing_scale, default=1.0, metavar="X",
                   help="multiply every pacing window (15 s identical, 2 s same contract, 10 min small bars) by X, "
                        "0 < X <= 1, never the counts: IB's rules in a tenth of the time with 0.1")
    g.add_argument("--lenient-durations", action="store_true",
                   help="serve durations longer than IB's table guarantees for the bar size (1 secs: 1800 S, 1 min: "
                        "1 D, 30 mins: 1 M, 1 day: 1 Y ...; real TWS is sometimes this lenient) instead of error 162 "
                        "\"Time length exceed max.\"")
    g.add_argument("--legacy-dates", action="store_true",
                   help='intraday bar dates as "yyyymmdd  HH:MM:SS" (older TWS) instead of with the time zone')
    g = p.add_argument_group("clock (default: real time)")
    g.add_argument("--clock-start", type=_instant, default=None, metavar="ISO",
                   help="start the clock at this instant, e.g. 2025-01-27T10:00:00-05:00")
    g.add_argument("--clock-speed", type=float, default=1.0,
                   help="simulated seconds per real second from --clock-start (0 = frozen)")
    g = p.add_argument_group("faults")
    g.add_argument("--reply-delay", type=float, default=0.0, metavar="SECONDS",
                   help="wait before answering every request")
    g.add_argument("--never-answer", type=_never_answer, action="append", default=[], metavar="NAME[:COUNT]",
                   help=f"swallow requests (COUNT of them, default all): NAME one of {', '.join(ANSWERABLE)}")
    g.add_argument("--split-frames", action="store_true", help="split every frame after the handshake across TCP "
                                                                "writes")
    g.add_argument("--silent-handshake", action="store_true", help="never answer the handshake")
    g.add_argument("--drop-after-history", action="store_true",
                   help="drop every connection once the bars of the next historical request are sent")
    g.add_argument("--drop-after-updates", type=int, default=None, metavar="N",
                   help="drop every connection after N keepUpToDate updates (a drop mid-stream)")
    g.add_argument("--malformed-volume", type=_malformed_volume, action="append", default=[], metavar="SYMBOL=TEXT",
                   help="send TEXT verbatim as the volume of every historical bar and keepUpToDate update of SYMBOL, "
                        "whatever the client version (AAPL=0.5 kills 9.81's reader, AAPL=1,234 the 10.x client's)")
    g.add_argument("--refuse-for", type=float, default=None, metavar="SECONDS",
                   help="refuse connections for the first SECONDS after start (a nightly restart)")
    return p


def options_from(args: argparse.Namespace) -> SimOptions:
    return SimOptions(host=args.host, port=args.port, max_version=args.max_version, account=args.account,
                      update_interval=args.update_interval, pacing=not args.no_pacing,
                      pacing_scale=args.pacing_scale,
                      lenient_durations=args.lenient_durations,
                      legacy_dates=args.legacy_dates, instruments=args.instruments, log_requests=args.log_requests,
                      max_message_rate=args.max_message_rate,
                      drop_after_rate_violations=args.drop_after_rate_violations)


def faults_from(args: argparse.Namespace) -> FaultPlan:
    faults = FaultPlan(reply_delay=args.reply_delay, split_frames=args.split_frames,
                       silent_handshake=args.silent_handshake, drop_after_next_history=args.drop_after_history,
                       drop_after_updates=args.drop_after_updates)
    for name, count in args.never_answer:
        faults.never_answer(name, count)
    for symbol, text in args.malformed_volume:
        faults.malformed_volume(symbol, text)
    return faults


async def serve(args: argparse.Namespace) -> None:
    clock = SimClock()
    if args.clock_start is not None:
        if args.clock_speed == 0:
            clock.freeze(args.clock_start)
        else:
            clock.run_from(args.clock_start, args.clock_speed)
    server = SimServer(options_from(args), clock, faults_from(args))
    await server.start()
    control = await serve_control(server, args.host, args.control_port) if args.control_port is not None else None
    if args.refuse_for:
        await server.refuse_connections(args.refuse_for)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if control is not None:
        control.close()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    try:
        asyncio.run(serve(args))
    except ValueError as exc:  # bad option values found by SimOptions / SimServer
        parser.error(str(exc))
    except OSError as exc:
        parser.exit(1, f"python -m sim: cannot listen on {args.host}:{args.port}: {exc}\n")
    return 0
