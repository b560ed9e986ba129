"""The framework's ceiling: Flask under the bridge's gunicorn configuration, one route that does nothing.

Served by `gunicorn -c gunicorn.conf.py bench.trivial_app:app` with BRIDGE_START_WORKER=false; never part of the
product. It takes the same POST body as the bridge's /bars so the transport work is the same. /wait stands for a bar
request whose TWS does not answer (bench/worker_classes.py): it holds its request for WAIT_SECONDS.
"""

from __future__ import annotations

import time

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.route("/ping", methods=["GET", "POST"])
def ping() -> Response:
    return jsonify({"success": True, "pong": 1})


WAIT_SECONDS = 30.0


@app.route("/wait", methods=["GET"])
def wait() -> Response:
    time.sleep(WAIT_SECONDS)  # under gevent's worker the standard library is patched: this waits without a thread
    return jsonify({"success": True, "waited": WAIT_SECONDS})
