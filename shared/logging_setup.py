"""One log format for every process: `timestamp - component - LEVEL - message`."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def configure_logging(level: str) -> None:
    """Configure the root logger once per process; components log under names like `tws.bar_fetcher`."""
    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    logging.getLogger("ibapi").setLevel(logging.WARNING)  # ibapi logs every message at INFO
