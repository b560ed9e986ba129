"""The worker service: its ZeroMQ endpoint lives in a directory only its user can enter, and a send to TWS that fails
is a lost connection (503 and a reconnect), never a 500."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import ibapi.errors as ibapi_errors
import pytest
import zmq
from ibapi.client import EClient
from ibapi.server_versions import MAX_CLIENT_VER

from shared.config import BridgeConfig
from shared.errors import ErrorCode
from shared.protocol import WorkerReply, WorkerRequest, decode_reply
from tests.waiting import wait_until
from worker.service import WorkerService, bind_router
from worker.tws.client import TwsClient


def test_an_ipc_endpoint_gets_a_private_directory(tmp_path: Path) -> None:
    directory = tmp_path / "run" / "tws-bridge"
    ctx = zmq.Context()
    try:
        sock = bind_router(ctx, f"ipc://{directory}/worker.sock")
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert (directory / "worker.sock").exists()
        sock.close(0)
    finally:
        ctx.term()


def test_an_existing_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)
    ctx = zmq.Context()
    try:
        bind_router(ctx, f"ipc://{directory}/worker.sock").close(0)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    finally:
        ctx.term()


# ---- a send that fails is a lost connection, never a 500 (issue 8 item 12) ---------------------------------------

class GoneSocket:
    """ibapi's Connection after TWS closed it under us: the socket object is still there, sending raises."""

    def __init__(self) -> None:
        self.broken = False
        self.frames: list[bytes] = []
        self.socket = None

    def isConnected(self) -> bool:  # noqa: N802 - ibapi's name
        return True

    def sendMsg(self, msg: bytes) -> int:  # noqa: N802
        if self.broken:
            raise BrokenPipeError(32, "Broken pipe")
        self.frames.append(msg)
        return len(msg)

    def disconnect(self) -> None:
        return None


class BrokenPipeClient(TwsClient):
    """The real TwsClient and the installed ibapi's real send code over a `GoneSocket`: 9.81 lets BrokenPipeError out
    of reqHistoricalData, 10.x catches it and reports FAIL_SEND 527 through error(). The handshake events are posted
    as a connection would post them; contract lookups are answered at once (only the historical send is on trial)."""

    made: ClassVar[list[BrokenPipeClient]] = []
    server_version = 157

    def run_connection(self, host: str, port: int, client_id: int) -> None:
        self.made.append(self)
        self.conn = GoneSocket()
        self.serverVersion_ = self.server_version
        self.setConnState(EClient.CONNECTED)
        self._post("handshake", self.serverVersion_)
        self._post("ready", 1)

    def close_now(self) -> None:
        self.setConnState(EClient.DISCONNECTED)
        self._post("closed")

    def reqContractDetails(self, reqId: int, contract: Any) -> None:  # noqa: N802, N803
        self._post("contract_details", reqId, {
            "con_id": 265598, "symbol": contract.symbol, "sec_type": "STK", "exchange": "SMART",
            "primary_exchange": "NASDAQ", "currency": "USD", "local_symbol": contract.symbol,
            "trading_class": contract.symbol, "last_trade_date": "", "multiplier": "", "time_zone": "US/Eastern",
            "long_name": contract.symbol})
        self._post("contract_details_end", reqId)


class RunningService:
    """The real WorkerService on its own thread, its ROUTER on an ipc endpoint, asked through a REQ socket."""

    def __init__(self, tmp: Path, client_factory: type[TwsClient]) -> None:
        config = BridgeConfig(worker_endpoint=f"ipc://{tmp}/worker.sock", store_path="", bar_timeout=5.0,
                              reconnect_initial_delay=0.05, reconnect_max_delay=0.1)
        self.service = WorkerService(config, client_factory=client_factory)
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(config.endpoint)
        self.thread.start()

    def ask(self, op: str, body: dict[str, Any] | None = None) -> WorkerReply:
        self.sock.send(WorkerRequest.new(op, body or {}, time.time() + 10).encode())
        assert self.sock.poll(5000), f"no answer to {op}"
        return decode_reply(self.sock.recv_multipart()).with_bars_decoded()

    def health(self) -> dict[str, Any]:
        reply = self.ask("health")
        assert reply.result is not None
        return reply.result

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(5)
        self.sock.close(0)
        self.ctx.term()


@pytest.mark.parametrize("server_version", [157, MAX_CLIENT_VER])
def test_a_send_that_raises_broken_pipe_answers_503_and_the_worker_reconnects(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_version: int) -> None:
    monkeypatch.setattr(BrokenPipeClient, "made", [])
    monkeypatch.setattr(BrokenPipeClient, "server_version", server_version)
    running = RunningService(tmp_path, BrokenPipeClient)
    try:
        wait_until(lambda: running.health()["connected"], what="connected")
        first = BrokenPipeClient.made[-1]
        assert len(first.conn.frames) == 2, "reqMarketDataType and reqCurrentTime went out"
        first.conn.broken = True  # TWS closed the socket; the reader has not noticed yet
        started = time.monotonic()
        reply = running.ask("bars", {"symbol": "AAPL", "bar_size": "5 mins", "duration": "1 D"})
        assert reply.error is not None, reply
        assert reply.error.code is ErrorCode.TWS_UNAVAILABLE and reply.error.http_status == 503
        assert reply.error.retry_after is not None
        assert time.monotonic() - started < 2.0, "at once, not at BAR_TIMEOUT"
        health = wait_until(lambda: (h := running.health())["connected"] and h["reconnects"] == 1 and h,
                            what="reconnected")
        if hasattr(ibapi_errors, "FAIL_SEND_REQHISTDATA"):  # 10.x: reported through error(), mapped in tws_errors
            assert health["last_error"]["tws_code"] == 527
        else:  # 9.81: the exception came out of reqHistoricalData, the outbox caught it
            assert health["message_budget"]["send_failures"] == 1
        assert len(BrokenPipeClient.made) == 2 and BrokenPipeClient.made[-1] is not first
        retry = running.ask("health")
        assert retry.ok and running.health()["in_flight"] == 0
    finally:
        running.stop()
