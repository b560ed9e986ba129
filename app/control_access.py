"""Who may call the control endpoints, /connect and /disconnect, which take the bridge off TWS and back on.

- Never a browser page: they have no CORS; a request carrying an `Origin` header is refused (browsers send one with
  every POST, also when DNS rebinding makes a page look same-origin), and they need `Content-Type: application/json`
  (app/api.py), which a page on another origin cannot send without a preflight the bridge never grants.
- Without BRIDGE_API_TOKEN: only a client on this host that did not come through a proxy, i.e. a loopback peer
  address and none of the headers proxies add. A local nginx connects from 127.0.0.1 too; its X-Forwarded-For says
  the request came from elsewhere. With a token set, the token (app/auth.py) is the guard instead.
Refusals are 403 `forbidden`.
"""

from __future__ import annotations

import ipaddress

from flask import request

from shared.errors import BridgeError, BridgeFailure, ErrorCode

CONTROL_ENDPOINTS = frozenset({"api.connect", "api.disconnect"})
# headers that say a proxy or load balancer forwarded the request (standard, de facto and CDN ones)
PROXY_HEADERS = ("Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
                 "X-Forwarded-Server", "X-Real-IP", "X-Client-IP", "X-Cluster-Client-IP", "X-Original-Forwarded-For",
                 "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP")


def require_control_access(token: str) -> None:
    """Raise `BridgeFailure(forbidden)` when the request is for a control endpoint and may not use it."""
    if request.endpoint not in CONTROL_ENDPOINTS:
        return
    if "Origin" in request.headers:
        raise _forbidden("the control endpoints do not answer browsers (the request carries an Origin header)")
    if token:
        return  # checked by require_token: whoever holds it may control the bridge
    if not _is_loopback(request.remote_addr):
        raise _forbidden("without BRIDGE_API_TOKEN the control endpoints answer only clients on the bridge's host")
    forwarded = [name for name in PROXY_HEADERS if name in request.headers]
    if forwarded:
        raise _forbidden(f"without BRIDGE_API_TOKEN the control endpoints answer only direct clients on the bridge's "
                         f"host, not through a proxy ({forwarded[0]} header)")


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False  # no address (a unix socket) or not an IP: not known to be local
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _forbidden(message: str) -> BridgeFailure:
    return BridgeFailure(BridgeError(ErrorCode.FORBIDDEN, message))
