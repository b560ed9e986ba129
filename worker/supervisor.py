"""`python -m worker.supervisor`: keeps exactly one TWS worker process running, restarting it when it dies.

gunicorn's master starts this once (gunicorn.conf.py), so however many HTTP workers run there is one TWS worker. It is
a process of its own, not a thread in the master, because gunicorn's master reaps every child it has (its SIGCHLD
handler calls waitpid(-1)) and would steal the worker's exit. It exits with the master: on SIGTERM, or when its parent
is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from shared.config import load_config_or_exit
from shared.logging_setup import configure_logging

log = logging.getLogger("bridge.supervisor")

RESTART_DELAY_S = 0.1  # a worker that ran for a while restarts at once: requests are waiting
MAX_RESTART_DELAY_S = 10.0  # a crash loop backs off to this
STABLE_AFTER_S = 30.0
POLL_S = 0.5  # how often the parent's liveness is checked
STOP_TIMEOUT_S = 5.0


class Supervisor:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.parent = os.getppid()

    def run(self) -> None:
        delay = RESTART_DELAY_S
        while not self.stopping:
            started = time.monotonic()
            self.process = subprocess.Popen(self.command)
            log.info("TWS worker started (pid %d)", self.process.pid)
            code = self._wait()
            if self.stopping:
                break
            delay = RESTART_DELAY_S if time.monotonic() - started > STABLE_AFTER_S else min(delay * 2,
                                                                                           MAX_RESTART_DELAY_S)
            log.error("TWS worker exited with %s; restarting in %.1f s", code, delay)
            self._sleep(delay)
        self._stop_child()

    def _wait(self) -> int | None:
        assert self.process is not None
        while not self.stopping:
            try:
                return self.process.wait(POLL_S)
            except subprocess.TimeoutExpired:
                if os.getppid() != self.parent:  # gunicorn's master is gone: so are we
                    log.warning("parent process gone; stopping the TWS worker")
                    self.stopping = True
        return None

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(POLL_S, max(0.0, end - time.monotonic())))

    def _stop_child(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def request_stop(self, *_: object) -> None:
        self.stopping = True


def main() -> int:
    config = load_config_or_exit("tws-bridge supervisor")
    configure_logging(config.log_level)
    supervisor = Supervisor([sys.executable, "-m", "worker"])
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
