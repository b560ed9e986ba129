"""URL converters for path parameters that are validated after routing, so that a bad value is a 400 naming the
field rather than a 404 "no such endpoint"."""

from __future__ import annotations

from werkzeug.routing import PathConverter


class SymbolPathConverter(PathConverter):
    """Like werkzeug's `path` (a symbol may hold a slash: "BF/B"), but any character, a newline included: werkzeug's
    `.` stops at a newline, so "/contracts/A%0AB/head" matched no route. The endpoint's schema refuses what no
    symbol may hold (app/schemas.py)."""

    regex = "[^/](?s:.*?)"
