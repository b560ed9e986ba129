"""The TypeScript client (clients/node, package tws-bridge-client): built with tsc, its `node --test` suite run against
a real bridge (gunicorn, the TWS worker) and `python -m sim`, and its generated types checked against
docs/openapi.json.

The bridge requires a token and paces IB's rules on a scaled clock so that the client meets the real thing quickly:
one small-bar request per 4.8 s (PACING_SMALL_BAR_MAX=1, BRIDGE_PACING_SCALE) is a real 429 with Retry-After when
the wait passes BAR_TIMEOUT, and months of 1-min bars are a real job that finishes within seconds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import ROOT, BridgeProcess, SimProcess

CLIENT = ROOT / "clients" / "node"
NODE = shutil.which("node") or "/usr/bin/node"
NPM = shutil.which("npm") or "/usr/bin/npm"
TOKEN = "node-client-test-token-0123456789"
NODE_RUN_TIMEOUT_S = 90  # the suite takes ~20 s; the bound only keeps a hung run from hanging CI
TEST_TIMEOUT_MS = 30_000  # one node test; a hang is reported as that test's failure
MIN_PASSED = 20  # the suite's test count, so that a run that silently skipped or lost tests fails


@pytest.fixture(scope="session")
def built_client() -> Path:
    """clients/node installed from its lock file (no scripts) and built with tsc, once per session."""
    assert Path(NPM).is_file(), "npm is needed (make test installs it)"
    stamp = CLIENT / "node_modules" / ".installed"
    lock = CLIENT / "package-lock.json"
    if not stamp.is_file() or stamp.stat().st_mtime < lock.stat().st_mtime:  # `make node-client` leaves the stamp
        _run([NPM, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        stamp.touch()
    _run([NPM, "run", "--silent", "build"])
    return CLIENT


@pytest.fixture(scope="module")
def tws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """A running clock (30x: a 1-min bar completes every 2 s) for the stream; the past ranges do not move."""
    sim = SimProcess(tmp_path_factory.mktemp("tws"), clock_start="2025-01-28T10:00:00-05:00", speed=30.0,
                     extra=("--no-pacing",)).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def bridge(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port, BRIDGE_API_TOKEN=TOKEN, BAR_TIMEOUT="4",
                      BRIDGE_PACING_SCALE="0.008", PACING_SMALL_BAR_MAX="1", BRIDGE_CACHE_NOW_TTL="0",
                      PACING_IDENTICAL_WINDOW="0").start()
    yield b
    b.stop()


def test_the_node_client_passes_its_suite_against_the_real_bridge(built_client: Path, bridge: BridgeProcess,
                                                                    tws: SimProcess) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWS_BRIDGE_URL": bridge.origin,
           "TWS_BRIDGE_TOKEN": TOKEN, "TWS_SIM_CONTROL_PORT": str(tws.control_port)}
    suite = sorted(str(path.relative_to(built_client)) for path in (built_client / "test").glob("*.test.mjs"))
    try:
        done = subprocess.run([NODE, "--test", "--test-concurrency=1", f"--test-timeout={TEST_TIMEOUT_MS}",
                               "--test-reporter=tap", *suite], cwd=built_client, env=env, capture_output=True,
                              text=True, timeout=NODE_RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"node --test did not finish within {NODE_RUN_TIMEOUT_S} s:\n{_text(exc.stdout)}\n"
                    f"{_text(exc.stderr)}")
    output = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, output
    summary = {line.split()[1]: int(line.split()[2]) for line in done.stdout.splitlines()
               if line.startswith("# ") and len(line.split()) == 3 and line.split()[2].isdigit()}
    assert summary.get("fail") == 0 and summary.get("skipped", 0) == 0 and summary.get("todo", 0) == 0, output
    assert summary.get("pass", 0) >= MIN_PASSED, output


def test_the_committed_types_are_what_docs_openapi_json_generates(built_client: Path, tmp_path: Path) -> None:
    generated = tmp_path / "openapi.d.ts"
    _run(["node_modules/.bin/openapi-typescript", str(ROOT / "docs" / "openapi.json"), "--default-non-nullable",
          "false", "-o", str(generated)])
    committed = (CLIENT / "src" / "openapi.d.ts").read_text()
    assert generated.read_text() == committed, \
        "clients/node/src/openapi.d.ts is not what docs/openapi.json generates: run `npm run gen:types` there"


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("### From Node.js / TypeScript", 1)[1]
    match = re.search(r"```ts\n(.*?)```", section, re.S)
    assert match, "README's TypeScript client example is a ```ts block under its heading"
    return match.group(1)


def test_the_readme_typescript_example_compiles_and_runs_against_the_bridge(built_client: Path, bridge: BridgeProcess,
                                                                            tmp_path: Path) -> None:
    """As a user would: the package installed by path (a symlink, as `npm install <path>` makes), README's example
    compiled by tsc with strict types, run with node."""
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "tws-bridge-client").symlink_to(built_client)
    (tmp_path / "package.json").write_text('{"type": "module", "private": true}')
    (tmp_path / "bars.ts").write_text(readme_example())
    (tmp_path / "tsconfig.json").write_text(json.dumps({"files": ["bars.ts"], "compilerOptions": {
        "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": True, "types": ["node"],
        "typeRoots": [str(built_client / "node_modules" / "@types")], "skipLibCheck": True}}))
    _run([str(built_client / "node_modules" / ".bin" / "tsc"), "-p", str(tmp_path)])
    done = subprocess.run([NODE, "bars.js"], cwd=tmp_path, capture_output=True, text=True, timeout=60, env={
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BRIDGE_URL": bridge.origin, "BRIDGE_API_TOKEN": TOKEN})
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"78 bars; the last one starts 2025-01-27T15:55:00-05:00 and closed at [0-9.]+", lines[0]), \
        lines
    assert lines[1] == "symbol_not_found (TWS 200)", lines
    month = next(line for line in lines if "1-minute bars" in line)
    assert re.fullmatch(r"[0-9]+ 1-minute bars from 20241202 09:30:00 to 20241231 15:59:00", month), month
    bars = [line for line in lines if line.startswith("bar ")]
    assert len(bars) == 5 and all(re.fullmatch(r"bar 2025-01-28T\d\d:\d\d:00-05:00 closed at [0-9.]+", b)
                                  for b in bars), bars


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


def _run(command: list[str]) -> None:
    done = subprocess.run(command, cwd=CLIENT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
