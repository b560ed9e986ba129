"""The bridge's gunicorn worker class: gunicorn's gevent worker with the bridge's JSON errors.

gevent: a waiting client costs a greenlet, not a thread, so thousands of connections (slow, idle or waiting for TWS)
leave /health and everything else answering (docs/http-side.md has the measurements that chose it).

gunicorn answers a request it cannot parse (a bad request line, a NUL in a header, contradictory proxy headers, a
header section over its limits) with its own HTML page, before Flask ever runs. `JsonServerErrors` overrides the one
method every gunicorn worker class shares for that, `Worker.handle_error`, so it does not depend on the worker class
it is mixed into. It also lets the app ask for the connection to be closed after its answer (app/request_body.py, a
body that was not read to its end): gunicorn would otherwise drain the rest, and a framing error found there would
be answered a second time on the same connection.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import gevent
import orjson
from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.base import Worker
from gunicorn.workers.ggevent import GeventWorker as GunicornGeventWorker

from app.client_deadlines import ClientTimeout, SlowClientDeadlines
from app.errors import error_body
from app.request_body import CLOSE_CONNECTION
from shared.errors import BridgeError, ErrorCode

log = logging.getLogger("http.server")

# gunicorn's exceptions -> our codes (HTTP_STATUS gives the status); the first match wins, so subclasses come first
CODE_OF_SERVER_ERROR: tuple[tuple[type[BaseException], ErrorCode], ...] = (
    (http_errors.InvalidResponseHeader, ErrorCode.INTERNAL_ERROR),  # a header the app sent: our fault, not the client's
    (http_errors.InvalidResponseHeaderName, ErrorCode.INTERNAL_ERROR),
    (http_errors.ConfigurationProblem, ErrorCode.INTERNAL_ERROR),
    (http_errors.LimitRequestLine, ErrorCode.URI_TOO_LONG),
    (http_errors.LimitRequestHeaders, ErrorCode.HEADERS_TOO_LARGE),
    (http_errors.ExpectationFailed, ErrorCode.EXPECTATION_FAILED),
    (http_errors.UnsupportedTransferCoding, ErrorCode.NOT_IMPLEMENTED),
    (http_errors.ForbiddenProxyRequest, ErrorCode.FORBIDDEN),
    (ssl.SSLError, ErrorCode.FORBIDDEN),
    (http_errors.ParseException, ErrorCode.INVALID_REQUEST),
)
MAX_DETAIL = 200  # characters of gunicorn's description (it may quote the request line) in the message

StartResponse = Callable[..., Any]


def server_error(exc: BaseException) -> BridgeError:
    """The error to answer for an exception gunicorn raised outside the app (internal_error for anything unknown)."""
    if isinstance(exc, ClientTimeout):
        return BridgeError(ErrorCode.REQUEST_TIMEOUT, f"{exc}; the connection is closed")
    code = next((c for kind, c in CODE_OF_SERVER_ERROR if isinstance(exc, kind)), ErrorCode.INTERNAL_ERROR)
    if code is ErrorCode.INTERNAL_ERROR:
        return BridgeError(code, "internal error; see the bridge's log")
    return BridgeError(code, f"the HTTP request could not be parsed: {str(exc)[:MAX_DETAIL]}")


def encode_error_response(error: BridgeError) -> bytes:
    """A whole HTTP/1.1 answer in the bridge's error shape; the connection closes after it."""
    status = HTTPStatus(error.http_status)
    body = orjson.dumps(error_body(error))
    head = (f"HTTP/1.1 {status.value} {status.phrase}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class JsonServerErrors(Worker):
    """A mixin for any gunicorn worker class: JSON instead of gunicorn's HTML errors, and closing on request."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        peer = addr[0] if isinstance(addr, tuple) and addr else "unix socket"
        if isinstance(exc, ClientTimeout) and not exc.answer:  # nothing that looks like a request: just close
            (log.debug if exc.phase == "idle" else log.info)("closed the connection from %s: %s", peer, exc)
            return
        error = server_error(exc)
        if error.code is ErrorCode.INTERNAL_ERROR:
            log.error("error handling a request from %s", peer, exc_info=exc)
        else:
            log.warning("invalid request from %s: %s", peer, exc)
        try:
            util.write_nonblock(client, encode_error_response(error))
        except Exception as write_error:  # the client may be gone already
            log.debug("could not send the error answer: %s", write_error)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _closing_on_request(self.wsgi)


def _closing_on_request(app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) \
        -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The app, with gunicorn closing the connection after an answer whose request set `CLOSE_CONNECTION`.

    gunicorn ignores a Connection header from the app (hop-by-hop), so the wrapper tells gunicorn's response itself;
    every gunicorn worker passes that response's bound `start_response`."""
    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            response = getattr(start_response, "__self__", None)
            if environ.get(CLOSE_CONNECTION) and hasattr(response, "force_close"):
                response.force_close()
            return start_response(status, headers, exc_info)
        return app(environ, start)
    return wsgi


class GeventWorker(JsonServerErrors, SlowClientDeadlines, GunicornGeventWorker):
    """gunicorn's gevent worker with the bridge's JSON errors and slow-client deadlines (app/client_deadlines.py;
    gunicorn.conf.py: worker_class). gunicorn monkey-patches the process when the worker starts, before the app is
    loaded; the app's worker client uses pyzmq's green sockets (app/worker_client.py), so a request waiting for the
    TWS worker blocks only its greenlet."""

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        """One request, then a turn for every other connection that is ready. A greenlet runs until it waits, and an
        answer from memory (the HTTP cache, a 404) never waits: without the turn, a keep-alive connection whose next
        request is already there (back-to-back clients, pipelining) would be served to its end before any other
        (wrk at 64 connections: p99 1.3-1.6 s at a p50 of 0.4 ms; with the turn p99 21 ms; docs/http-side.md)."""
        keep_alive = super().handle_request(listener_name, req, sock, addr)
        gevent.sleep(0)
        return keep_alive
