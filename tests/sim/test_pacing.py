"""IB's historical-data pacing rules, enforced as the HMDS farm does (error 162 / 322)."""

from __future__ import annotations

import pytest

from sim.harness import SimulatedTws
from tests.sim.ib_client import stock
from tests.sim.test_historical_data import request

PACING = "Historical data request pacing violation"


@pytest.fixture
def sim(sim_factory) -> SimulatedTws:
    """The bursts below send 31-61 requests at once: TWS's 50 messages/s limit (error 100) is not what they test."""
    return sim_factory(max_message_rate=0)


def codes(ib, req_id):
    return [e.data["code"] for e in ib.named("error", req_id)]


def test_an_identical_request_within_15_seconds_is_a_violation(sim, ib):
    request(ib, 1)
    ib.history(1)
    request(ib, 2)
    err = ib.wait_error(2)
    assert err.data["code"] == 162 and PACING in err.data["message"]
    assert len(sim.request_log.pacing_violations()) == 1


def test_the_sixth_request_for_one_contract_within_2_seconds_is_a_violation(sim, ib):
    for req_id, duration in enumerate(["1 D", "2 D", "3 D", "4 D", "5 D"], start=1):
        request(ib, req_id, duration=duration)
        ib.history(req_id)
    request(ib, 6, duration="6 D")
    assert ib.wait_error(6).data["code"] == 162
    request(ib, 7, contract=stock("MSFT"))  # another contract is not affected
    ib.history(7)


STOCKS = ["AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "AMD", "INTC", "QQQ", "JPM", "XOM", "KO", "IBM",
          "BAC", "WMT", "SPY", "DIA", "IWM", "GLD"]
# 80 (contract, whatToShow) groups: one request each never trips the 6-in-2-seconds rule
GROUPS = [(symbol, what) for what in ("TRADES", "MIDPOINT", "BID", "ASK") for symbol in STOCKS]


def burst(ib, count, bar="30 secs", what=None):
    for req_id in range(1, count + 1):
        symbol, group_what = GROUPS[req_id - 1]
        request(ib, req_id, contract=stock(symbol), duration=f"{1800 + 60 * req_id} S", bar=bar,
                what=what or group_what)
    ib.wait_for(lambda ev: len({e.req_id for e in ev if e.name in ("historicalDataEnd", "error")
                                and e.req_id is not None and e.req_id > 0}) >= count, timeout=60)


def test_more_than_60_small_bar_requests_in_10_minutes_is_a_violation(sim, ib):
    burst(ib, 61)
    assert [r for r in range(1, 62) if 162 in codes(ib, r)] == [61]


def test_the_60_limit_is_for_small_bars_only(sim, ib):
    burst(ib, 61, bar="1 min")
    assert not sim.request_log.pacing_violations()


def test_bid_ask_counts_twice(sim, ib):
    burst(ib, 31, what="BID_ASK")
    assert [r for r in range(1, 32) if any(PACING in e.data["message"] for e in ib.named("error", r))] == [31]


def test_bid_ask_counts_twice_against_six_per_contract_in_2_seconds(sim, ib):
    for req_id, duration in enumerate(["1 D", "2 D"], start=1):  # 2 x 2 = 4 of the 5 allowed
        request(ib, req_id, duration=duration, what="BID_ASK")
        ib.history(req_id)
    request(ib, 3, duration="3 D", what="BID_ASK")  # would make 6
    err = ib.wait_error(3)
    assert err.data["code"] == 162 and PACING in err.data["message"]
    request(ib, 4, duration="3 D", what="BID")  # another tick type is another group
    ib.history(4)


def test_more_than_50_open_requests_get_322(sim, ib):
    sim.control("never_answer", name="RequestHistoricalData", count=-1)
    for req_id in range(1, 52):
        symbol, what = GROUPS[req_id - 1]
        request(ib, req_id, contract=stock(symbol), what=what)
    err = ib.wait_error(51)
    assert err.data["code"] == 322
    assert sim.open_requests() == 50


def test_pacing_can_be_switched_off(sim_factory, connect):
    ib = connect(sim_factory(pacing=False))
    request(ib, 1)
    request(ib, 2)
    ib.history(1)
    ib.history(2)


def _random_requests(seed: int, count: int) -> list[tuple[float, object]]:
    """A seeded mix of identical, same-contract and small-bar requests at increasing times (scale-1 seconds)."""
    import random

    from sim.messages import ContractSpec, HistoryQuery, RequestHistoricalData

    rng = random.Random(seed)
    t, out = 0.0, []
    for i in range(count):
        # steps off the round numbers: no two times exactly a window apart, where float rounding of "x 0.1" decides
        t += rng.choice([0.0, 0.0, 0.05, 0.3, 1.0, 3.0, 16.0]) + rng.uniform(0.001, 0.01)
        if out and rng.random() < 0.1:  # the same request again
            out.append((t, out[rng.randrange(max(0, len(out) - 5), len(out))][1]))
            continue
        symbol = rng.choice(["AAPL", "MSFT", "IBM", "KO"])
        if rng.random() < 0.05:  # a burst for one contract: the 6-in-2-s rule
            for n in range(7):
                query = HistoryQuery("20250127 16:00:00", "1 min", f"{n + 1} D", True, "TRADES", 1, False)
                spec = ContractSpec(symbol=symbol, sec_type="STK", exchange="SMART")
                out.append((t, RequestHistoricalData(i, spec, query)))
            continue
        query = HistoryQuery("20250127 16:00:00", rng.choice(["1 secs", "1 secs", "30 secs", "1 min"]),
                             f"{rng.randrange(1, 60) * 60} S", True, "TRADES", 1, False)
        out.append((t, RequestHistoricalData(i, ContractSpec(symbol=symbol, sec_type="STK", exchange="SMART"), query)))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_the_scaled_simulator_refuses_exactly_what_it_refuses_at_full_scale_with_times_times_ten(seed):
    from sim.pacing import PacingRules

    full, tenth = PacingRules(), PacingRules(scale=0.1)
    requests = _random_requests(seed, 400)
    verdicts_full = [full.check(r, 0, t).rule for t, r in requests]
    verdicts_tenth = [tenth.check(r, 0, t * 0.1).rule for t, r in requests]
    assert verdicts_full == verdicts_tenth
    assert {"identical", "same_contract", "small_bars", ""} <= set(verdicts_full)  # every rule is exercised


def test_the_pacing_scale_is_an_option_a_flag_and_a_control_operation(sim_factory):
    from sim.cli import build_parser, options_from

    assert options_from(build_parser().parse_args(["--pacing-scale", "0.1"])).pacing_scale == 0.1
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--pacing-scale", "0"])
    sim = sim_factory(pacing_scale=0.5)
    assert sim.call(lambda: sim.server.pacing.scale) == 0.5
    sim.control("pacing_scale", value=0.1)
    assert sim.call(lambda: sim.server.pacing.scale) == 0.1
    with pytest.raises(ValueError, match="pacing scale"):
        sim.control("pacing_scale", value=2)
