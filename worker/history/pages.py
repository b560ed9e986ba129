"""Page tokens: an answer over `limit` bars ends with `next_page_token`; the same request with it as `page_token`
gets the next page, from the store.

A token is opaque to clients but not secret: base64url of a small JSON object naming the request it belongs to (a
fingerprint of every field but `limit` and `page_token`), the start time of the page's first bar, and the end of the
range as the first page fixed it (a request ending now keeps one end across its pages, so no bar is answered twice
or skipped). A token is validated like any other input: a token of another request, or one that does not decode,
is 400 `invalid_page_token` (raised as BridgeFailure).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import orjson

from shared.bars import BarRequest
from shared.errors import BridgeError, BridgeFailure, ErrorCode

TOKEN_VERSION = 1


def fingerprint(request: BarRequest) -> str:
    """What makes two requests the same range of the same series: every field but the page's own."""
    wire = request.to_wire()
    for name in ("limit", "page_token"):
        wire.pop(name, None)
    return hashlib.sha256(orjson.dumps(wire, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass(frozen=True)
class PageToken:
    fingerprint: str
    after: int  # epoch seconds: the first bar of the page starts here or later
    end: int  # epoch seconds: the range's end, fixed by the first page

    def encode(self) -> str:
        raw = orjson.dumps({"v": TOKEN_VERSION, "f": self.fingerprint, "a": self.after, "e": self.end})
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @staticmethod
    def decode(text: str, request: BarRequest) -> PageToken:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = orjson.loads(raw)
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            raise _invalid("page_token does not decode: send back the next_page_token of an answer") from None
        if not (isinstance(data, dict) and data.get("v") == TOKEN_VERSION and isinstance(data.get("f"), str)
                and all(isinstance(data.get(k), int) and not isinstance(data.get(k), bool) for k in ("a", "e"))):
            raise _invalid("page_token is not a token of this bridge")
        if data["f"] != fingerprint(request):
            raise _invalid("page_token belongs to another request: send it with the same fields as the first page")
        if not data["a"] <= data["e"]:
            raise _invalid("page_token's range is empty")
        return PageToken(data["f"], data["a"], data["e"])


def _invalid(message: str) -> BridgeFailure:
    return BridgeFailure(BridgeError(ErrorCode.INVALID_PAGE_TOKEN, message, fields={"page_token": message}))
