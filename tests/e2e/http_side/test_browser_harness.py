"""The browser the page tests stand on: Debian's Chromium renders a page the bridge serves, offline."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.browser import artefact_path
from tests.e2e.processes import BridgeProcess


def test_chromium_renders_the_bridges_json_404_and_keeps_a_screenshot(chromium: Browser,
                                                                        bridge: BridgeProcess) -> None:
    page = chromium.new_page()
    try:
        answer = page.goto(f"{bridge.origin}/no/such/page")
        assert answer is not None and answer.status == 404
        assert '"code":"not_found"' in page.inner_text("body").replace(" ", "")
        shot = artefact_path("browser-harness-404.png")
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000
    finally:
        page.close()
