"""README's examples work as printed: every curl and request body it shows runs against the demo setup
(`deploy/demo.sh`, which `make demo` runs: the simulator and the real bridge on loopback) and answers as shown."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.readme_examples import body_examples, curl_examples, mismatches, stream_examples
from tests.e2e.processes import http
from tests.ports import free_port
from tests.sse import SseParser
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
README_PORT = "127.0.0.1:3003"  # the address README's examples use; the test's demo listens elsewhere
DEMO_CLOCK = "2025-01-28T10:00:00-05:00"  # a Tuesday morning: a session is open, the forming bar moves


@dataclass
class Demo:
    port: int
    output: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def run(self, command: str) -> str:
        """A shell command as printed, aimed at this demo instead of README's port 3003."""
        command = command.replace(README_PORT, f"127.0.0.1:{self.port}")
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{command!r} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def connected(self) -> bool:
        try:
            return http("GET", f"{self.url}/health", timeout=5).body.get("connected") is True
        except OSError:
            return False


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    assert shutil.which("curl"), "curl is needed to run README's examples (make test installs it)"
    port = free_port()
    env = {**os.environ, "PY": sys.executable, "PORT": str(port), "SIM_PORT": str(free_port()),
           "DEMO_CLOCK": DEMO_CLOCK, "TMPDIR": str(tmp_path_factory.mktemp("demo"))}  # its logs: the test's
    proc = subprocess.Popen(["bash", "deploy/demo.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []

    def ready() -> bool:
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                return False
            assert line is not None, "the demo ended early:\n" + "\n".join(output)
            output.append(line)
            if "Press Ctrl-C to stop" in line:
                return True

    try:
        wait_until(ready, timeout=120, interval=0.05, what="the demo up and its checks printed")
        yield Demo(port, output)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_stream_curl_in_the_readme_shows_the_events_shown(demo: Demo) -> None:
    # first in the module: the curls below take TWS down and up (/disconnect, /connect), and a stream opened while
    # its series is being restored says so ("interrupted"), which README's example does not show
    (example,) = stream_examples(README)
    shown_reader = SseParser()
    shown = shown_reader.feed(example.shown.encode())
    assert shown and shown_reader.retry is not None
    command = example.command.replace(README_PORT, f"127.0.0.1:{demo.port}")
    proc = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, start_new_session=True)
    chunks: queue.Queue[bytes] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):
            chunks.put(chunk)

    threading.Thread(target=read, daemon=True).start()
    reader = SseParser()
    events: list = []

    def enough() -> bool:
        while not chunks.empty():
            events.extend(reader.feed(chunks.get()))
        return len(events) >= len(shown)

    try:  # a stream never ends: read what README shows, then stop curl
        wait_until(enough, timeout=30, interval=0.05, what=f"the {len(shown)} events README shows")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    assert reader.retry == shown_reader.retry
    problems: list[str] = []
    for want, got in zip(shown, events, strict=False):
        if (want.kind, want.id is None) != (got.kind, got.id is None):
            problems.append(f"expected a {want.kind} event (id {want.id}), got {got}")
        problems += [f"{want.kind}: {p}" for p in mismatches(want.data, got.data)]
        if got.id is not None:
            assert got.id == str(got.data["time"])
    assert problems == [], f"README line {example.line}"


def test_every_curl_in_the_readme_answers_as_shown(demo: Demo) -> None:
    examples = curl_examples(README)
    assert len(examples) >= 4, "README shows health, bars, connect and disconnect curls"
    problems: list[str] = []
    for example in examples:
        answer = json.loads(demo.run(example.command))
        if example.expected is not None:
            problems += [f"README line {example.line}: {p}" for p in mismatches(example.expected, answer)]
        elif answer.get("success") is False:
            problems.append(f"README line {example.line}: {example.command} failed: {answer}")
        if "/connect" in example.command:  # later examples need TWS again
            wait_until(demo.connected, timeout=30, what="the bridge reconnected after README's /connect")
    assert problems == []


def test_every_request_body_in_the_readme_is_served(demo: Demo) -> None:
    bodies = body_examples(README)
    assert bodies, "README shows request bodies for other instruments"
    for example in bodies:
        answer = http("POST", f"{demo.url}/bars", example.body)
        assert answer.status == 200 and answer.body["success"] is True, (example.line, answer.body)
        assert answer.body["count"] > 0, (example.line, answer.body)


def test_the_demo_prints_curls_that_work_and_a_forming_bar_that_moves(demo: Demo) -> None:
    printed = [line.strip() for line in demo.output if line.strip().startswith("curl ")]
    assert len(printed) == 3 and any("include_forming" in line for line in printed), demo.output
    for command in printed:
        answer = json.loads(demo.run(command.replace(f"127.0.0.1:{demo.port}", README_PORT)))
        assert answer.get("success", True) is True and answer.get("status", "ok") == "ok", answer
    forming = [json.loads(re.sub(r"^[^{]*", "", line)) for line in demo.output
               if line.startswith(("The forming 1-min bar now:", "and a few seconds later:"))]
    assert len(forming) == 2 and forming[0]["time"] == forming[1]["time"], demo.output
    assert forming[0] != forming[1], "the forming bar the demo printed twice did not change"


def test_the_demo_prints_the_pages_and_they_answer(demo: Demo) -> None:
    pages = [m.group(0) for line in demo.output for m in [re.search(r"http://127\.0\.0\.1:\d+/\S*", line)]
             if m and "/api/" not in m.group(0)]
    assert {urllib.parse.urlsplit(url).path for url in pages} == {"/", "/docs", "/metrics"}, demo.output
    for url in pages:
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200
            kind = answer.headers["Content-Type"]
            assert kind.startswith("text/html" if not url.endswith("/metrics") else "text/plain"), (url, kind)
