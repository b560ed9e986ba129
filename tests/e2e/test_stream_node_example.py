"""README's Node.js stream example, run as printed with Node 20 against the real bridge (gunicorn, the TWS worker,
`python -m sim` with a running clock), through a proxy the test cuts: the script resumes after the disconnect by
Last-Event-ID, and the bars it prints are exactly the fresh series, none missing, none twice."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cutting_proxy import CuttingProxy
from tests.e2e.processes import ROOT, BridgeProcess, SimProcess
from tests.waiting import wait_until

NODE = shutil.which("node") or "/usr/bin/node"
README = (ROOT / "README.md").read_text()


def node_example() -> str:
    section = README.split("### Streaming bars from Node.js", 1)[1]
    match = re.search(r"```js\n(.*?)```", section, re.S)
    assert match, "README's Node stream example is a ```js block under its heading"
    return match.group(1)


@pytest.fixture(scope="module")
def tws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    sim = SimProcess(tmp_path_factory.mktemp("tws"), clock_start="2025-01-28T10:00:00-05:00", speed=30.0,
                     extra=("--no-pacing",)).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def bridge(tws: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path_factory.mktemp("bridge"), tws.port, BRIDGE_CACHE_NOW_TTL="0",
                      PACING_IDENTICAL_WINDOW="0").start()
    yield b
    b.stop()


def test_the_readme_node_script_prints_bars_and_resumes_after_a_disconnect(bridge, tmp_path: Path) -> None:
    assert Path(NODE).is_file(), "node is needed (make test installs nodejs)"
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=10).stdout
    assert int(version.lstrip("v").split(".")[0]) >= 20, version
    script = tmp_path / "stream-bars.mjs"
    script.write_text(node_example())
    proxy = CuttingProxy(bridge.port)
    proc = subprocess.Popen([NODE, str(script), "AAPL", "1m"], env={"PATH": "/usr/bin:/bin",
                            "BRIDGE_URL": f"http://127.0.0.1:{proxy.port}"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stderr: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore
    threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()  # type: ignore
    printed: list[dict] = []

    def bars(count: int) -> bool:
        while not lines.empty():
            printed.append(json.loads(lines.get()))
        assert proc.poll() is None, "".join(stderr)
        return len(printed) >= count

    try:
        wait_until(lambda: bars(12), timeout=30, interval=0.05, what="backfill and live bars printed")
        proxy.cut()
        target = len(printed) + 4
        wait_until(lambda: bars(target) and proxy.accepted >= 2, timeout=40, interval=0.05,
                   what="bars after the reconnect")
    finally:
        proc.terminate()
        proc.wait(10)
        proxy.close()
    assert any("disconnected" in line for line in stderr), stderr
    series = bridge.post("/bars", {"symbol": "AAPL", "period": "1m", "duration": "1 D"}).body["bars"]
    start = next(i for i, bar in enumerate(series) if bar["time"] == printed[0]["time"])
    assert printed == series[start:start + len(printed)], "every bar once, in order, with its final values"
