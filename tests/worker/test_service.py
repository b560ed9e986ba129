"""The worker's ZeroMQ endpoint: an ipc:// socket lives in a directory only its user can enter."""

from __future__ import annotations

import stat
from pathlib import Path

import zmq

from worker.service import bind_router


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
