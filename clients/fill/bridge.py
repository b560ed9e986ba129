"""The bridge's HTTP API as the fill command uses it: POST /api/v1/bars, GET and DELETE /api/v1/jobs/<id>.

Standard library only (urllib). Every answer the bridge gives is JSON with a stable `code` on failure; anything
else (a proxy's HTML page, a cut connection) becomes an `Answer` with a code of its own, never an exception, so
the caller handles one shape. Only an unreachable bridge raises (`BridgeUnreachable`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_RETRY_AFTER = 2.0  # seconds, when an answer that asks to come back later does not say when
MAX_RETRY_AFTER = 60.0


class BridgeUnreachable(Exception):
    """No connection to the bridge at all (refused, no route, name unknown)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: float | None  # seconds, from Retry-After

    @property
    def code(self) -> str:
        """The bridge's error code (or one naming what came instead of a bridge answer)."""
        code = self.body.get("code")
        return code if isinstance(code, str) else f"http_{self.status}"

    @property
    def message(self) -> str:
        text = self.body.get("error")
        return text if isinstance(text, str) else "no message"

    def wait(self) -> float:
        """How long to wait before asking again: Retry-After (bounded), or a default."""
        if self.retry_after is None:
            return DEFAULT_RETRY_AFTER
        return min(MAX_RETRY_AFTER, max(0.0, self.retry_after))


class BridgeClient:
    def __init__(self, url: str, token: str = "", timeout: float = 60.0) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout  # per request: a bar request may take the bridge's BAR_TIMEOUT to answer

    def bars(self, body: dict[str, Any]) -> Answer:
        return self._send("POST", "/bars", body)

    def job(self, job_id: str) -> Answer:
        return self._send("GET", f"/jobs/{job_id}")

    def cancel(self, job_id: str) -> Answer:
        return self._send("DELETE", f"/jobs/{job_id}")

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _answer(response.status, response.headers.get("Retry-After"), response.read())
        except urllib.error.HTTPError as exc:  # 4xx, 5xx: the bridge's JSON error
            with exc:
                return _answer(exc.code, exc.headers.get("Retry-After"), exc.read())
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, OSError) and not isinstance(reason, TimeoutError):  # refused, no route, no name
                why = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
                raise BridgeUnreachable(f"cannot reach the bridge at {self.base}: {why}") from None
            return Answer(0, {"code": "connection_failed", "error": str(reason)}, None)
        except (TimeoutError, ConnectionError, OSError) as exc:  # timed out, or cut while answering
            return Answer(0, {"code": "connection_failed", "error": f"{type(exc).__name__}: {exc}"}, None)


def _answer(status: int, retry_after: str | None, data: bytes) -> Answer:
    try:
        body = json.loads(data) if data else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"code": f"http_{status}", "error": f"the answer is not the bridge's JSON (HTTP {status})"}
    seconds: float | None = None
    if retry_after is not None and retry_after.strip().isdigit():
        seconds = float(retry_after.strip())
    return Answer(status, body, seconds)
