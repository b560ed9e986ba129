"""GET /api/v1/openapi.json (the spec) and GET /docs (Swagger UI showing it, served by the bridge itself).

Both are open, like health, whatever BRIDGE_API_TOKEN says: the spec holds no data (it is docs/openapi.json), and a
browser opening a page sends no bearer token. The spec is built once per HTTP worker, on first use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, Response, send_file

from app.auth import require_token
from app.openapi.spec import build_spec, spec_json
from app.state import bridge_state
from app.web_assets import require_vendored

openapi = Blueprint("openapi", __name__)
DOCS_PAGE = Path(__file__).resolve().parents[1] / "static" / "docs" / "index.html"
SWAGGER_UI = ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css")


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


@openapi.get("/docs")
def docs() -> Response:
    """Swagger UI (app/static/docs/); 503 assets_missing when its vendored files are not installed."""
    require_vendored(*SWAGGER_UI)
    return send_file(DOCS_PAGE, mimetype="text/html", max_age=0)
