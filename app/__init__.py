"""The HTTP side of the bridge: a Flask app that validates requests and forwards them to the TWS worker over ZeroMQ.

`create_app` is the factory gunicorn loads through `wsgi:app`. This package never imports ibapi: TWS is the worker's.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from app.api import api
from app.errors import register_error_handlers
from app.state import EXTENSION, VERSION, BridgeState, bridge_state
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
    app.extensions[EXTENSION] = BridgeState(config, worker or WorkerClient.from_config(config))
    CORS(app, resources={r"/api/*": {"origins": list(config.cors_origins)}},
         send_wildcard="*" in config.cors_origins,  # answer "*" rather than echo each origin back
         expose_headers=["Retry-After"], allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.register_blueprint(api)
    register_error_handlers(app)
    return app
