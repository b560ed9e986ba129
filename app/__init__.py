"""The HTTP side of the bridge: a Flask app that validates requests and forwards them to the TWS worker over ZeroMQ.

`create_app` is the factory gunicorn loads through `wsgi:app`. This package never imports ibapi: TWS is the worker's.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from app.answer_cache import AnswerCache
from app.api import api
from app.contract_lookups import contract_lookups
from app.contracts import contracts
from app.errors import register_error_handlers
from app.jobs import jobs
from app.metrics import init_app as init_metrics
from app.openapi.blueprint import openapi
from app.request_body import read_body
from app.state import EXTENSION, VERSION, BridgeState, bridge_state
from app.status_page import status_page
from app.streams.blueprint import streams
from app.url_converters import SymbolPathConverter
from app.worker_client import WorkerClient
from shared.config import BridgeConfig, load_config

__all__ = ["VERSION", "BridgeState", "bridge_state", "create_app"]


def create_app(config: BridgeConfig | None = None, *, worker: WorkerClient | None = None) -> Flask:
    """The Flask app for `config` (read once from the environment and `.env` when not given).

    `worker` replaces the ZeroMQ client made from the configuration (tests). Logging is the caller's: `wsgi.py`
    configures it once per process.
    """
    config = config or load_config()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes  # beyond it: 413 as JSON
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    # "//api/v1//bars" is no route (JSON 404), not werkzeug's HTML 308 redirect to the merged path
    app.url_map.merge_slashes = False
    app.url_map.converters["symbol_path"] = SymbolPathConverter
    app.extensions[EXTENSION] = BridgeState(config, worker or WorkerClient.from_config(config),
                                            AnswerCache(int(config.http_cache_mb * 1024 * 1024)))
    # CORS for everything under /api/ but the control endpoints, which never answer a browser (app/control_access.py)
    CORS(app, resources={r"^/api/(?!v1/(?:connect|disconnect)\Z)": {"origins": list(config.cors_origins)}},
         send_wildcard="*" in config.cors_origins,  # answer "*" rather than echo each origin back
         expose_headers=["Retry-After", "Location"], allow_headers=["Authorization", "Content-Type"], max_age=600)

    @app.before_request
    def read_request_body() -> None:
        """Every request's body is read (and capped) before anything answers it, whatever the endpoint."""
        read_body(config.max_body_bytes)

    app.register_blueprint(api)
    app.register_blueprint(streams)
    app.register_blueprint(jobs)
    app.register_blueprint(contracts)
    app.register_blueprint(contract_lookups)
    app.register_blueprint(openapi)
    app.register_blueprint(status_page)
    init_metrics(app)  # GET /metrics, and every request counted and timed
    register_error_handlers(app)
    return app
