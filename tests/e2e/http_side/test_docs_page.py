"""GET /docs in headless Chromium against a real bridge: Swagger UI renders every operation of the spec, offline."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import Browser, Route

from tests.browser import artefact_path
from tests.e2e.processes import BridgeProcess

METHODS = ("get", "post", "put", "patch", "delete")


def test_the_docs_page_shows_every_operation_without_leaving_loopback(chromium: Browser,
                                                                      bridge: BridgeProcess) -> None:
    spec = bridge.get("/openapi.json").body
    context = chromium.new_context()
    asked: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        asked.append(route.request.url)
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        answer = page.goto(f"{bridge.origin}/docs")
        assert answer is not None and answer.status == 200
        page.wait_for_selector(".opblock-summary-path", timeout=15_000)
        for path, item in spec["paths"].items():
            for method in (m for m in item if m in METHODS):
                block = page.locator(f".opblock-{method} .opblock-summary-path[data-path='{path}']")
                assert block.count() == 1, f"{method.upper()} {path} not shown"
        shot = artefact_path("docs-page.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        context.close()
    assert asked and all(urlparse(url).hostname == "127.0.0.1" for url in asked), asked
    assert not errors, errors
