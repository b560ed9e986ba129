"""The API answers as its spec says: schemathesis generates requests from docs/openapi.json and sends them to a
real bridge (gunicorn, the TWS worker) on a real simulated TWS, on loopback.

Every case is checked for: no 5xx (not_a_server_error), a status the operation documents, the documented content
type, and a body that fits the documented schema (for errors: the Error shape, `code` one of the status's codes).

What is not fuzzed blindly:
- the control endpoints (POST /connect, /disconnect) run last, in their own test: a disconnect takes TWS down for
  every request after it;
- the stream endpoint's answers never end: schemathesis reads an event stream for at most its timeout (STREAM_TIMEOUT)
  or 20 events;
- bars requests that would make the worker wait on TWS: the simulator has no pacing, BAR_TIMEOUT is short, and a
  range that does not fit is a job (202) at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from tests.e2e.processes import BridgeProcess, SimProcess

ROOT = Path(__file__).resolve().parents[3]
schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json")
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.specs.openapi.checks.status_code_conformance,
          schemathesis.specs.openapi.checks.content_type_conformance,
          schemathesis.specs.openapi.checks.response_schema_conformance]
CASES = 300  # per operation (10 of them; fewer for those with few distinct inputs)
CONTROL_CASES = 60  # per control endpoint, each possibly a real disconnect
# IB takes one reqMatchingSymbols a second (the worker paces them): each new query costs up to a second of real time
SEARCH = "/api/v1/contracts/search"
SEARCH_CASES = 60
REQUEST_TIMEOUT = 10.0  # BAR_TIMEOUT (2 s) and the worker's own margins: no answer takes longer
STREAM_TIMEOUT = 1.0
FUZZ = settings(max_examples=CASES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzzed(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A bridge without a token (schemathesis sends none), a short BAR_TIMEOUT, on the module's simulator."""
    bridge = BridgeProcess(tmp_path_factory.mktemp("fuzzed"), tws.port, BAR_TIMEOUT="2").start()
    yield bridge
    bridge.stop()


SENT: dict[str, int] = {}  # cases sent per operation, printed at the end (pytest -s)


@pytest.fixture(scope="module", autouse=True)
def cases_sent() -> Iterator[None]:
    yield
    documented = {op: n for op, n in SENT.items() if n > 1}  # the rest: one unsupported-method probe each
    print(f"\nschemathesis: {sum(SENT.values())} cases; by operation: {documented}")


def _call(case: schemathesis.Case, bridge: BridgeProcess) -> None:
    key = f"{case.method} {case.path}"
    SENT[key] = SENT.get(key, 0) + 1
    timeout = STREAM_TIMEOUT if case.path == "/api/v1/bars/stream" else REQUEST_TIMEOUT
    case.call_and_validate(base_url=bridge.origin, checks=CHECKS, timeout=timeout)


@schema.exclude(path_regex="^/api/v1/(connect|disconnect)$").exclude(path=SEARCH).parametrize()
@FUZZ
def test_every_answer_conforms_to_the_spec(case: schemathesis.Case, fuzzed: BridgeProcess) -> None:
    _call(case, fuzzed)


@schema.include(path=SEARCH).parametrize()
@settings(FUZZ, max_examples=SEARCH_CASES)
def test_the_symbol_search_conforms_to_the_spec(case: schemathesis.Case, fuzzed: BridgeProcess) -> None:
    _call(case, fuzzed)


@schema.include(path_regex="^/api/v1/(connect|disconnect)$").parametrize()
@settings(FUZZ, max_examples=CONTROL_CASES)
def test_the_control_endpoints_conform_to_the_spec(case: schemathesis.Case, fuzzed: BridgeProcess) -> None:
    _call(case, fuzzed)
