"""Bearer-token check: when BRIDGE_API_TOKEN is set, every endpoint but health requires it (constant-time compare)."""

from __future__ import annotations

import hmac

from flask import request

from shared.errors import BridgeError, BridgeFailure, ErrorCode

# load balancers, systemd probes and Prometheus scrapers carry no token; the spec and its page hold no data
OPEN_ENDPOINTS = frozenset({"api.health", "metrics.exposition", "openapi.spec", "openapi.docs"})


def require_token(token: str) -> None:
    """Raise `BridgeFailure(unauthorized)` unless the request carries `Authorization: Bearer <token>`.

    Preflight requests (OPTIONS) never carry credentials, so CORS answers them without a token.
    """
    if not token or request.method == "OPTIONS" or request.endpoint in OPEN_ENDPOINTS:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise BridgeFailure(BridgeError(ErrorCode.UNAUTHORIZED, "missing or wrong 'Authorization: Bearer' token"))
