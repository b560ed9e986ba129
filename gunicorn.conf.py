"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` serves the API and runs the one TWS worker."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from shared.config import load_config_or_exit
from shared.logging_setup import LOG_FORMAT

_config = load_config_or_exit("tws-bridge", warn=True)  # a bad setting stops start-up with a message naming it
# The HTTP workers' Prometheus figures (app/metrics/) go to files in this directory, one set per worker process, and
# add up at a scrape. prometheus_client reads the variable once, when it is first imported: so it is set here, before
# anything below imports the app (and with it prometheus_client), and the forked workers inherit both.
_metrics_dir = _config.metrics_directory
for _directory in (_metrics_dir.parent, _metrics_dir):  # private: mode 0700, like the ipc sockets' directory
    _directory.mkdir(mode=0o700, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

from prometheus_client import multiprocess  # noqa: E402

from app.client_deadlines import ClientTimeouts  # noqa: E402
from app.open_files import raise_open_file_limit  # noqa: E402

# each connection is a file descriptor: the soft limit (often 1024) goes up to the hard one; the workers inherit it
_open_files = raise_open_file_limit()
# its connections, 4 per pooled REQ socket (the connection, its monitor, their signalling), the listener, logs
_files_per_worker = _config.gunicorn_worker_connections + 4 * (_config.max_waiting_requests + 16) + 256
if _open_files < _files_per_worker:
    print(f"tws-bridge: warning: the open-file limit ({_open_files} per process) is below what one HTTP worker may "
          f"need ({_files_per_worker}: GUNICORN_WORKER_CONNECTIONS, the sockets of BRIDGE_MAX_WAITING_REQUESTS, "
          f"its own files); raise it (systemd: LimitNOFILE=) or connections past it will be refused", file=sys.stderr)

bind = f"[{_config.host}]:{_config.port}" if ":" in _config.host else f"{_config.host}:{_config.port}"
workers = _config.gunicorn_workers
worker_class = "app.gunicorn_worker.GeventWorker"  # gevent, answering what gunicorn cannot parse with JSON
worker_connections = _config.gunicorn_worker_connections  # per worker: greenlets, not threads
# Idle keep-alive connections stay open this long (gunicorn's default is 2 s): longer than clients reuse an idle
# connection (Node's undici 4 s, its http.Agent until the server closes), and longer than nginx's upstream
# keepalive_timeout (deploy/nginx/tws-bridge.conf, 60 s), so it is always the client that closes an idle connection
# and never the server just as the client sends on it ("other side closed").
keepalive = _config.gunicorn_keepalive
timeout = int(_config.bar_timeout) + 30  # a bar request may wait BAR_TIMEOUT for TWS
graceful_timeout = 10
# a file body through os.sendfile would pass the header section held for the body's first write
# (app/client_deadlines.py): gunicorn writes file bodies through the socket instead
sendfile = False
control_socket_disable = True  # gunicorn 27's ~/.gunicorn/gunicorn.ctl would be shared by every instance on the host
loglevel = _config.log_level.lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"bridge": {"format": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "bridge", "stream": "ext://sys.stderr"}},
    "root": {"level": _config.log_level, "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": _config.log_level, "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
}



class _AccessLinesOnlyWhenLogged(GunicornLogger):
    """gunicorn builds every access log line when logconfig_dict is set, even though gunicorn.access (WARNING above)
    drops it: a tenth of the time of an answer from the HTTP worker's cache. Build it only when it is written."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if self.access_log.isEnabledFor(logging.INFO):
            super().access(resp, req, environ, request_time)


logger_class = _AccessLinesOnlyWhenLogged

_supervisor: subprocess.Popen[bytes] | None = None


def _empty_metrics_dir() -> None:
    """Remove the figures' files (prometheus_client's *.db, nothing else) left by an earlier run of this bridge."""
    for path in _metrics_dir.glob("*.db"):
        path.unlink(missing_ok=True)


def on_starting(server: Any) -> None:
    """At the master's start (not at a reload), before any worker forks: the figures start from an empty directory,
    so a past run's counts and gauges never show in this one's."""
    _empty_metrics_dir()


def child_exit(server: Any, worker: Any) -> None:
    """A dead HTTP worker's live gauges (its stream clients) go with it; its counters stay in the sums."""
    multiprocess.mark_process_dead(worker.pid, str(_metrics_dir))


def when_ready(server: Any) -> None:
    """Start exactly one TWS worker (through its supervisor), from the master, unless it runs as its own service.

    When ready, not on starting: the HTTP port is bound by then, so a second instance started by mistake exits on
    the busy port before it can start a worker that would take over the first one's endpoint."""
    global _supervisor
    if _config.start_worker:
        _supervisor = subprocess.Popen([sys.executable, "-m", "worker.supervisor"])


def post_fork(server: Any, worker: Any) -> None:
    """Each HTTP worker closes slow clients' connections at the bridge's deadlines (app/client_deadlines.py)."""
    worker.client_timeouts = ClientTimeouts(header=_config.header_timeout, body=_config.body_timeout)


def on_exit(server: Any) -> None:
    _empty_metrics_dir()
    if _supervisor is not None and _supervisor.poll() is None:
        _supervisor.terminate()
        try:
            _supervisor.wait(15)
        except subprocess.TimeoutExpired:
            _supervisor.kill()
