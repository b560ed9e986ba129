"""LiveSeries: which bars are final and the events each change of a live series publishes. A completed bar is
published once, when final: at the next bar's update, or after the close once TWS's clock (a currentTime reading) has
passed its end and an update for it came after; a resubscription publishes the bars completed meanwhile, in order,
revisions of published bars, then `restored`; a snapshot holds exactly the events up to its seq."""

from __future__ import annotations

from typing import Any

import pytest

from shared.streams import series_request
from tests.worker.fakes import Clock, ny
from tests.worker.live.harness import AAPL_RTH, FIELDS, SERIES, Recorder, bar, session, values
from worker.history.upstream import to_bar
from worker.live.finality import ClockWatch
from worker.live.publisher import Publisher
from worker.live.series import LiveSeries
from worker.live.subscriptions import series_key
from worker.timers import Timers
from worker.tws.dates import TwsClock

NY = "America/New_York"

REQUEST = series_request(FIELDS)  # 1-minute bars, "1 D"


class Series:
    """A LiveSeries with a recording publisher and a clock watch whose probes are counted."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.timers = Timers(self.clock)
        self.tws_clock = TwsClock(self.clock)
        self.recorder = Recorder()
        self.publisher = Publisher(self.recorder, incarnation="00c0ffee00c0ffee")
        self.probes = 0
        self.watch = ClockWatch(self.timers, self.tws_clock, self._probe, lambda s, reading: s.clock_passed(reading))
        self.live = LiveSeries(series_key(REQUEST, AAPL_RTH), REQUEST, AAPL_RTH, self.publisher, self.watch)

    def _probe(self) -> None:
        self.probes += 1

    def history(self, bars: list[Any], now: str | int) -> None:
        tws_now = float(_at(now) if isinstance(now, str) else now)
        self.tws_clock.observe(tws_now)
        self.live.history([to_bar(v, NY) for v in bars], tws_now)

    def update(self, hhmm: str, close: float = 100.0) -> bool:
        return self.live.update(bar(hhmm, close), self.tws_clock.now())

    def kinds(self) -> list[str]:
        return self.recorder.kinds()

    def bars(self) -> list[dict[str, Any]]:
        return self.recorder.of("bar")


def _at(hhmm_ss: str) -> int:
    return ny(f"2025-01-27 {hhmm_ss}")


@pytest.fixture
def s() -> Series:
    return Series()


# ---- the forming bar and the bar boundary ------------------------------------------------------------------------

def test_the_first_history_publishes_nothing_its_last_bar_forms(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    assert s.kinds() == []
    assert s.live.forming == bar("11:02") and s.live.final_until == _at("11:01")
    assert len(s.live.completed()) == 92


def test_an_update_that_changes_the_forming_bar_is_published_an_equal_one_is_not(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.update("11:02", close=101.0)
    s.update("11:02", close=101.0)
    s.update("11:02", close=102.0)
    assert s.kinds() == ["update", "update"]
    assert [e["close"] for e in s.recorder.of("update")] == [101.0, 102.0]


def test_the_next_bar_update_makes_the_forming_bar_final_with_its_last_values(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.update("11:02", close=103.0)  # TWS's last update of the bar, at its end: its final values
    s.update("11:03", close=104.0)
    assert s.kinds() == ["update", "bar", "update"]
    assert s.bars() == [bar("11:02", close=103.0)]
    assert s.live.forming == bar("11:03", close=104.0)


def test_a_completed_bar_is_published_once_and_older_updates_change_nothing(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.update("11:03")
    s.update("11:03")
    s.update("11:02", close=1.0)  # older than the forming bar
    s.update("11:04")
    assert [b["date"][9:14] for b in s.bars()] == ["11:02", "11:03"]
    assert s.live.bars.bars[-3]["close"] == 100.0


# ---- the session's close -----------------------------------------------------------------------------------------

def test_at_the_close_the_last_bar_is_final_once_tws_clock_passed_its_end_and_an_update_came(s: Series) -> None:
    s.history(session("15:30", "15:59"), "15:59:30")
    s.update("15:59", close=105.0)
    s.clock.now += 31  # TWS's clock, estimated, is past 16:00 and no later bar came: TWS is asked its time
    s.timers.run_due()
    assert s.probes == 1 and s.kinds() == ["update"]
    s.live.update(bar("15:59", close=105.0), s.tws_clock.now())  # sent before the reading: maybe not final
    assert s.bars() == []
    s.watch.reading(float(_at("16:00:01")))  # currentTime: TWS's clock passed the bar's end
    assert s.bars() == []
    s.update("15:59", close=105.0)  # TWS repeats the last bar after the close, with its final values
    assert s.bars() == [bar("15:59", close=105.0)] and s.live.forming is None
    s.update("15:59", close=105.0)
    s.update("15:59", close=105.0)
    assert s.kinds() == ["update", "bar"]


def test_a_reading_short_of_the_bar_end_asks_again_later_and_decides_nothing(s: Series) -> None:
    s.history(session("15:30", "15:59"), "15:59:30")
    s.clock.now += 31
    s.timers.run_due()
    s.watch.reading(float(_at("15:59:40")))  # a frozen or slow clock: not over yet
    s.update("15:59", close=106.0)
    assert s.bars() == [] and s.kinds() == ["update"]
    s.clock.now += 5  # asked again within the check interval
    s.timers.run_due()
    assert s.probes == 2


def test_the_close_of_a_session_shorter_than_the_bar_ends_the_bar(s: Series) -> None:
    """A 3-hour bar from 15:00 ends at the 16:00 close (TWS's liquid hours), not at 18:00."""
    three_hours = series_request({**FIELDS, "bar_size": "3 hours"})
    live = LiveSeries(series_key(three_hours, AAPL_RTH), three_hours, AAPL_RTH, s.publisher, s.watch)
    live.history([to_bar(values("12:00"), NY), to_bar(values("15:00"), NY)], float(_at("16:00:05")))
    assert live.forming is None and live.final_until == _at("15:00")


def test_a_history_after_the_close_has_no_forming_bar_and_repeats_publish_nothing(s: Series) -> None:
    s.history(session("15:30", "15:59"), "16:20:00")
    assert s.live.forming is None and s.live.final_until == _at("15:59")
    s.update("15:59")
    assert s.kinds() == []
    s.update("15:59", close=99.0)  # TWS changed a bar already final: a revision, never the bar again
    assert s.kinds() == ["revision"] and s.recorder.of("revision") == [bar("15:59", close=99.0)]


# ---- interruption and restoration --------------------------------------------------------------------------------

def test_a_resubscription_publishes_the_bars_completed_meanwhile_in_order_then_restored(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.update("11:03")  # 11:02 final and published
    s.live.interrupt("TWS connection lost")
    s.live.interrupt("TWS connection lost")  # said once
    s.history(session("09:30", "11:07", close=100.0), "11:07:20")
    assert s.kinds() == ["bar", "update", "status", "bar", "bar", "bar", "bar", "update", "status"]
    assert [b["date"][9:14] for b in s.bars()] == ["11:02", "11:03", "11:04", "11:05", "11:06"]
    statuses = s.recorder.of("status")
    assert statuses == [{"status": "interrupted", "reason": "TWS connection lost"},
                        {"status": "restored", "reason": None}]
    assert s.live.forming == bar("11:07") and s.live.status == "live"


def test_a_published_bar_that_the_new_history_reports_differently_is_a_revision(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.update("11:03")
    s.live.interrupt("1101")
    revised = session("09:30", "11:04")
    revised[-3] = values("11:02", close=90.0)  # TWS's history now has other values for 11:02
    s.history(revised, "11:04:30")
    assert s.recorder.of("revision") == [bar("11:02", close=90.0)]
    assert [b["date"][9:14] for b in s.bars()] == ["11:02", "11:03"], "the bar itself is never published again"
    assert s.live.completed()[-2] == bar("11:02", close=90.0)


def test_a_history_that_no_longer_reaches_back_to_the_last_bar_published_ends_the_streams(s: Series) -> None:
    s.history(session("15:50", "15:59"), "15:59:30")
    s.update("15:59")
    s.clock.now += 60
    s.live.interrupt("TWS connection lost")
    s.history(session("09:30", "09:35", day="2025-01-28"), ny("2025-01-28 09:35:30"))
    error = s.recorder.of("error")
    assert len(error) == 1 and error[0]["code"] == "resume_unavailable"
    assert s.live.bars.bars[0]["date"] == "20250128 09:30:00"


def test_after_1102_a_later_bar_that_skips_a_bar_asks_for_the_series_again(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.live.interrupt("TWS reports IB unreachable (1100)")
    s.live.resumed()
    assert s.recorder.of("status")[-1] == {"status": "restored", "reason": None}
    assert s.update("11:04") is False, "11:03 began and ended unseen"
    assert s.recorder.of("status")[-1]["status"] == "interrupted" and s.bars() == []


def test_after_1102_the_next_bar_in_turn_goes_on_as_usual(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.live.interrupt("TWS reports IB unreachable (1100)")
    s.live.resumed()
    assert s.update("11:03") is True
    assert s.bars() == [bar("11:02")] and s.live.status == "live"


# ---- snapshots -----------------------------------------------------------------------------------------------------

def test_a_snapshot_seq_is_the_last_event_it_contains(s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    s.update("11:02", close=101.0)
    s.update("11:03")
    snapshot = s.live.snapshot(after=None, backfill=2)
    assert snapshot.seq == 3 == s.publisher.seq(SERIES)
    assert [b["date"][9:14] for b in snapshot.bars] == ["11:01", "11:02"] and snapshot.forming == bar("11:03")
    assert s.live.snapshot(after=None, backfill=0).bars == []


def test_a_snapshot_after_a_bar_holds_the_bars_after_it_and_a_gap_when_it_is_older_than_what_is_held(
        s: Series) -> None:
    s.history(session("09:30", "11:02"), "11:02:30")
    after = s.live.snapshot(after=_at("10:58"), backfill=0)
    assert [b["date"][9:14] for b in after.bars] == ["10:59", "11:00", "11:01"] and after.gap is False
    assert s.live.snapshot(after=_at("09:29"), backfill=0).gap is False  # nothing can start before the open
    older = s.live.snapshot(after=int(ny("2025-01-24 15:30")), backfill=0)
    assert older.gap is True and len(older.bars) == 92


@pytest.mark.parametrize("snap_at", range(0, 12))
def test_a_receiver_applying_events_after_any_snapshot_ends_with_the_series_bars(snap_at: int) -> None:
    """Whenever the snapshot is taken, snapshot + the events after its seq = every completed bar, once, in order."""
    s = Series()
    steps = [("11:02", 101.0), ("11:03", 100.0), ("11:03", 102.0), ("interrupt", 0), ("history", 0),
             ("11:06", 100.0), ("11:07", 100.0), ("11:07", 101.0), ("11:08", 100.0), ("interrupt", 0),
             ("history2", 0), ("11:12", 100.0)]
    s.history(session("09:30", "11:02"), "11:02:30")
    snapshot = None
    for i, (what, close) in enumerate(steps):
        if i == snap_at:
            snapshot = s.live.snapshot(after=None, backfill=5000)
        if what == "interrupt":
            s.live.interrupt("lost")
        elif what == "history":
            s.history(session("09:30", "11:05"), "11:05:30")
        elif what == "history2":
            s.history(session("09:30", "11:11"), "11:11:30")
        else:
            s.update(what, close)
    assert snapshot is not None
    bars = list(snapshot.bars)
    for event in s.recorder.events:
        if event.seq <= snapshot.seq:
            continue
        if event.event == "bar":
            bars.append(event.data)
        elif event.event == "revision":
            bars = [event.data if b["time"] == event.data["time"] else b for b in bars]
    assert bars == s.live.completed()
    times = [b["time"] for b in bars]
    assert times == sorted(set(times))
