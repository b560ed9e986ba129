"""GET /api/v1/bars/stream: a series' completed bars and forming-bar updates as Server-Sent Events.

The query is validated exactly as POST /bars (the same field definitions, app/schemas.py): anything invalid is a 400
JSON answer before the stream starts. After that the answer is a 200 `text/event-stream` and every failure is an
`error` event (app/streams/session.py). Authentication is the /api/v1 blueprint's own.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, request

from app.api import authenticate, load_validated, query_fields
from app.schemas import PERIOD_OF_BAR_SIZE, BarsStreamQuerySchema
from app.state import bridge_state
from app.streams.hub import fanout
from app.streams.request import StreamRequest
from app.streams.session import StreamSession
from app.worker_client import WorkerClient

log = logging.getLogger("http.streams")
streams = Blueprint("streams", __name__, url_prefix="/api/v1")
streams.before_request(authenticate)
CLIENT_BUFFER_EVENTS = 1000  # bars, revisions and statuses a client may leave unread before it is closed
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: pass each event at once
_schema = BarsStreamQuerySchema()


@streams.get("/bars/stream")
def bars_stream() -> Response:
    stream_request = _load_stream_request()
    series = stream_request.series
    g.bridge_symbol, g.bridge_period = series.symbol, PERIOD_OF_BAR_SIZE[series.bar_size]
    if request.method == "HEAD":  # the headers a GET would get, and no stream that nobody would ever read
        return Response(b"", mimetype="text/event-stream", headers=STREAM_HEADERS)
    config = bridge_state().config
    log.info("stream %s %s opened (after %s, backfill %d)", series.symbol, g.bridge_period, stream_request.after,
             stream_request.backfill)
    session = StreamSession(stream_request, fanout(), bridge_state().worker.request,
                            open_timeout=WorkerClient.bars_timeout(config), buffer_limit=CLIENT_BUFFER_EVENTS,
                            connection=request.environ.get("gunicorn.socket"))
    # direct_passthrough: the server iterates the events themselves, without werkzeug's layers around each chunk
    return Response(session.events(), mimetype="text/event-stream", headers=STREAM_HEADERS, direct_passthrough=True)


def _load_stream_request() -> StreamRequest:
    """The query (and Last-Event-ID, which wins over ?last_event_id=) as a validated `StreamRequest`."""
    query: dict[str, Any] = dict(query_fields())
    last_event_id = request.headers.get("Last-Event-ID", "")
    if last_event_id.strip():
        query["last_event_id"] = last_event_id.strip()
    loaded: StreamRequest = load_validated(_schema, query)
    return loaded
