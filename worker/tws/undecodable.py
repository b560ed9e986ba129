"""The owner thread's side of a message the client could not decode (worker/tws/decoder.py): the request or
subscription it belongs to fails with `tws_undecodable` (upstream remembers it, so the same doomed request is not
sent again for a while), and a message that belongs to no request is logged once per message id and counted.
The connection and every other request go on."""

from __future__ import annotations

import logging
import re
from typing import Any

import ibapi

from shared.errors import BridgeError, ErrorCode
from worker.contracts.operations import LookupOperations
from worker.contracts.resolver import ContractResolver
from worker.history.upstream import UpstreamRequests
from worker.tws.decoder import Undecodable

log = logging.getLogger("tws.undecodable")

IBAPI_VERSION = ibapi.get_version_string()
FRACTION_IN_INT = re.compile(r"invalid literal for int\(\) with base 10: b?'-?\d+\.\d+'")  # 9.81 and a fraction
MESSAGE_NAMES = {17: "historical data", 90: "historical data update", 108: "historical data end",
                 10: "contract details", 52: "contract details end", 4: "error", 88: "head timestamp",
                 79: "symbol samples"}


def undecodable_error(report: Undecodable) -> BridgeError:
    what = f"{MESSAGE_NAMES.get(report.msg_id, 'a message')} (message id {report.msg_id})"
    if report.ours:
        return BridgeError(ErrorCode.INTERNAL_ERROR, f"the TWS worker failed to handle {what} from TWS "
                                                     f"({report.reason}); see the worker's log")
    fractional = IBAPI_VERSION.startswith("9.") and FRACTION_IN_INT.search(report.reason)
    hint = "; fractional sizes need ibapi 10.x" if fractional else ""
    sent = f"; the message: {report.sent}" if report.sent else ""
    return BridgeError(ErrorCode.TWS_UNDECODABLE, f"TWS sent {what} that ibapi {IBAPI_VERSION} cannot read "
                                                  f"({report.reason}){hint}{sent}")


class UndecodableMessages:
    def __init__(self, upstream: UpstreamRequests, resolver: ContractResolver,
                 lookups: LookupOperations | None = None) -> None:
        self._upstream = upstream
        self._resolver = resolver
        self._lookups = lookups
        self._logged: set[int] = set()  # message ids already logged without a request
        self.failed_requests = 0
        self.unattributed = 0
        self.last: dict[str, Any] | None = None

    def on_report(self, report: Undecodable) -> None:
        error = undecodable_error(report)
        self.last = {"msg_id": report.msg_id, "req_id": report.req_id, "reason": report.reason}
        req_id = report.req_id
        if req_id is not None and self._upstream.owns(req_id):
            log.warning("reqId %d failed: %s", req_id, error.message)
            self.failed_requests += 1
            self._upstream.fail(req_id, error)
        elif req_id is not None and self._resolver.owns(req_id):
            log.warning("contract lookup reqId %d failed: %s", req_id, error.message)
            self.failed_requests += 1
            self._resolver.fail(req_id, error)
        elif req_id is not None and self._lookups is not None and self._lookups.owns(req_id):
            log.warning("contract look-up reqId %d failed: %s", req_id, error.message)
            self.failed_requests += 1
            self._lookups.fail(req_id, error)
        else:
            self.unattributed += 1
            if report.msg_id not in self._logged:  # once per message id: a stream of them must not flood the log
                self._logged.add(report.msg_id)
                log.warning("an undecodable message id %d (reqId %s) belongs to no request: %s; further ones with "
                            "this id are only counted", report.msg_id, req_id, report.reason)

    def stats(self) -> dict[str, Any]:
        return {"failed_requests": self.failed_requests, "unattributed": self.unattributed, "last": self.last}
