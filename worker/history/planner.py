"""Turning the missing parts of a wanted range into IB-legal upstream windows (one reqHistoricalData each).

A window is an end and a duration IB's table allows for the bar size (shared/ib_limits.py), always the longest one,
and `covers`: the span of bar start times the window's answer is complete for (bars outside it are dropped, and the
store marks `covers` known, empty parts included). What a window covers follows what TWS returns:

- "N S" (bars of 30 s or less): exactly [end - N, end). Windows are cut back from the end of each run of believed
  session time (adjacent sessions, as FX's, make one run), so a regular 1-secs session is 13 windows of 1800 S.
- "N D" (1 and 2 mins): TWS returns the last N sessions that started before the end, so a window ends at the end of
  a believed session (or inside it, where the wanted part ends) and covers from the end of the believed session
  before its N sessions: a holiday the calendar did not know comes back as the previous session's bars, outside
  `covers`, and is stored as an empty span.
- "N W/M/Y": the calendar span before the end, by wall-clock arithmetic in the exchange's zone (as TWS). Intraday
  bars are kept by start time, exactly. Daily and larger bars are dated at their day's midnight while TWS admits a
  session by its start, so such windows end at believed session ends and their start is moved out of any session
  it would cut (to that session's end): then "dated inside covers" and "returned by TWS" are the same days.

No window is planned for a part with no believed session (a weekend, a known holiday), nothing before `head` (the
earliest data TWS has), and every window holds a missing part: a window may cover more than was missing (the store
keeps what it had), but never asks for a span that is already fully covered.
"""

from __future__ import annotations

import calendar as month_lengths
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.ib_limits import LONGEST_DURATION, duration_allowed
from worker.history.calendar import SessionCalendar
from worker.history.coverage import Coverage, Span

DAILY_BAR_SIZES = frozenset({"1 day", "1 week", "1 month"})
LOOKBACK_DAYS = 40  # how far back an "N D" window's earlier sessions are looked for


@dataclass(frozen=True)
class Window:
    """One upstream request: reqHistoricalData ending at `end` with `duration`; its answer is complete for `covers`."""

    end: int  # epoch seconds
    duration: str  # IB durationStr, allowed for the plan's bar size
    covers: Span

    @property
    def end_text(self) -> str:
        """The end as sent to TWS: UTC "yyyymmdd-HH:MM:SS" (no zone name to get wrong)."""
        return datetime.fromtimestamp(self.end, UTC).strftime("%Y%m%d-%H:%M:%S")


def plan(bar_size: str, wanted: list[Span], calendar: SessionCalendar, head: int | None = None) -> list[Window]:
    """The windows that fetch every believed-session part of `wanted` (missing spans, oldest first), newest first."""
    longest = LONGEST_DURATION[bar_size]
    count_text, unit = longest.split(" ")
    count = int(count_text)
    spans = Coverage(w for w in wanted if w)
    if not len(spans):
        return []
    if bar_size in DAILY_BAR_SIZES:
        windows = _daily(list(spans), calendar, head, count, unit, longest)
    else:
        if head is not None:
            spans.remove(Span(min(head, next(iter(spans)).start), head))
        parts = Coverage(s.clip(w) for w in spans for s in calendar.sessions(w))
        if unit == "S":
            windows = _seconds(list(parts), count)
        elif unit == "D":
            windows = _sessions(list(spans), calendar, head, count)
        else:
            windows = _calendar_spans(list(parts), calendar, head, count, unit, longest)
    for w in windows:
        assert duration_allowed(bar_size, w.duration), w  # the table is the rule: a bug here is ours, never TWS's
    return sorted(windows, key=lambda w: w.end, reverse=True)


def _seconds(parts: list[Span], longest: int) -> list[Window]:
    out: list[Window] = []
    for part in reversed(parts):
        end = part.end
        while end > part.start:
            seconds = min(longest, end - part.start)
            out.append(Window(end, f"{seconds} S", Span(end - seconds, end)))
            end -= seconds
    return out


def _sessions(spans: list[Span], calendar: SessionCalendar, head: int | None, count: int) -> list[Window]:
    needed = sorted({s for w in spans for s in calendar.sessions(w)})
    if not needed:
        return []
    context = calendar.sessions(Span(needed[0].start - LOOKBACK_DAYS * 86400, needed[-1].end))
    index = {s: i for i, s in enumerate(context)}
    out: list[Window] = []
    j = len(needed) - 1
    while j >= 0:
        session = needed[j]
        i = index[session]
        end = max(min(w.end, session.end) for w in spans if w.start < session.end and w.end > session.start)
        first = i - count + 1
        start = context[first - 1].end if first >= 1 else context[max(first, 0)].start
        if head is not None:
            start = max(start, min(head, end))
        out.append(Window(end, f"{count} D", Span(start, end)))
        while j >= 0 and index[needed[j]] >= first:
            j -= 1
    return out


def _calendar_spans(parts: list[Span], calendar: SessionCalendar, head: int | None, count: int, unit: str,
                    duration: str) -> list[Window]:
    out: list[Window] = []
    pending = list(parts)  # oldest first; the newest is planned next
    while pending:
        end = pending[-1].end
        start = shift_back(calendar, end, count, unit)
        if head is not None:
            start = max(start, min(head, end))
        out.append(Window(end, duration, Span(start, end)))
        _drop_from(pending, start)
    return out


def _daily(spans: list[Span], calendar: SessionCalendar, head: int | None, count: int, unit: str,
           duration: str) -> list[Window]:
    reach = Span(spans[0].start - 2 * 86400, spans[-1].end + 2 * 86400)
    cover = Coverage(spans)
    pending = [(calendar.midnight(day), s) for day, s in calendar.trading_days(reach)
               if cover.covers(Span(calendar.midnight(day), calendar.midnight(day) + 1))
               and (head is None or s.end > head)]
    out: list[Window] = []
    while pending:
        end = pending[-1][1].end
        start = shift_back(calendar, end, count, unit)
        cut = calendar.session_at(start)
        if cut is not None and cut.start < start:
            start = cut.end  # TWS would not return the session it cuts; its day is dated before `start` anyway
        out.append(Window(end, duration, Span(start, end)))
        while pending and pending[-1][0] >= start:
            pending.pop()
    return out


def _drop_from(pending: list[Span], start: int) -> None:
    """Remove from `pending` (oldest first) what lies at or after `start`; a part that straddles it is cut."""
    while pending and pending[-1].end > start:
        part = pending.pop()
        if part.start < start:
            pending.append(Span(part.start, start))
            return


def shift_back(calendar: SessionCalendar, end: int, count: int, unit: str) -> int:
    """`end` minus `count` calendar units (S, D, W, M, Y) by the wall clock in the calendar's zone (DST-safe)."""
    if unit == "S":
        return end - count
    local = datetime.fromtimestamp(end, calendar.zone)
    if unit in ("D", "W"):
        back = local - timedelta(days=count * (7 if unit == "W" else 1))
    else:
        months = count * (12 if unit == "Y" else 1)
        year, month = divmod(local.year * 12 + local.month - 1 - months, 12)
        day = min(local.day, month_lengths.monthrange(year, month + 1)[1])
        back = local.replace(year=year, month=month + 1, day=day)
    return int(back.timestamp())
