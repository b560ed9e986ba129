"""GET /api/v1/openapi.json (the spec) and GET /docs (Swagger UI showing it, served by the bridge itself).

Both are open, like health, whatever BRIDGE_API_TOKEN says: the spec holds no data (it is docs/openapi.json), and a
browser opening a page sends no bearer token. The spec is built once per HTTP worker, on first use.
"""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response

from app.auth import require_token
from app.openapi.spec import build_spec, spec_json
from app.state import bridge_state

openapi = Blueprint("openapi", __name__)


@openapi.before_request
def authenticate() -> None:
    """The token rule of every blueprint; this one's endpoints are among app/auth.py's open ones."""
    require_token(bridge_state().config.api_token)


@cache
def _spec_bytes() -> bytes:
    return spec_json(build_spec()).encode()


@openapi.get("/api/v1/openapi.json")
def spec() -> Response:
    return Response(_spec_bytes(), mimetype="application/json")
