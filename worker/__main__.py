"""`python -m worker`: run the TWS worker (gunicorn starts it by itself unless BRIDGE_START_WORKER=false)."""

from __future__ import annotations

import signal
import sys

from shared.config import load_config_or_exit
from shared.logging_setup import configure_logging


def main() -> int:
    config = load_config_or_exit("tws-bridge worker")
    configure_logging(config.log_level)
    from worker.service import WorkerService  # after logging is set up

    service = WorkerService(config)
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    service.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
