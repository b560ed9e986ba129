"""JSON responses, encoded with orjson: a bar answer is most of what the bridge sends, and Flask's own encoder costs
about ten times as much per bar (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")
