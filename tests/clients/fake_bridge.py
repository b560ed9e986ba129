"""A small stand-in for a running bridge's HTTP API (a real HTTP server on 127.0.0.1 in a thread) answering as README
documents: POST /api/v1/bars (200 with bars and next_page_token, or 202 with a job, Location and Retry-After),
GET and DELETE /api/v1/jobs/<id>. Each symbol follows a `Script`; every request is recorded."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BAR = {"date": "20250102 09:30:00", "time": 1735828200, "datetime": "2025-01-02T09:30:00-05:00",
       "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
       "volume": 1, "wap": 1.0, "count": 1}


@dataclass
class Script:
    """What the fake bridge answers for one symbol."""

    pages: list[int] = field(default_factory=lambda: [3])  # bars per page of the final answer
    jobs: list[dict[str, Any]] = field(default_factory=list)  # successive job answers (none: 200 at once)
    retry_after: str = "0"  # what the fake sends (the bridge: 1-30); 0 keeps the tests short
    refusal: tuple[int, dict[str, Any]] | None = None  # every POST answers this
    job_id: str = ""
    polls: int = 0
    done: bool = False  # the job said done: the bars request answers the bars


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    body: dict[str, Any] | None
    at: float  # monotonic


def job(job_id: str, state: str, done: int, total: int, bars: int, eta: float | None = 1.0,
        error: dict[str, str] | None = None) -> dict[str, Any]:
    return {"id": job_id, "state": state, "done": done, "total": total, "bars_so_far": bars, "eta_seconds": eta,
            "error": error}


class FakeBridge:
    def __init__(self, scripts: dict[str, Script]) -> None:
        self.scripts = scripts
        self.seen: list[Seen] = []
        for number, script in enumerate(scripts.values()):
            script.job_id = script.job_id or f"{number:032x}"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-bridge", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeBridge:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def requests(self, method: str, path_start: str = "") -> list[Seen]:
        return [s for s in list(self.seen) if s.method == method and s.path.startswith(path_start)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                bridge.seen.append(Seen("POST", self.path, body, time.monotonic()))
                script = bridge.scripts[body["symbol"]]
                if script.refusal is not None:
                    self._send(*script.refusal)
                elif script.jobs and not script.done:
                    headers = {"Location": f"/api/v1/jobs/{script.job_id}", "Retry-After": script.retry_after}
                    first = {**script.jobs[0], "id": script.job_id}
                    self._send(202, {"success": True, "status": "pending", "job": first}, headers)
                else:
                    page = int(body.get("page_token", "p0")[1:] or 0)
                    token = f"p{page + 1}" if page + 1 < len(script.pages) else None
                    self._send(200, {"success": True, "symbol": body["symbol"], "period": body["period"],
                                     "bars": [BAR] * script.pages[page], "count": script.pages[page],
                                     "next_page_token": token, "error": None})

            def do_GET(self) -> None:
                bridge.seen.append(Seen("GET", self.path, None, time.monotonic()))
                script = self._script()
                if script is None:
                    return
                state = script.jobs[min(script.polls + 1, len(script.jobs) - 1)]
                script.polls += 1
                script.done = state["state"] == "done"
                finished = state["state"] in ("done", "failed", "cancelled")
                self._send(200, {"success": True, "job": {**state, "id": script.job_id}},
                           {} if finished else {"Retry-After": script.retry_after})

            def do_DELETE(self) -> None:
                bridge.seen.append(Seen("DELETE", self.path, None, time.monotonic()))
                script = self._script()
                if script is not None:
                    last = script.jobs[min(script.polls, len(script.jobs) - 1)]
                    self._send(200, {"success": True, "job": {**last, "id": script.job_id, "state": "cancelled",
                                                              "eta_seconds": None}})

            def _script(self) -> Script | None:
                job_id = self.path.rsplit("/", 1)[-1]
                for script in bridge.scripts.values():
                    if script.job_id == job_id and script.jobs:
                        return script
                self._send(404, {"success": False, "bars": [], "count": 0, "error": "no such job",
                                 "code": "job_not_found"})
                return None

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
