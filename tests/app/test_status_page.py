"""The status page's blueprint: / serves the static page (no token: it holds no data), with a CSP that allows this
origin only; 503 assets_missing when lightweight-charts is not installed; every other path is still JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import web_assets
from app.status_page import CHART_LIBRARY
from app.web_assets import vendor_url

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"


def test_the_page_is_served_at_the_root_as_html_with_a_same_origin_policy(client: FlaskClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert b"<title>tws-bridge status</title>" in answer.data
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_loads_without_the_token_the_api_needs(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(api_token="s3cret").test_client()
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/jobs/0123456789abcdef0123456789abcdef").status_code == 401


def test_the_page_references_only_files_this_bridge_serves(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert vendor_url(CHART_LIBRARY) in references
    assert all(ref.startswith("/static/") for ref in references), references  # no CDN, no other host
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP would refuse it
    for ref in references:
        assert client.get(ref).status_code == 200, ref


def test_the_pages_own_files_name_no_other_host() -> None:
    for name in ("index.html", "status.js", "status.css"):
        text = (STATIC / "status" / name).read_text()
        assert not re.search(r"https?://", text), name


def test_without_the_chart_library_the_page_is_503_assets_missing_as_json(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(web_assets, "VENDOR_DIR", tmp_path)
    answer = client.get("/")
    assert answer.status_code == 503
    assert answer.json is not None and answer.json["code"] == "assets_missing"
    assert "make assets" in answer.json["error"]


@pytest.mark.parametrize("path", ["/index.html", "/status", "/static/status/nope.js", "/favicon.ico"])
def test_other_paths_are_still_a_json_404_that_names_the_page(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json is not None and answer.json["code"] == "not_found"
    if not path.startswith("/static/"):
        assert "/ (the status page)" in answer.json["error"]


def test_the_page_answers_only_get_and_head(client: FlaskClient) -> None:
    assert client.head("/").status_code == 200
    answer = client.post("/")
    assert answer.status_code == 405 and answer.json is not None and answer.json["code"] == "method_not_allowed"
