"""IB's historical-data pacing rules as the outbox keeps them, as a specification: a request goes at once when it
may, waits (on the owner thread's timers) when a rule holds it, and is refused at once with a retry hint when the wait
would pass its deadline. The message budget is roomy here (it has its own tests); timers run on an injected clock;
nothing sleeps."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import worker.tws.pacing
from shared.errors import BridgeError, ErrorCode
from tests.worker.fakes import LIMITS, T0, Clock, FakeConnection, roomy_budget
from worker.history.sqlite_store import SqliteStore
from worker.timers import Timers
from worker.tws.outbox import Outbox
from worker.tws.pacing import PacingKey, PacingLimits, PacingRules
from worker.tws.pacing_ledger import PacingLedger

MARGIN = LIMITS.margin  # 0.25: exact in binary, so the edges below compare exactly


class Item:
    """One submitted request: when it went (clock time), or the retry_after it was refused with."""

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self.went_at: float | None = None
        self.refused: list[float] = []

    def go(self) -> Sent:
        assert self.went_at is None and not self.refused, "an item is decided once"
        self.went_at = self._pacer.clock.now
        if self._pacer.keep_open:
            self._pacer.open += 1
        return Sent()

    def refuse(self, error: BridgeError) -> None:
        assert self.went_at is None and not self.refused, "an item is decided once"
        assert error.code is ErrorCode.PACING_LIMITED and error.retry_after is not None
        self.refused.append(error.retry_after)

    @property
    def waiting(self) -> bool:
        return self.went_at is None and not self.refused


class Sent:
    """A message the outbox sends for an item."""

    name = "historical"

    def send_to(self, client: Any) -> None:
        client.append(self)


class Pacer:
    def __init__(self, limits: PacingLimits = LIMITS) -> None:
        self.clock = Clock()
        self.timers = Timers(self.clock)
        self.open = 0
        self.keep_open = False  # True: a sent request stays open until close(); False: it is answered at once
        self.rules = PacingRules(limits, lambda: self.open, self.clock)
        self.sent: list[Sent] = []
        self.outbox = Outbox(roomy_budget(self.clock), self.rules, self.timers, FakeConnection(self.sent), self.clock)
        self._ids = itertools.count()

    def submit(self, key: PacingKey, within: float = 3600.0) -> Item:
        item = Item(self)
        self.outbox.request(item.go, self.clock.now + within, item.refuse, pacing=key)
        return item

    def budget(self) -> dict[str, int]:
        """Pacing's part of /health."""
        return {**self.rules.budget(), "queued": self.outbox.pacing_queued}

    def at(self, offset: float) -> None:
        """Move the clock to T0 + offset and run what is due."""
        assert T0 + offset >= self.clock.now
        self.clock.now = T0 + offset
        self.timers.run_due()

    def close(self, n: int = 1) -> None:
        """n open requests end (as UpstreamRequests does: it pumps the outbox)."""
        self.open -= n
        self.outbox.pump()

    def key(self, group: object = "AAPL", bar_seconds: int = 60, bid_ask: bool = False,
            identity: object = None) -> PacingKey:
        """A distinct request (unless `identity` is given) in `group`."""
        ident = identity if identity is not None else next(self._ids)
        return PacingKey(identity=(ident,), group=(group, "SMART", "TRADES"), bar_seconds=bar_seconds,
                         bid_ask=bid_ask)


@pytest.fixture
def p() -> Pacer:
    return Pacer()


# ---- going at once ----------------------------------------------------------------------------------------------

def test_a_request_no_rule_holds_goes_at_once(p: Pacer) -> None:
    item = p.submit(p.key())
    assert item.went_at == T0
    assert p.outbox.pacing_queued == 0 and p.outbox.pacing_waited == 0 and p.outbox.pacing_refused == 0


# ---- identical requests: not within 15 s ------------------------------------------------------------------------

def test_an_identical_request_waits_15_seconds_plus_the_margin(p: Pacer) -> None:
    first = p.submit(p.key(identity="same"))
    p.at(1)
    second = p.submit(p.key(identity="same"))
    assert first.went_at == T0 and second.waiting
    assert p.outbox.pacing_queued == 1 and p.outbox.pacing_waited == 1
    p.at(15)
    assert second.waiting  # IB's 15 s ...
    p.at(15 + MARGIN - 0.01)
    assert second.waiting  # ... plus the margin for network jitter
    p.at(15 + MARGIN)
    assert second.went_at == T0 + 15 + MARGIN  # sent by the outbox's own wake-up timer, no pump needed
    assert p.outbox.pacing_queued == 0


def test_the_identical_rule_holds_only_identical_requests(p: Pacer) -> None:
    p.submit(p.key(identity="same"))
    other = p.submit(p.key(identity="other"))
    assert other.went_at == T0


def test_an_identical_request_after_the_window_goes_at_once(p: Pacer) -> None:
    p.submit(p.key(identity="same"))
    p.at(15 + MARGIN)
    again = p.submit(p.key(identity="same"))
    assert again.went_at == T0 + 15 + MARGIN


# ---- one contract, exchange and whatToShow: fewer than 6 within 2 s -------------------------------------------

def test_the_sixth_request_for_one_group_within_2_seconds_waits(p: Pacer) -> None:
    five = [p.submit(p.key(group="AAPL")) for _ in range(5)]
    sixth = p.submit(p.key(group="AAPL"))
    assert all(item.went_at == T0 for item in five)
    assert sixth.waiting
    p.at(2)
    assert sixth.waiting
    p.at(2 + MARGIN)
    assert sixth.went_at == T0 + 2 + MARGIN


def test_another_group_is_not_held_by_a_full_group(p: Pacer) -> None:
    for _ in range(5):
        p.submit(p.key(group="AAPL"))
    held = p.submit(p.key(group="AAPL"))
    msft = p.submit(p.key(group="MSFT"))
    assert held.waiting and msft.went_at == T0


def test_the_group_window_slides(p: Pacer) -> None:
    for _ in range(3):
        p.submit(p.key(group="AAPL"))
    p.at(1)
    for _ in range(2):
        p.submit(p.key(group="AAPL"))
    sixth, seventh = p.submit(p.key(group="AAPL")), p.submit(p.key(group="AAPL"))
    p.at(2 + MARGIN)  # the three from T0 leave the window: room for both
    assert sixth.went_at == seventh.went_at == T0 + 2 + MARGIN


def test_waiting_requests_go_in_the_order_they_came(p: Pacer) -> None:
    for _ in range(2):
        p.submit(p.key(group="AAPL"))
    p.at(1)
    for _ in range(3):
        p.submit(p.key(group="AAPL"))
    p.at(1.5)
    waiting = [p.submit(p.key(group="AAPL")) for _ in range(3)]
    p.at(2 + MARGIN)  # the two from T0 leave the window: room for the first two only
    assert [item.went_at for item in waiting] == [T0 + 2 + MARGIN, T0 + 2 + MARGIN, None]
    p.at(3 + MARGIN)
    assert waiting[2].went_at == T0 + 3 + MARGIN


# ---- small bars: at most 60 in any 10 minutes --------------------------------------------------------------------

def test_the_61st_small_bar_request_in_10_minutes_waits(p: Pacer) -> None:
    first_half = [p.submit(p.key(group=n, bar_seconds=30)) for n in range(30)]
    p.at(300)
    second_half = [p.submit(p.key(group=n, bar_seconds=5)) for n in range(30, 60)]
    assert all(item.went_at is not None for item in first_half + second_half)
    sixty_first = p.submit(p.key(group="x", bar_seconds=1))
    assert sixty_first.waiting
    p.at(600)
    assert sixty_first.waiting
    p.at(600 + MARGIN)
    assert sixty_first.went_at == T0 + 600 + MARGIN


def test_bars_longer_than_30_seconds_do_not_count_as_small(p: Pacer) -> None:
    for n in range(60):
        p.submit(p.key(group=n, bar_seconds=30))
    minute = p.submit(p.key(group="x", bar_seconds=60))
    assert minute.went_at == T0
    assert p.budget()["small_bar_requests_left"] == 0


# ---- BID_ASK counts twice ----------------------------------------------------------------------------------------

def test_bid_ask_weighs_two_in_the_small_bar_budget(p: Pacer) -> None:
    for n in range(30):
        p.submit(p.key(group=n, bar_seconds=30, bid_ask=True))
    assert p.budget()["small_bar_requests_left"] == 0
    one_more = p.submit(p.key(group="x", bar_seconds=30))
    assert one_more.waiting


def test_bid_ask_weighs_two_in_its_group(p: Pacer) -> None:
    assert p.key(bid_ask=True).weight == 2 and p.key().weight == 1
    p.submit(p.key(group="AAPL", bid_ask=True))
    p.submit(p.key(group="AAPL", bid_ask=True))  # 4 of 5
    third_bid_ask = p.submit(p.key(group="AAPL", bid_ask=True))  # would make 6
    trades = p.submit(p.key(group="AAPL"))  # makes 5: allowed
    assert third_bid_ask.waiting and trades.went_at == T0


def test_the_last_small_bar_slot_is_too_small_for_bid_ask(p: Pacer) -> None:
    for n in range(59):
        p.submit(p.key(group=n, bar_seconds=30))
    bid_ask = p.submit(p.key(group="x", bar_seconds=30, bid_ask=True))
    plain = p.submit(p.key(group="y", bar_seconds=30))
    assert bid_ask.waiting and plain.went_at == T0


# ---- open requests: at most 50, subscriptions included ---------------------------------------------------------

def test_the_open_request_limit_blocks_until_a_request_closes(p: Pacer) -> None:
    p.keep_open = True
    p.open = LIMITS.max_open
    item = p.submit(p.key(), within=60)
    assert item.waiting and p.outbox.pacing_queued == 1
    p.at(30)
    assert item.waiting  # time alone frees nothing
    p.close()
    assert item.went_at == T0 + 30
    assert p.open == LIMITS.max_open


def test_one_closing_request_lets_exactly_one_waiting_request_go(p: Pacer) -> None:
    p.keep_open = True
    p.open = LIMITS.max_open
    first, second = p.submit(p.key()), p.submit(p.key())
    p.close()
    assert first.went_at == T0 and second.waiting
    p.close()
    assert second.went_at == T0


def test_a_request_blocked_by_the_open_limit_is_refused_at_its_deadline(p: Pacer) -> None:
    p.open = LIMITS.max_open
    item = p.submit(p.key(), within=10)
    p.at(9.99)
    assert item.waiting
    p.at(10)
    assert item.refused == [1.0]
    assert p.outbox.pacing_queued == 0 and p.outbox.pacing_refused == 1
    p.close()
    assert item.went_at is None


# ---- deadlines ---------------------------------------------------------------------------------------------------

def test_a_wait_past_the_deadline_is_refused_at_once_with_retry_after(p: Pacer) -> None:
    p.submit(p.key(identity="same"))
    p.at(1)
    item = p.submit(p.key(identity="same"), within=10)
    assert item.refused == [pytest.approx(14 + MARGIN, abs=0.1)]  # when it could go, from now
    assert p.outbox.pacing_queued == 0 and p.outbox.pacing_refused == 1 and p.outbox.pacing_waited == 0


def test_a_refused_request_never_goes_later(p: Pacer) -> None:
    for _ in range(5):
        p.submit(p.key(group="AAPL"))
    refused = p.submit(p.key(group="AAPL"), within=1)
    assert refused.refused == [pytest.approx(2 + MARGIN, abs=0.1)]
    p.at(2 + MARGIN)
    p.outbox.pump()
    p.at(700)
    p.close(5)
    assert refused.went_at is None and refused.refused == [pytest.approx(2 + MARGIN, abs=0.1)]


def test_a_wait_that_ends_before_the_deadline_is_not_refused(p: Pacer) -> None:
    p.submit(p.key(identity="same"))
    item = p.submit(p.key(identity="same"), within=16)
    assert item.waiting
    p.at(15 + MARGIN)
    assert item.went_at == T0 + 15 + MARGIN
    p.at(16)
    assert item.refused == []


def test_a_waiting_request_does_not_hold_others_that_may_go(p: Pacer) -> None:
    p.submit(p.key(identity="same"))
    held = p.submit(p.key(identity="same"))
    free = p.submit(p.key(identity="free"))
    assert held.waiting and free.went_at == T0


# ---- budget for /health -----------------------------------------------------------------------------------------

def test_budget_reports_what_is_left(p: Pacer) -> None:
    p.keep_open = True
    assert p.budget() == {"small_bar_requests_left": 60, "open_requests_left": 50, "queued": 0}
    for n in range(3):
        p.submit(p.key(group=n, bar_seconds=5))
    p.submit(p.key(group="bid_ask", bar_seconds=10, bid_ask=True))
    p.submit(p.key(group="minute", bar_seconds=60, identity="minute"))
    p.submit(p.key(group="minute", bar_seconds=60, identity="minute"))  # identical: queued
    assert p.budget() == {"small_bar_requests_left": 55, "open_requests_left": 45, "queued": 1}
    p.at(599)
    assert p.budget()["small_bar_requests_left"] == 55
    p.at(600)
    assert p.budget()["small_bar_requests_left"] == 55, "the safety margin counts in the budget too"
    p.at(600.25)
    assert p.budget() == {"small_bar_requests_left": 60, "open_requests_left": 44, "queued": 0}


def test_budget_never_goes_below_zero(p: Pacer) -> None:
    p.open = LIMITS.max_open + 3
    assert p.budget()["open_requests_left"] == 0


def test_limits_are_settings() -> None:
    strict = Pacer(PacingLimits(identical_window=1.0, small_bar_max=2, max_open=3, margin=0.0))
    strict.keep_open = True
    strict.submit(strict.key(identity="same", group="a", bar_seconds=60))
    again = strict.submit(strict.key(identity="same", group="b", bar_seconds=60))
    strict.at(1)
    assert again.went_at == T0 + 1
    small = [strict.submit(strict.key(group=n, bar_seconds=1)) for n in range(2)]
    assert [item.went_at for item in small] == [T0 + 1, None]  # open limit 3 reached
    assert strict.budget() == {"small_bar_requests_left": 1, "open_requests_left": 0, "queued": 1}


# ---- bugs --------------------------------------------------------------------------------------------------------

def test_the_margin_holds_even_after_many_distinct_requests(p: Pacer) -> None:
    p.submit(p.key(identity="same", group="same"))
    p.at(15.1)
    for n in range(1024):  # distinct groups, minute bars: no rule holds them
        assert p.submit(p.key(group=n)).went_at is not None
    again = p.submit(p.key(identity="same", group="same"))
    assert again.waiting


def test_a_request_past_its_deadline_is_refused_never_sent(p: Pacer) -> None:
    late = p.submit(p.key(), within=-1.0)
    assert late.went_at is None and late.refused


def test_budget_does_not_wear_away_the_margin(p: Pacer) -> None:
    first = p.submit(p.key(group="g0", bar_seconds=5, identity="a"))
    assert first.went_at == T0
    for n in range(1, 60):
        p.submit(p.key(group=f"g{n}", bar_seconds=5, identity=n))
    p.at(600.1)
    p.budget()  # a /health call in between
    extra = p.submit(p.key(group="late", bar_seconds=5, identity="late"))
    assert extra.went_at is None, "the 61st must still wait for the margin past the 10-minute edge"


# ---- the ledger: the history outlives the worker ----------------------------------------------------------------

_opened: list[SqliteStore] = []


def store_ledger(path: Path) -> PacingLedger:
    """The pacing ledger of the bar store at `path` (worker/history/store_ledger.py), as a worker opens it."""
    store = SqliteStore(path, 1 << 30)
    _opened.append(store)
    return store.pacing_ledger


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()

class Wall:
    """An injected wall clock (epoch seconds), moved with the monotonic one."""

    def __init__(self, now: float = 1.7e9) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def restarted(path: Path, after: float, limits: PacingLimits = LIMITS) -> tuple[PacingRules, Clock]:
    """A new worker's rules, `after` seconds of wall time after the ledger's first record was written at 1.7e9."""
    clock = Clock(100.0)  # a new process: its monotonic clock has nothing to do with the old one's
    return PacingRules(limits, lambda: 0, clock, store_ledger(path), wall=Wall(1.7e9 + after)), clock


def dead_worker(path: Path, *keys: PacingKey) -> None:
    """A worker that sent `keys` one after another at wall time 1.7e9, then died."""
    clock, wall = Clock(), Wall()
    rules = PacingRules(LIMITS, lambda: 0, clock, store_ledger(path), wall=wall)
    for key in keys:
        rules.record(key, clock.now)


def key(identity: str = "same", group: str = "AAPL", bar_seconds: int = 60, bid_ask: bool = False) -> PacingKey:
    return PacingKey(identity=(identity,), group=(group, "SMART", "TRADES"), bar_seconds=bar_seconds, bid_ask=bid_ask)


def test_a_restarted_worker_keeps_the_identical_window_of_the_dead_one(tmp_path: Path) -> None:
    dead_worker(tmp_path / "store.sqlite3", key("same"))
    rules, clock = restarted(tmp_path / "store.sqlite3", after=5.0)
    assert rules.loaded == 1
    assert rules.earliest(key("same"), clock.now) == pytest.approx(clock.now + 10 + MARGIN)
    assert rules.earliest(key("other", group="MSFT"), clock.now) == clock.now


def test_a_restarted_worker_keeps_the_group_and_small_bar_windows(tmp_path: Path) -> None:
    dead_worker(tmp_path / "store.sqlite3", *[key(f"g{n}") for n in range(5)])
    rules, clock = restarted(tmp_path / "store.sqlite3", after=1.0)
    assert rules.earliest(key("sixth"), clock.now) == pytest.approx(clock.now + 1 + MARGIN)
    dead_worker(tmp_path / "small.sqlite3", *[key(f"s{n}", group=f"G{n}", bar_seconds=5, bid_ask=True)
                                            for n in range(30)])
    rules, clock = restarted(tmp_path / "small.sqlite3", after=300.0)
    assert rules.budget()["small_bar_requests_left"] == 0, "BID_ASK counted twice, as before the restart"
    assert rules.earliest(key("x", group="X", bar_seconds=30), clock.now) == pytest.approx(clock.now + 300 + MARGIN)


def test_records_no_window_needs_are_dropped_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    dead_worker(path, key("minute"), key("small", group="S", bar_seconds=30))
    rules, _ = restarted(path, after=60.0)
    assert rules.loaded == 1, "only the small-bar record still counts after a minute"
    assert [r.identity for r in store_ledger(path).load()] == [("small",)], "and the ledger was compacted"
    rules, _ = restarted(path, after=601.0)
    assert rules.loaded == 0 and store_ledger(path).load() == []


def test_a_record_from_the_future_counts_as_just_sent(tmp_path: Path) -> None:
    dead_worker(tmp_path / "store.sqlite3", key("same"))
    rules, clock = restarted(tmp_path / "store.sqlite3", after=-30.0)  # the wall clock was set back
    assert rules.earliest(key("same"), clock.now) == pytest.approx(clock.now + 15 + MARGIN)


def test_the_ledger_is_compacted_as_the_worker_runs_so_it_stays_small(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.tws.pacing, "COMPACT_EVERY", 10)
    path = tmp_path / "store.sqlite3"
    clock, wall = Clock(), Wall()
    rules = PacingRules(LIMITS, lambda: 0, clock, store_ledger(path), wall=wall)
    lines = []
    reader = store_ledger(path)  # what a new worker would find, at each step
    for n in range(100):
        clock.now += 2.0
        wall.now += 2.0
        rules.record(key(f"r{n}", group=f"G{n}"), clock.now)
        lines.append(len(reader.load()))
    assert max(lines) <= 10 + 8, "at most a compaction's worth beyond the 15 s the identical rule needs"
    kept = store_ledger(path).load()
    assert all(r.wall > wall.now - 15 - MARGIN - 20 for r in kept)


def test_the_outbox_writes_the_ledger_before_the_message_goes(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    clock = Clock()
    rules = PacingRules(LIMITS, lambda: 0, clock, store_ledger(path))
    seen: list[int] = []

    class Probe:
        name = "reqHistoricalData"

        def send_to(self, client: Any) -> None:
            seen.append(len(store_ledger(path).load()))  # what a kill at this instant would leave behind

    outbox = Outbox(roomy_budget(clock), rules, Timers(clock), FakeConnection(object()), clock)
    outbox.request(Probe, clock.now + 30, lambda error: None, pacing=key("same"))
    assert seen == [1]
