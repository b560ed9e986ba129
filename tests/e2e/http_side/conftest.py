"""End-to-end tests whose subject is the HTTP side and what stands on it (the OpenAPI spec, the pages, the metrics,
the TypeScript client): real gunicorn, the real worker and the simulator. They run once, with the production client
(Makefile: the 10.x pass leaves this directory out)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser import headless_chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium per module; each test opens its own page (tests/browser.py). Not for the session:
    Playwright's sync API keeps an asyncio loop running while the browser is open, and later tests' asyncio.run
    (ib_async in tests/sim) would fail with "This event loop is already running"."""
    with headless_chromium() as browser:
        yield browser
