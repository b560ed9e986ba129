"""Server-Sent Events framing (the WHATWG HTML "event stream" format) for the stream endpoint.

An event is `id:` (bars only), `event:` and one `data:` line, ended by a blank line. The data is orjson's JSON, which
never contains a raw CR or LF (JSON escapes them inside strings), so one `data:` line always holds it whole.
"""

from __future__ import annotations

from typing import Any

import orjson

RETRY_MS = 3000  # how long an EventSource waits before reconnecting
HEARTBEAT = b": heartbeat\n\n"  # a comment line: readers ignore it; proxies and TCP see traffic


def retry(milliseconds: int = RETRY_MS) -> bytes:
    return b"retry: %d\n\n" % milliseconds


def event(kind: str, data: Any, event_id: int | None = None) -> bytes:
    """One event; `data` is encoded as JSON; `event_id` becomes `id:` (what Last-Event-ID sends back)."""
    head = b"id: %d\n" % event_id if event_id is not None else b""
    return b"%sevent: %s\ndata: %s\n\n" % (head, kind.encode("ascii"), orjson.dumps(data))


def error_event(code: str, message: str) -> bytes:
    """The terminal `error` event: the stream closes after it."""
    return event("error", {"code": code, "error": message})
