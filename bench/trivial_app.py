"""The framework's ceiling: Flask under the bridge's gunicorn configuration, one route that does nothing.

Served by `gunicorn -c gunicorn.conf.py bench.trivial_app:app` with BRIDGE_START_WORKER=false; never part of the
product. It takes the same POST body as the bridge's /bars so the transport work is the same.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.route("/ping", methods=["GET", "POST"])
def ping() -> Response:
    return jsonify({"success": True, "pong": 1})
