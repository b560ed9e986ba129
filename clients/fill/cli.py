"""The fill command's arguments and exit codes.

    python -m clients.fill --url http://127.0.0.1:3003 --symbols AAPL,MSFT --period 1m \\
        --start 2025-01-02 --end 2025-02-01 [--what TRADES] [--session rth] [--token ...]

Exit codes: 0 every symbol filled; 1 some failed (each printed with its code); 2 bad arguments or the bridge cannot
be reached; 130 interrupted (Ctrl-C): every unfinished job was cancelled (DELETE /api/v1/jobs/<id>) first.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from datetime import date, datetime

from rich.console import Console

from clients.fill.bridge import BridgeClient, BridgeUnreachable
from clients.fill.display import FillDisplay
from clients.fill.filler import Fill, Filler

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
LOCAL_TIME_RE = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2}\Z", re.ASCII)  # the bridge's exchange-local form
CANCEL_TIMEOUT = 5.0  # seconds per DELETE when interrupted


def bridge_time(text: str) -> str:
    """A --start/--end value in one of the bridge's forms: a date (midnight in the exchange's time zone), the
    bridge's "yyyymmdd HH:MM:SS" (exchange time), or ISO 8601 with an offset."""
    text = text.strip()
    if not text.isascii():
        raise argparse.ArgumentTypeError("must be ASCII")
    try:
        return date.fromisoformat(text).strftime("%Y%m%d 00:00:00") if len(text) == 10 else _datetime(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a date (2025-01-02), 'yyyymmdd HH:MM:SS' in the "
                                         "exchange's time zone, or ISO 8601 with an offset") from None


def _datetime(text: str) -> str:
    if LOCAL_TIME_RE.match(text):
        datetime.strptime(text, "%Y%m%d %H:%M:%S")  # a real date
        return text
    if datetime.fromisoformat(text).tzinfo is None:
        raise ValueError("no offset")
    return text


def symbols(text: str) -> list[str]:
    names = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not names:
        raise argparse.ArgumentTypeError("give at least one symbol, e.g. AAPL,MSFT")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m clients.fill", description="Fill a range of bars in a running "
                                "tws-bridge for several symbols, with a progress bar per symbol. Ctrl-C cancels.")
    p.add_argument("--url", default="http://127.0.0.1:3003", help="the bridge (default %(default)s)")
    p.add_argument("--symbols", type=symbols, required=True, help="comma-separated, e.g. AAPL,MSFT")
    p.add_argument("--period", required=True, help="bar size as in POST /api/v1/bars, e.g. 1m, 5s, 1d")
    p.add_argument("--start", type=bridge_time, required=True, help="first bar's time (a date: its midnight)")
    p.add_argument("--end", type=bridge_time, default="", help="end, exclusive (default: now)")
    p.add_argument("--what", default="TRADES", help="TRADES, MIDPOINT, BID, ASK, AGGTRADES (default %(default)s)")
    p.add_argument("--session", default="rth", help="rth or all (default %(default)s)")
    p.add_argument("--sec-type", default=None, help="STK (the bridge's default), CASH, IND, FUT, CRYPTO")
    p.add_argument("--exchange", default=None, help="SMART unless given")
    p.add_argument("--currency", default=None, help="USD unless given")
    p.add_argument("--token", default=os.environ.get("BRIDGE_API_TOKEN", ""),
                   help="the bridge's BRIDGE_API_TOKEN (default: that environment variable)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    base = {"period": args.period, "start_datetime": args.start, "end_datetime": args.end, "what": args.what,
            "session": args.session}
    base |= {k: v for k, v in (("sec_type", args.sec_type), ("exchange", args.exchange),
                               ("currency", args.currency)) if v is not None}
    fills = [Fill(symbol, {"symbol": symbol, **base}) for symbol in args.symbols]
    bridge = BridgeClient(args.url, args.token, args.timeout)
    console = Console(stderr=False, highlight=False)
    with FillDisplay(args.symbols, console) as display:
        filler = Filler(bridge, fills, display)
        try:
            filler.run()
        except BridgeUnreachable as exc:
            display.say(f"error: {exc} (is the bridge running? --url names it)")
            return EXIT_UNREACHABLE
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # cancelling is short and bounded: let it finish
            _cancel(filler, BridgeClient(args.url, args.token, CANCEL_TIMEOUT), display)
            return EXIT_INTERRUPTED
    failed = [f for f in fills if f.error is not None]
    if failed:
        print(f"{len(failed)} of {len(fills)} failed: {', '.join(f.symbol for f in failed)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cancel(filler: Filler, bridge: BridgeClient, display: FillDisplay) -> None:
    jobs = {f.job_id: f.symbol for f in filler.fills if f.job_id is not None and not f.finished}
    display.say(f"interrupted: cancelling {len(jobs)} unfinished job(s)")
    for job_id, symbol in jobs.items():
        try:
            answer = bridge.cancel(job_id)
        except BridgeUnreachable as exc:
            display.say(f"{symbol}: job {job_id} not cancelled: {exc}")
            continue
        state = answer.body.get("job", {}).get("state") if answer.status == 200 else None
        display.say(f"{symbol}: job {job_id} " + (f"{state}" if state else f"not cancelled: {answer.code}: "
                                                  f"{answer.message}"))
