"""Headless Chromium for the tests of the bridge's pages (/docs, the status page at /): Debian's chromium, driven by
Playwright (its Python package drives the browser it is given; it never downloads one).

`make test` installs chromium (tests/install_system_packages.sh). Screenshots are the tests' artefacts: they are
kept in tests/artefacts/ (or TEST_ARTEFACTS_DIR), so a failed run can be looked at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# As root in a sandbox with no network: no sandbox, no GPU, and none of Chromium's own connections to Google's hosts
# (this machine's closed network refuses them, many at a time, at every start)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio"]
ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS_DIR") or Path(__file__).resolve().parent / "artefacts")


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def artefact_path(name: str) -> Path:
    """Where a test keeps a screenshot or a page dump named `name` (the directory is made)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS / name
