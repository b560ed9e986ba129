"""The operators' status page at /: static files (app/static/status/) that read the API themselves from the browser.

The page holds no data: it polls GET /api/v1/health (which never needs the token) and draws a chart from POST
/api/v1/bars and GET /api/v1/bars/stream. So it is served without a token, like /static/; with BRIDGE_API_TOKEN set
the page asks for the token in a field, keeps it in the tab's sessionStorage and sends it as `Authorization: Bearer`
with its fetches (an EventSource cannot send headers, so the stream is read with fetch too). Its Content-Security-
Policy lets it load and connect to this origin only: it works offline, and nothing on it talks to another host.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

from app.web_assets import require_vendored

status_page = Blueprint("status_page", __name__)

CHART_LIBRARY = "lightweight-charts/dist/lightweight-charts.standalone.production.js"  # the page's <script src>
PAGE = Path(__file__).resolve().parent / "static" / "status" / "index.html"
PAGE_HEADERS = {
    # same origin only: scripts, styles, fetches; no inline script or style, no frames, no form posts elsewhere
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@status_page.get("/")
def index() -> Response:
    """The page; 503 `assets_missing` (JSON) when lightweight-charts is not installed (`make assets`)."""
    require_vendored(CHART_LIBRARY)
    return Response(PAGE.read_bytes(), mimetype="text/html", headers=PAGE_HEADERS)
