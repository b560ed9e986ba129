"""Prometheus metrics: the HTTP workers' own figures (app/metrics/http_metrics.py), the TWS worker's collected at
scrape time (app/metrics/worker_figures.py), and GET /metrics serving both (app/metrics/blueprint.py).

Under gunicorn the figures of every HTTP worker add up (prometheus_client's multiprocess mode: gunicorn.conf.py sets
the directory up before the workers fork); in one process (tests, `flask run`) they are that process's own.
"""

from __future__ import annotations

from flask import Flask

from app.metrics.blueprint import metrics
from app.metrics.http_metrics import STREAM_CLIENTS, count_requests

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Count and time every request `app` answers, and serve GET /metrics."""
    count_requests(app)
    app.register_blueprint(metrics)
    # this process's share of the gauge exists from the start (0), not only once a stream opened: a scrape shows
    # the metric before the first stream client (multiprocess mode writes a value on its first set)
    STREAM_CLIENTS.set(0)
