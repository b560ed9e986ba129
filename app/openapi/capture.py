"""`python -m app.openapi.capture`: the spec's examples, captured as real answers of a real bridge and simulator.

Starts the simulated TWS (`python -m sim`, seeded bars, its clock frozen at Tuesday 2025-01-28 11:00 New York) and
the bridge (gunicorn with its TWS worker, a token set) on loopback ports, asks each endpoint what the spec shows,
and writes the answers to app/openapi/examples.json; then `python -m app.openapi > docs/openapi.json`. Run it when
an answer's shape changes; tests/app/openapi check that every example still fits its schema.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.openapi.spec import EXAMPLES_FILE

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "example-token-0123456789"
CLOCK = "2025-01-28T11:00:00-05:00"
Examples = dict[str, dict[str, Any]]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tws-bridge-capture-") as tmp:
        sim_port, bridge_port = _free_port(), _free_port()
        sim = subprocess.Popen([sys.executable, "-m", "sim", "--port", str(sim_port), "--clock-start", CLOCK,
                                "--clock-speed", "0", "--no-pacing", "--log-level", "WARNING"], cwd=ROOT)
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(bridge_port), "TWS_PORT": str(sim_port),
               "GUNICORN_WORKERS": "1", "LOG_LEVEL": "WARNING", "BRIDGE_API_TOKEN": TOKEN, "BAR_TIMEOUT": "5",
               "BRIDGE_WORKER_ENDPOINT": f"ipc://{tmp}/worker.sock", "BRIDGE_ENV_FILE": f"{tmp}/none.env",
               "BRIDGE_STORE_PATH": f"{tmp}/store/bars.sqlite3", "TWS_RECONNECT_INITIAL_DELAY": "0.2"}
        bridge = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                  env=env)
        try:
            client = Client(f"http://127.0.0.1:{bridge_port}")
            _wait(lambda: client.connected(), "the bridge connected to the simulator")
            examples = capture(client)
        finally:
            bridge.send_signal(signal.SIGTERM)
            bridge.wait(20)
            sim.terminate()
            sim.wait(10)
    EXAMPLES_FILE.write_text(json.dumps(examples, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {EXAMPLES_FILE.relative_to(ROOT)}; now: python -m app.openapi > docs/openapi.json",
          file=sys.stderr)
    return 0


class Client:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None, token: bool = True) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {**({"Content-Type": "application/json"} if body is not None else {}), **(self.auth if token else {}),
                **(headers or {})}
        request = urllib.request.Request(self.origin + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), json.loads(answer.read())
        except urllib.error.HTTPError as failed:
            return failed.code, dict(failed.headers), json.loads(failed.read())

    def connected(self) -> bool:
        try:
            return self.call("GET", "/api/v1/health")[2].get("connected") is True
        except OSError:
            return False

    def stream_text(self, query: str) -> str:
        """The stream's first events, up to and including its first `status` event."""
        host, port = self.origin.rsplit("/", 1)[1].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request("GET", f"/api/v1/bars/stream?{query}", headers={**self.auth,
                                                                                "Accept": "text/event-stream"})
            answer = connection.getresponse()
            lines: list[str] = []
            while not (len(lines) > 2 and lines[-3].startswith("event: status") and lines[-1] == "\n"):
                line = answer.readline().decode()
                if not line:
                    break
                lines.append(line)
            return "".join(lines)
        finally:
            connection.close()


def capture(client: Client) -> Examples:
    examples: Examples = {}

    def keep(key: str, status: int, name: str, summary: str, value: Any) -> None:
        examples.setdefault(key, {}).setdefault(str(status), {})[name] = {"summary": summary, "value": value}

    def ask(key: str, name: str, summary: str, request: dict[str, Any] | None = None, expect: int = 200,
            **kw: Any) -> tuple[int, dict[str, str], Any]:
        method, path = key.split(" ", 1)
        status, headers, body = client.call(method, kw.pop("url", path), request, **kw)
        if status != expect:
            raise SystemExit(f"{key} ({name}): expected {expect}, got {status}: {body}")
        keep(key, status, name, summary, body)
        if request is not None and method == "POST" and status < 300:
            examples.setdefault(key, {}).setdefault("requestBody", {})[name] = {"summary": summary, "value": request}
        return status, headers, body

    health, bars, head = "GET /api/v1/health", "POST /api/v1/bars", "GET /api/v1/contracts/{symbol}/head"
    ask(health, "connected", "TWS connected")
    ask(bars, "intraday", "1-hour bars of a day", {"symbol": "AAPL", "period": "1h", "duration": "1 D",
                                                    "end_datetime": "20250127 16:00:00"})
    page = {"symbol": "AAPL", "period": "30m", "start_datetime": "20250127 09:30:00",
            "end_datetime": "20250127 16:00:00", "limit": 3}
    _, _, first = ask(bars, "first_page", "a range in pages of 3 bars: next_page_token names the next", page)
    ask(bars, "next_page", "the next page: the same request with page_token",
        {**page, "page_token": first["next_page_token"]})
    ask(bars, "daily", "daily bars of a week: datetime is the date",
        {"symbol": "AAPL", "period": "1d", "duration": "1 W", "end_datetime": "20250125 00:00:00"})
    ask(bars, "invalid_request", "an unknown period", {"symbol": "AAPL", "period": "7m", "duration": "1 D"},
        expect=400)
    ask(bars, "unauthorized", "no token", {"symbol": "AAPL", "period": "5m", "duration": "1 D"}, expect=401,
        token=False)
    ask(bars, "symbol_not_found", "TWS knows no such contract", {"symbol": "NOSUCH", "period": "5m",
                                                                  "duration": "1 D"}, expect=404)
    ask(bars, "unsupported_media_type", "a body that is not JSON", None, expect=415, raw=b"symbol=AAPL",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    ask(bars, "invalid_page_token", "a page_token of another request",
        {"symbol": "AAPL", "period": "1h", "duration": "1 D", "page_token": "bm90LWEtdG9rZW4"}, expect=400)
    _, headers, accepted = ask(bars, "job", "a long range of 1-second bars: fetched by a job",
                               {"symbol": "MSFT", "period": "1s", "start_datetime": "20250121 09:30:00",
                                "end_datetime": "20250124 16:00:00"}, expect=202)
    job_path = headers["Location"]
    ask("GET /api/v1/jobs/{id}", "in_progress", "the job while it runs", url=job_path)
    ask("DELETE /api/v1/jobs/{id}", "cancelled", "the job, cancelled", url=job_path)
    ask("GET /api/v1/jobs/{id}", "job_not_found", "no job has this id", expect=404,
        url=f"/api/v1/jobs/{accepted['job']['id'][::-1]}")
    ask(head, "head", "AAPL's earliest trade bar", url="/api/v1/contracts/AAPL/head?what=TRADES&session=rth")
    ask(head, "invalid_request", "an unknown session", url="/api/v1/contracts/AAPL/head?session=night",
        expect=400)
    contracts, search = "GET /api/v1/contracts", "GET /api/v1/contracts/search"
    _, _, listed = ask(contracts, "futures", "ES futures: every listed expiry",
                       url="/api/v1/contracts?symbol=ES&sec_type=FUT&exchange=CME")
    ask(contracts, "con_id", "one contract by its con_id",
        url=f"/api/v1/contracts?con_id={listed['contracts'][0]['con_id']}")
    ask(contracts, "symbol_not_found", "no contract matches", url="/api/v1/contracts?symbol=NOSUCH", expect=404)
    ask(contracts, "invalid_request", "a comma in the symbol", url="/api/v1/contracts?symbol=ES,NQ", expect=400)
    ask(search, "matches", "contracts whose symbol or name starts with AAP", url="/api/v1/contracts/search?q=AAP")
    ask(search, "invalid_request", "a comma in the text", url="/api/v1/contracts/search?q=AAP,L", expect=400)
    ask("POST /api/v1/disconnect", "forbidden", "from a browser page (an Origin header)", {}, expect=403,
        headers={"Origin": "http://127.0.0.1:8080"})
    ask("POST /api/v1/disconnect", "stopped", "TWS disconnected; it stays down until connect", {})
    _wait(lambda: not client.connected(), "TWS disconnected")
    ask(health, "degraded", "TWS not connected")
    ask(bars, "tws_unavailable", "TWS not connected: at once, with Retry-After",
        {"symbol": "AAPL", "period": "5m", "duration": "1 D"}, expect=503)
    ask("POST /api/v1/connect", "connecting", "connecting to TWS again", {})
    _wait(lambda: client.connected(), "TWS connected again")
    stream = client.stream_text("symbol=AAPL&period=1m&backfill=2")
    keep("GET /api/v1/bars/stream", 200, "backfill", "symbol=AAPL&period=1m&backfill=2: two completed bars, the "
         "forming bar, the status (the stream goes on)", stream)
    return examples


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


if __name__ == "__main__":
    sys.exit(main())
