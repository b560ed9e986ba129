"""The HTTP workers' figures: requests by route, method and status, latency by route, stream clients connected.

Labels are bounded whatever clients send: the route is the URL rule's template ("/api/v1/jobs/<job_id>"), never the
raw path, and "unmatched" for every path no rule matched; a method outside the HTTP methods the app knows is "other".
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request, request_started
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

UNMATCHED_ROUTE = "unmatched"  # 404s, and requests no rule could take: one label, however many paths clients try
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# seconds: from an answer out of the HTTP worker's cache (well under a millisecond) to a request that waited
# BAR_TIMEOUT (30 s by default) for TWS
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# One process's own figures (tests, `flask run`); under gunicorn every HTTP worker writes its figures to the
# multiprocess directory instead and a scrape reads them all from there (app/metrics/blueprint.py).
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("tws_bridge_http_requests", "HTTP requests answered, by route template, method and status",
                   ("route", "method", "status"), registry=REGISTRY)
LATENCY = Histogram("tws_bridge_http_request_duration_seconds",
                    "Time from a request's arrival to its answer's headers, by route template (a stream: until it "
                    "opens)", ("route",), buckets=LATENCY_BUCKETS, registry=REGISTRY)
# livesum: the sum over the HTTP workers alive; a dead worker's share goes with it (gunicorn.conf.py child_exit)
STREAM_CLIENTS = Gauge("tws_bridge_http_stream_clients", "Stream clients connected to the HTTP workers now",
                       registry=REGISTRY, multiprocess_mode="livesum")

_STARTED = "bridge_metrics_started"


def multiprocess_mode() -> bool:
    """Whether this process's figures go to the multiprocess directory: prometheus_client decides it once, when it is
    first imported, from PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py from BRIDGE_METRICS_DIR)."""
    return values.ValueClass is not values.MutexValue


def count_requests(app: Flask) -> None:
    """Time every request from the moment Flask starts on it (before any before_request hook, so requests those
    refuse are counted too) to its answer, whether a view or an error handler made it."""

    def started(sender: Flask, **_: object) -> None:
        setattr(g, _STARTED, time.perf_counter())

    def answered(response: Response) -> Response:
        began = getattr(g, _STARTED, None)
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        method = request.method if request.method in KNOWN_METHODS else "other"
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        if began is not None:
            LATENCY.labels(route).observe(time.perf_counter() - began)
        return response

    request_started.connect(started, app, weak=False)
    app.after_request(answered)


def stream_clients_changed(count: int) -> None:
    """The fan-out's receivers in this process, after each change (app/streams/hub.py wires it)."""
    STREAM_CLIENTS.set(count)
