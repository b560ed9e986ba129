"""Which bar store the worker runs with: the SQLite file at BRIDGE_STORE_PATH, or memory (the setting empty, or a
file that cannot be our store, which is moved aside with one clear log line first: the bridge always starts)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from shared.config import BridgeConfig
from worker.history.memory_store import MemoryStore
from worker.history.sqlite_store import SqliteStore
from worker.history.store import BarStore
from worker.history.store_schema import StoreUnusable

log = logging.getLogger("tws.bar_store")


def open_store(config: BridgeConfig) -> BarStore:
    max_bytes = int(config.store_max_gb * 1024**3)
    path = config.store_file
    if path is None:
        log.info("bar store in memory only (BRIDGE_STORE_PATH is empty): bars are asked again after a restart")
        return MemoryStore(max_bytes)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        log.error("bar store %s cannot be used: its directory cannot be made (%s); the bridge goes on with bars in "
                  "memory only", path, exc)
        return MemoryStore(max_bytes)
    try:
        return SqliteStore(path, max_bytes)
    except StoreUnusable as exc:
        move_aside(path, str(exc))
        return MemoryStore(max_bytes)


def move_aside(path: Path, reason: str) -> Path | None:
    """Rename the unusable file (and the -wal and -shm beside it) to `<path>.corrupt-<UTC time>`: kept for a look,
    out of the bridge's way. One ERROR line names both paths and the reason."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():  # a second failure within the same second keeps the first file too
        aside, n = path.with_name(f"{path.name}.corrupt-{stamp}-{n}"), n + 1
    try:
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    except OSError as exc:
        log.error("bar store %s cannot be used (%s) and cannot be moved aside to %s (%s); the bridge goes on with "
                  "bars in memory only", path, reason, aside, exc)
        return None
    log.error("bar store %s cannot be used (%s): moved aside to %s; the bridge goes on with bars in memory only",
              path, reason, aside)
    return aside
