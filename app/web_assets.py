"""The browser libraries the bridge's pages use (Swagger UI at /docs, lightweight-charts at /), served by the bridge
itself from app/static/vendor/node_modules: pages must work offline, so never from a CDN.

They are npm packages pinned in app/static/vendor/package.json and installed by `make assets` (`make install`,
`make install-prod`). Flask serves app/static at /static/, so a vendored file is at /static/vendor/node_modules/...;
a page whose files are missing answers 503 `assets_missing` naming the command, rather than a page that cannot draw.
"""

from __future__ import annotations

from pathlib import Path

from shared.errors import BridgeError, BridgeFailure, ErrorCode

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor" / "node_modules"
VENDOR_URL = "/static/vendor/node_modules"


def vendor_url(relative: str) -> str:
    """The URL of a vendored file, e.g. vendor_url("swagger-ui-dist/swagger-ui.css")."""
    return f"{VENDOR_URL}/{relative}"


def require_vendored(*relative: str) -> None:
    """Raise 503 `assets_missing` unless every named vendored file is installed."""
    missing = [name for name in relative if not (VENDOR_DIR / name).is_file()]
    if missing:
        raise BridgeFailure(BridgeError(ErrorCode.ASSETS_MISSING,
                                        f"the page's browser libraries are not installed ({', '.join(missing)}); "
                                        "run `make assets` (npm ci in app/static/vendor)"))
