"""The simulator's own series, computed in this process from sim/ modules: what one unlimited request would return,
in the bridge's bar shape (date label in the exchange's zone, time = start in epoch seconds, OHLC, volume, wap,
count), to compare the bridge's stitched answers with bar for bar.

The simulator's bars are a pure function of (instrument, whatToShow, bar start, bar end) once a bar is complete
(sim/price_path.py: splitmix64 lattices seeded by the conId, no process state), so this is exactly what the simulator
process sends. Also: what a historical request in the simulator's request log asked for (its window), read with the
simulator's own rules (sim/history.py), and the pacing errors it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sim import trading_calendar as cal
from sim.bar_sizes import parse_bar_size, parse_duration
from sim.history import _bar_edges, _Builder, _sessions, _shift_back, _window_sessions
from sim.instruments import Instrument, Universe
from sim.messages import ContractSpec, HistoryQuery

Bar = dict[str, Any]


def instrument(symbol: str, instruments: Path | None = None, sec_type: str = "STK") -> Instrument:
    """The one instrument a SMART/USD contract for `symbol` resolves to in the simulator's universe."""
    found = Universe.load(instruments).match(ContractSpec(symbol=symbol, sec_type=sec_type, exchange="SMART",
                                                          currency="USD"))
    assert len(found) == 1, f"{symbol}: {len(found)} instruments"
    return found[0]


def _number(value: int | Decimal | float) -> int | float:
    """A volume or wap as the bridge answers it (worker/tws/client.py tws_number: Decimal -> int or float)."""
    if isinstance(value, Decimal):
        return int(value) if int(value.as_tuple().exponent) >= 0 else float(value)
    return value


def series(symbol: str, bar_size: str, start: float, end: float, now: float, what: str = "TRADES",
           use_rth: bool = True, instruments: Path | None = None) -> list[Bar]:
    """Every completed intraday bar of `symbol` whose start time is in [start, end), oldest first, as the simulator
    knows them at `now` (only bars that ended by `now`: the bridge stores only completed bars)."""
    inst = instrument(symbol, instruments)
    size = parse_bar_size(bar_size)
    assert size.intraday, "daily and larger bars: not needed by these tests"
    query = HistoryQuery("", bar_size, "1 D", use_rth, what, 2, False)
    builder = _Builder(inst, query, size, now, False, None)  # stocks only: no universe needed (CONTFUT, options)
    zone = ZoneInfo(inst.time_zone)
    out: list[Bar] = []
    for session in _sessions(inst, use_rth, start, end):
        for a, b in _bar_edges(session, size.seconds):
            if start <= a < end and b <= now:
                v = builder.path.bar(a, b, size.seconds, min(b, now))
                if v is None:
                    continue
                out.append({"date": datetime.fromtimestamp(a, zone).strftime("%Y%m%d %H:%M:%S"), "time": a,
                            "datetime": datetime.fromtimestamp(a, zone).isoformat(),
                            "open": v.open, "high": v.high, "low": v.low, "close": v.close,
                            "volume": _number(v.volume), "wap": _number(v.wap), "count": v.count})
    return out


def sessions(symbol: str, start: float, end: float, use_rth: bool = True,
             instruments: Path | None = None) -> list[cal.Session]:
    """The simulator's sessions (with data) that intersect [start, end)."""
    inst = instrument(symbol, instruments)
    return _sessions(inst, use_rth, start, end)


@dataclass(frozen=True)
class Window:
    """One reqHistoricalData the simulator received, read with the simulator's rules."""

    symbol: str
    bar_size: str
    duration: str
    end: float  # the request's end (TWS's now when it gave none)
    data_start: float  # the earliest bar start the simulator admits for it
    use_rth: bool
    wall: float  # real time it arrived
    keep_up_to_date: bool

    @property
    def span(self) -> tuple[float, float]:
        return self.data_start, self.end


def _end_epoch(text: str, zone: ZoneInfo, now: float) -> float:
    text = text.strip()
    if not text:
        return now
    if len(text) >= 17 and text[8] == "-":
        return datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp()
    parts = text.split()
    local = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")
    return local.replace(tzinfo=ZoneInfo(parts[2]) if len(parts) > 2 else zone).timestamp()


def window(record: dict[str, Any], instruments: Path | None = None) -> Window:
    """A "received" RequestHistoricalData record as its window: for "N D" the start of the first of the last N
    sessions before the end (sim/history.py _window_sessions), for S/W/M/Y the end minus the calendar span."""
    contract, query = record["fields"]["contract"], record["fields"]["query"]
    inst = instrument(contract["symbol"], instruments, contract.get("sec_type") or "STK")
    end = min(_end_epoch(query["end_datetime"], inst.zone, record["sim_time"]), record["sim_time"])
    duration = parse_duration(query["duration"])
    if duration.unit == "D":
        _, start = _window_sessions(inst, query["use_rth"], end, duration)
    else:
        start = _shift_back(end, duration)
    return Window(contract["symbol"], query["bar_size"], query["duration"], end, start, query["use_rth"],
                  record["wall"], query["keep_up_to_date"])


def pacing_violations(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors IB counts as pacing: 162 pacing violation, 322 too many open requests."""
    return [e for e in errors if (e["code"] == 162 and "pacing" in e["message"]) or e["code"] == 322]


def refusals(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """162 "Time length exceed max." and every other refusal of a historical request (not "no data" answers)."""
    return [e for e in errors if e["code"] in (162, 321, 322) and "HMDS query returned no data" not in e["message"]]


def ny(text: str) -> float:
    """Epoch seconds of a New York wall-clock time 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=cal.NEW_YORK).timestamp()


def iso(epoch: float) -> str:
    """An instant as ISO 8601 with its New York offset (a start_datetime / end_datetime the bridge accepts)."""
    return datetime.fromtimestamp(epoch, cal.NEW_YORK).isoformat()
