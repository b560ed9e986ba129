"""Server versions the simulator is tested at: every layout threshold the installed client can reach."""

from __future__ import annotations

from sim import codec
from tests.sim.ib_client import CLIENT_MAX_VERSION, IS_V10

# 9.81 tops out at 157; the 10.x client reaches every layout switch: 166 (advancedOrderRejectJson), 176 (issuerId),
# 194 (errorTime), 196 (historicalDataEnd), 200 (last text-only), 201 (binary ids), 205/208/213 (protobuf), max.
_WANTED = (150, 157, 166, 176, 194, 196, 200, 201, 205, 208, 213, CLIENT_MAX_VERSION) if IS_V10 else (150, 157)

SERVER_VERSIONS = sorted({v for v in _WANTED if v <= min(CLIENT_MAX_VERSION, codec.max_supported_version())})
