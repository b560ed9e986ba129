"""GET /api/v1/contracts/<symbol>/head answers the earliest bar TWS has (reqHeadTimeStamp), and the planner agrees
with it: a range that starts before the head sends nothing before it, and answers the bars from the head on.

NEWCO is an instrument of the simulator's universe (given with --instruments) whose data starts on Monday
2025-01-13."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.history import head_timestamp
from tests.e2e.history import sim_series
from tests.e2e.history.rig import assert_legal, pacing_violations, refusals, sim_now, windows
from tests.e2e.history.sim_series import iso, ny
from tests.e2e.processes import ROOT

FIRST_DATE = "20250113"


@pytest.fixture
def instruments(tmp_path: Path) -> Path:
    universe = json.loads((ROOT / "sim" / "data" / "instruments.json").read_text())
    newco = {**next(i for i in universe["instruments"] if i["symbol"] == "AAPL"), "conId": 990001,
             "symbol": "NEWCO", "localSymbol": "NEWCO", "longName": "NEW COMPANY INC", "firstDate": FIRST_DATE}
    universe["instruments"].append(newco)
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps(universe))
    return path


def test_the_head_endpoint_answers_the_simulators_head(make_sim, make_history_bridge, instruments) -> None:
    tws = make_sim(extra=("--instruments", str(instruments)))
    bridge = make_history_bridge(tws)
    inst = sim_series.instrument("NEWCO", instruments)
    for session, rth in (("rth", True), ("all", False)):
        answer = bridge.head("NEWCO", session=session)
        assert answer.status == 200, answer.body
        assert answer.body["head"]["time"] == int(head_timestamp(inst, rth, "TRADES", 2))
    assert bridge.head("NEWCO").body["head"]["date"] == "20250113 09:30:00"
    assert bridge.head("NEWCO", session="all").body["head"]["date"] == "20250113 04:00:00"
    asked = len(tws.received("RequestHeadTimestamp"))
    assert bridge.head("NEWCO").status == 200
    assert len(tws.received("RequestHeadTimestamp")) == asked, "remembered: TWS is asked once"


def test_a_range_starting_before_the_head_sends_nothing_before_it(make_sim, make_history_bridge, instruments) -> None:
    tws = make_sim(extra=("--instruments", str(instruments)))
    bridge = make_history_bridge(tws, BAR_TIMEOUT="30")
    head = bridge.head("NEWCO").body["head"]["time"]
    start, end = ny("2024-12-02 09:30"), ny("2025-01-15 16:00")
    got = bridge.fetch({"symbol": "NEWCO", "period": "1m", "start_datetime": iso(start), "end_datetime": iso(end)})
    assert got.bars == sim_series.series("NEWCO", "1 min", start, end, sim_now(tws), instruments=instruments)
    assert got.bars[0]["time"] == head and len(got.bars) == 3 * 390
    sent = windows(tws, "NEWCO", instruments)
    assert_legal(sent)
    assert sent and all(w.end > head for w in sent), [w.span for w in sent if w.end <= head]
    assert len(sent) == 3  # the three sessions from the head on, one "1 D" window each
    assert pacing_violations(tws) == [] and refusals(tws) == []
