"""The protocol between the TWS worker and the HTTP side for live series: ids, events, and the two stream operations.

Both sides import this module (it never imports ibapi). The worker publishes every event of a series once, on a ZeroMQ
PUB socket (BRIDGE_WORKER_EVENTS_ENDPOINT), as two frames:

- frame 1, the topic: the series id and "\\n" in ASCII (so no id is a prefix of another);
- frame 2, JSON (never pickle): {"v": 1, "series": id, "incarnation": str, "seq": int, "event": kind, "data": {...}}.

A series is (conId, exchange, bar size, whatToShow, useRTH); its id is
"{con_id}|{exchange}|{bar_size}|{what}|{rth|all}", e.g. "265598|SMART|1 min|TRADES|rth". `incarnation` is random
per worker process start; `seq` counts 1, 2, 3, ... the events of one series in one incarnation. Event kinds and
their data:

- `bar`: a completed bar in the /bars shape, published once when it is final: TWS's update for a later bar arrived (or
  a resubscription's history holds a later bar), or TWS's clock (a currentTime reading) passed the bar's end and an
  update for it arrived after that (at the session's close no later bar comes; TWS repeats the last one, final).
- `update`: the forming bar, whenever TWS's update changed it.
- `revision`: a completed bar already published whose values TWS later reported differently (a resubscription's
  history, or a repeated update after the close): the bar with its new values.
- `status`: {"status": "live" | "interrupted" | "restored", "reason": str | null}: `interrupted` when the connection
  is lost, on 1100/2110 or 1101; `restored` once the series' history arrived again, after the bars completed meanwhile
  (published as `bar` events first, in order) and the forming bar's `update`.
- `error`: {"code": ErrorCode, "message": str}: the series ended for good for its streams; receivers close them.

Operations on the worker's ROUTER (shared/protocol.py):

- `stream_open` (StreamOpen -> StreamSnapshot): the series' bars as of the snapshot's `seq`, the seq of the last
  event the snapshot already contains. Receivers subscribe the topic first, buffer what arrives, drop events with
  `seq <=` the snapshot's seq in the same incarnation, and re-open with `after` = the last bar sent to the client on a
  gap in `seq` or a new incarnation.
- `stream_interest` (StreamInterest -> {"unknown": [ids]}): each HTTP worker's clients per series, every
  INTEREST_INTERVAL_S while it has clients (and once with 0 when the last client of a series leaves). A series no
  HTTP worker renewed for BRIDGE_SUBSCRIPTION_IDLE_TTL is cancelled.

include_forming answers (the `bars` operation's result): an answer the worker took from a published series, for a
window counted in trading days of intraday or daily bars, carries "live": {"series": id, "incarnation": str,
"seq": int}. Such a window depends on the series' bars alone, not on the clock (a new session's first bar is an event
too), so the answer stays what the worker answers until the series' next event after `seq`: an HTTP worker may answer
the same request again itself until its SUB socket shows that event (app/streams/forming_cache.py). Every change of
such a series is an event, its end included (an eviction publishes `error`).

Where this module refines the issue's first draft of the protocol (BRIEF9.md):
- A snapshot always carries "gap" (false unless `after` lies before what the series holds).
- `error` with `resume_unavailable` is also published when, after a resubscription, TWS's history no longer reaches
  back to the last bar published and the bars in between cannot be fetched (a hole the worker cannot fill): the
  stream's bar sequence would otherwise have a hole.
- `no_data`: the error of a series TWS has no bars for in IB's longest window of its bar size (e.g. 5-second bars
  outside trading hours): the subscription cannot be kept open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.bars import BAR_SECONDS, BarRequest, InvalidBarRequest
from shared.contract_fields import CONTRACT_FIELDS, live_problems
from shared.ib_limits import LONGEST_DURATION
from shared.protocol import PROTOCOL_VERSION, ProtocolError

EVENT_KINDS = ("bar", "update", "revision", "status", "error")
STATUSES = ("live", "interrupted", "restored")
SERIES_FIELDS = ("bar_size", "what_to_show", "use_rth", *CONTRACT_FIELDS)  # CONTRACT_FIELDS: symbol, sec_type, ...
INTEREST_INTERVAL_S = 5.0  # how often an HTTP worker renews its interest while it has clients
MAX_BACKFILL = 5000
MAX_INTEREST_SERIES = 10_000  # series one stream_interest may name
MAX_CLIENTS = 10**7
MAX_EVENT_BYTES = 1024 * 1024
LIVE_MIN_BAR_SECONDS = 5  # keepUpToDate: "Live updates are supported for bar sizes of 5 secs or more." (TWS, 321)
_ID_RE = re.compile(r"^([1-9][0-9]{0,11})\|([A-Za-z0-9.]{1,16})\|([0-9a-z ]{5,8})\|([A-Z]{3,9})\|(rth|all)\Z", re.ASCII)
_INCARNATION_RE = re.compile(r"^[0-9a-f]{8,64}\Z", re.ASCII)
BAR_KEYS = ("date", "time", "datetime", "open", "high", "low", "close", "volume", "wap", "count")


# ---- series ids and topics ----------------------------------------------------------------------------------------

def series_id(con_id: int, exchange: str, bar_size: str, what_to_show: str, use_rth: bool) -> str:
    return f"{con_id}|{exchange}|{bar_size}|{what_to_show}|{'rth' if use_rth else 'all'}"


def parse_series_id(text: Any) -> tuple[int, str, str, str, bool]:
    """(con_id, exchange, bar_size, what_to_show, use_rth) of a series id; ProtocolError when it is none."""
    match = _ID_RE.match(text) if isinstance(text, str) else None
    if match is None or match.group(3) not in BAR_SECONDS:
        raise ProtocolError(f"not a series id: {str(text)[:80]!r}")
    return int(match.group(1)), match.group(2), match.group(3), match.group(4), match.group(5) == "rth"


def topic(series: str) -> bytes:
    """The PUB topic of a series: its id and a newline (subscribe with exactly this)."""
    return series.encode("ascii") + b"\n"


# ---- events on the PUB socket -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamEvent:
    series: str
    incarnation: str
    seq: int
    event: str
    data: dict[str, Any]

    def frames(self) -> list[bytes]:
        return [topic(self.series), orjson.dumps({"v": PROTOCOL_VERSION, "series": self.series,
                                                  "incarnation": self.incarnation, "seq": self.seq,
                                                  "event": self.event, "data": self.data})]

    @classmethod
    def from_frames(cls, frames: list[bytes]) -> StreamEvent:
        """A received event, validated (a PUB peer is input from outside too)."""
        if len(frames) != 2:
            raise ProtocolError(f"an event has 2 frames, got {len(frames)}")
        if len(frames[1]) > MAX_EVENT_BYTES:
            raise ProtocolError("event too large")
        try:
            msg = orjson.loads(frames[1])
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"not JSON: {exc}") from None
        if not isinstance(msg, dict) or msg.get("v") != PROTOCOL_VERSION:
            raise ProtocolError(f"not a version {PROTOCOL_VERSION} event")
        series, incarnation, seq, event, data = (msg.get(k) for k in ("series", "incarnation", "seq", "event", "data"))
        parse_series_id(series)
        if frames[0] != topic(series):
            raise ProtocolError("the topic does not name the event's series")
        _check_incarnation(incarnation)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ProtocolError("seq must be a positive integer")
        if event not in EVENT_KINDS:
            raise ProtocolError(f"unknown event {event!r}")
        if not isinstance(data, dict):
            raise ProtocolError("data must be an object")
        if event in ("bar", "update", "revision"):
            _check_bar(data)
        elif event == "status" and (data.get("status") not in STATUSES
                                    or not isinstance(data.get("reason"), str | None)):
            raise ProtocolError("status data must be {status, reason}")
        elif event == "error" and not (isinstance(data.get("code"), str) and isinstance(data.get("message"), str)):
            raise ProtocolError("error data must be {code, message}")
        return cls(series, incarnation, seq, event, data)


def status_data(status: str, reason: str | None = None) -> dict[str, Any]:
    return {"status": status, "reason": reason}


def _check_incarnation(value: Any) -> None:
    if not isinstance(value, str) or not _INCARNATION_RE.match(value):
        raise ProtocolError("incarnation must be 8-64 lowercase hex digits")


def _check_bar(bar: Any) -> None:
    if not isinstance(bar, dict) or any(k not in bar for k in BAR_KEYS):
        raise ProtocolError(f"a bar needs {', '.join(BAR_KEYS)}")
    if not isinstance(bar["time"], int) or isinstance(bar["time"], bool) or not isinstance(bar["date"], str) \
            or not isinstance(bar["datetime"], str):
        raise ProtocolError("a bar's time is epoch seconds and its date and datetime strings")


# ---- stream_open --------------------------------------------------------------------------------------------------

def series_request(fields: Any) -> BarRequest:
    """The series' subscription request from a stream's fields: keepUpToDate over IB's longest duration for its bar
    size (shared/ib_limits.py), so every include_forming poll of the series is a window of it. InvalidBarRequest
    names the bad fields, as for /bars; a data kind or security type IB keeps no series of up to date is named as
    what_to_show or sec_type (a stream's client sends no include_forming). Fields left out take BarRequest's
    defaults, so a body of an older HTTP side still loads."""
    if not isinstance(fields, dict):
        raise InvalidBarRequest({"request": "must be an object"})
    unknown = sorted(set(fields) - set(SERIES_FIELDS))
    if unknown:
        raise InvalidBarRequest({"request": f"unknown field(s) {', '.join(map(str, unknown))[:200]}"})
    bar_size = fields.get("bar_size")
    duration = LONGEST_DURATION.get(bar_size, "1 D") if isinstance(bar_size, str) else "1 D"
    try:
        request = BarRequest(**{**fields, "duration": duration, "include_forming": True})
    except TypeError as exc:
        raise InvalidBarRequest({"request": str(exc)}) from None
    try:
        request.validate()
    except InvalidBarRequest as exc:
        live = live_problems(request.what_to_show, request.sec_type)
        if "include_forming" not in exc.fields or not live:
            raise
        others = {name: why for name, why in exc.fields.items() if name != "include_forming"}
        raise InvalidBarRequest({**others, **{name: f"no stream: {why}" for name, why in live.items()}}) from None
    if request.bar_seconds < LIVE_MIN_BAR_SECONDS:
        raise InvalidBarRequest({"bar_size": f"a stream needs bars of {LIVE_MIN_BAR_SECONDS} secs or more (IB's "
                                             "keepUpToDate)"})
    return request


@dataclass(frozen=True)
class StreamOpen:
    request: BarRequest  # the series' subscription request (series_request)
    after: int | None = None  # epoch seconds of the last bar the client has
    backfill: int = 0  # without `after`: this many of the last completed bars

    def to_wire(self) -> dict[str, Any]:
        r = self.request
        return {"request": {name: getattr(r, name) for name in SERIES_FIELDS}, "after": self.after,
                "backfill": self.backfill}

    @classmethod
    def from_wire(cls, body: Any) -> StreamOpen:
        if not isinstance(body, dict):
            raise InvalidBarRequest({"body": "must be an object"})
        unknown = sorted(set(body) - {"request", "after", "backfill"})
        if unknown:
            raise InvalidBarRequest({"body": f"unknown field(s) {', '.join(map(str, unknown))[:200]}"})
        request = series_request(body.get("request"))
        after, backfill = body.get("after"), body.get("backfill", 0)
        problems: dict[str, str] = {}
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**40):
            problems["after"] = "epoch seconds (an integer >= 0) or null"
        if not isinstance(backfill, int) or isinstance(backfill, bool) or not 0 <= backfill <= MAX_BACKFILL:
            problems["backfill"] = f"an integer from 0 to {MAX_BACKFILL}"
        if problems:
            raise InvalidBarRequest(problems)
        return cls(request, after, backfill)


@dataclass(frozen=True)
class StreamSnapshot:
    """stream_open's result: everything a stream starts from, as of event `seq` of the series."""

    series: str
    incarnation: str
    seq: int  # the seq of the last event this snapshot already contains (0: none published yet)
    bars: list[dict[str, Any]]  # completed bars, oldest first
    forming: dict[str, Any] | None
    status: dict[str, Any]
    gap: bool = False  # `after` lies before what the series holds: bars after it may be missing

    def to_wire(self) -> dict[str, Any]:
        return {"series": self.series, "incarnation": self.incarnation, "seq": self.seq, "bars": self.bars,
                "forming": self.forming, "status": self.status, "gap": self.gap}

    @classmethod
    def from_wire(cls, result: Any) -> StreamSnapshot:
        if not isinstance(result, dict):
            raise ProtocolError("a snapshot must be an object")
        parse_series_id(result.get("series"))
        _check_incarnation(result.get("incarnation"))
        seq, bars, forming, status = (result.get(k) for k in ("seq", "bars", "forming", "status"))
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ProtocolError("seq must be an integer >= 0")
        if not isinstance(bars, list):
            raise ProtocolError("bars must be a list")
        for bar in bars:
            _check_bar(bar)
        if forming is not None:
            _check_bar(forming)
        if not isinstance(status, dict) or status.get("status") not in STATUSES:
            raise ProtocolError("status must be {status, reason}")
        return cls(result["series"], result["incarnation"], seq, bars, forming, status, result.get("gap") is True)


# ---- include_forming answers -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LiveAnswer:
    """Where an include_forming answer came from: the series, as of its event `seq` (see the module's docstring)."""

    series: str
    incarnation: str
    seq: int

    def to_wire(self) -> dict[str, Any]:
        return {"series": self.series, "incarnation": self.incarnation, "seq": self.seq}

    @classmethod
    def from_result(cls, result: Any) -> LiveAnswer | None:
        """The `live` of a bars result; None when it has none. ProtocolError when it is malformed."""
        live = result.get("live") if isinstance(result, dict) else None
        if live is None:
            return None
        if not isinstance(live, dict):
            raise ProtocolError("live must be an object")
        parse_series_id(live.get("series"))
        _check_incarnation(live.get("incarnation"))
        seq = live.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ProtocolError("seq must be an integer >= 0")
        return cls(live["series"], live["incarnation"], seq)


# ---- stream_interest ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamInterest:
    http_worker: int  # the HTTP worker's pid
    series: dict[str, int] = field(default_factory=dict)  # series id -> its clients there (0: the last one left)

    def to_wire(self) -> dict[str, Any]:
        return {"http_worker": self.http_worker, "series": self.series}

    @classmethod
    def from_wire(cls, body: Any) -> StreamInterest:
        if not isinstance(body, dict):
            raise InvalidBarRequest({"body": "must be an object"})
        pid, series = body.get("http_worker"), body.get("series")
        problems: dict[str, str] = {}
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**31:
            problems["http_worker"] = "the HTTP worker's pid (a positive integer)"
        if not isinstance(series, dict) or len(series) > MAX_INTEREST_SERIES:
            problems["series"] = f"an object of at most {MAX_INTEREST_SERIES} series ids -> client counts"
        else:
            for key, count in series.items():
                try:
                    parse_series_id(key)
                except ProtocolError as exc:
                    problems["series"] = str(exc)
                    break
                if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_CLIENTS:
                    problems["series"] = f"client counts are integers from 0 to {MAX_CLIENTS}"
                    break
        if problems:
            raise InvalidBarRequest(problems)
        assert isinstance(pid, int) and isinstance(series, dict)
        return cls(pid, dict(series))
