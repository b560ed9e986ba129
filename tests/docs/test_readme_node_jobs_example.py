"""README's Node.js long-range example, run as printed with Node against a fake bridge serving the documented
answers (tests/clients/fake_bridge.py): it follows the 202's job to its end, then reads every page of the bars."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.clients.fake_bridge import FakeBridge, Script, job

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node") or "/usr/bin/node"
JOB_ID = "e" * 32


def node_example() -> str:
    section = (ROOT / "README.md").read_text().split("#### Long ranges from Node.js", 1)[1]
    match = re.search(r"```js\n(.*?)```", section, re.S)
    assert match, "README's Node long-range example is a ```js block under its heading"
    return match.group(1)


def run(script: Path, bridge: FakeBridge) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODE, str(script), "AAPL", "1m", "2025-01-02T09:30:00-05:00", "2025-02-01T16:00:00-05:00"],
                          env={"PATH": "/usr/bin:/bin", "BRIDGE_URL": bridge.url}, capture_output=True, text=True,
                          timeout=60)


def test_the_readme_node_script_follows_the_job_and_reads_every_page(tmp_path: Path) -> None:
    assert Path(NODE).is_file(), "node is needed (make test installs nodejs)"
    script = tmp_path / "fill-range.mjs"
    script.write_text(node_example())
    states = [job(JOB_ID, "pending", 0, 3, 0), job(JOB_ID, "running", 1, 3, 390), job(JOB_ID, "running", 2, 3, 780),
              job(JOB_ID, "done", 3, 3, 1170, None)]
    with FakeBridge({"AAPL": Script(jobs=states, pages=[500, 500, 170], job_id=JOB_ID)}) as bridge:
        done = run(script, bridge)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"symbol": "AAPL", "count": 1170, "first": "20250102 09:30:00",
                                       "last": "20250102 09:30:00"}
    assert "AAPL: running 2/3 windows, 780 bars" in done.stderr
    assert [s.path for s in bridge.requests("GET")] == [f"/api/v1/jobs/{JOB_ID}"] * 3
    posts = [s.body for s in bridge.requests("POST")]
    assert posts[0] == {"symbol": "AAPL", "period": "1m", "start_datetime": "2025-01-02T09:30:00-05:00",
                        "end_datetime": "2025-02-01T16:00:00-05:00"}
    assert [p.get("page_token") for p in posts] == [None, None, "p1", "p2"]


def test_the_readme_node_script_stops_on_a_failed_job(tmp_path: Path) -> None:
    script = tmp_path / "fill-range.mjs"
    script.write_text(node_example())
    states = [job(JOB_ID, "pending", 0, 3, 0),
              job(JOB_ID, "failed", 1, 3, 390, None, {"code": "tws_error", "message": "no"})]
    with FakeBridge({"AAPL": Script(jobs=states, job_id=JOB_ID)}) as bridge:
        done = run(script, bridge)
    assert done.returncode != 0 and "job failed: tws_error" in done.stderr
