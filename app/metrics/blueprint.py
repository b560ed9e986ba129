"""GET /metrics: the Prometheus text exposition of every HTTP worker's figures and the TWS worker's.

The token rule is health's: /metrics is open even when BRIDGE_API_TOKEN is set (app/auth.py OPEN_ENDPOINTS), since
scrapers and probes rarely carry a bearer token; its figures carry no symbol, no request and no secret.
"""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.auth import require_token
from app.metrics.http_metrics import REGISTRY, multiprocess_mode
from app.metrics.worker_figures import WorkerFigures
from app.state import bridge_state

metrics = Blueprint("metrics", __name__)


@metrics.before_request
def authenticate() -> None:
    require_token(bridge_state().config.api_token)


@metrics.get("/metrics")
def exposition() -> Response:
    state = bridge_state()
    registry = CollectorRegistry()  # auto_describe off: registering must not collect (ask the worker) once more
    if multiprocess_mode():  # every HTTP worker's files, the dead ones' counters included (their gauges not)
        MultiProcessCollector(registry, path=str(state.config.metrics_directory))
    else:
        registry.register(REGISTRY)
    registry.register(WorkerFigures(state.worker.request, state.config.worker_timeout))
    # the text format every Prometheus (and most other scrapers) reads; generate_latest writes it with legacy names
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
