"""Debian's nginx as a test process: the shipped deploy/nginx/tws-bridge.conf, rendered with the test's loopback
ports into a minimal nginx.conf of the test's own (its own pid, log and temp paths), run in the foreground by the
test and stopped by it; never the system service."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import BinaryIO

from tests.e2e.processes import ROOT
from tests.ports import accepting, free_port
from tests.waiting import wait_until

SHIPPED = ROOT / "deploy" / "nginx" / "tws-bridge.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render(upstream_port: int, listen_port: int, read_timeout: str | None = None) -> str:
    """The shipped server configuration with the test's ports (each replaced exactly once, so a changed file fails
    here loudly rather than testing something else); `read_timeout` replaces proxy_read_timeout."""
    text = SHIPPED.read_text()
    replacements = [(r"server 127\.0\.0\.1:3003;", f"server 127.0.0.1:{upstream_port};"),
                    (r"listen 80 default_server;", f"listen 127.0.0.1:{listen_port} default_server;")]
    if read_timeout is not None:
        replacements.append((r"proxy_read_timeout 60s;", f"proxy_read_timeout {read_timeout};"))
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"{pattern!r} is not in {SHIPPED} exactly once"
    return text


class NginxProcess:
    """`nginx -p <tmp> -c <tmp>/nginx.conf -g 'daemon off;'` on a free loopback port, in front of `upstream_port`."""

    def __init__(self, tmp: Path, upstream_port: int, read_timeout: str | None = None, http_extra: str = "") -> None:
        self.port = free_port()
        self.prefix = tmp
        self.error_log = tmp / "error.log"
        for name in TEMP_PATHS:
            (tmp / name).mkdir(exist_ok=True)
        # as root nginx would run its workers as "nobody", who cannot write to the test's private directory
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(f"    {name}_temp_path {tmp / name};\n" for name in TEMP_PATHS)
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(
            f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {self.error_log} info;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n    access_log {tmp / 'access.log'};\n{temp_paths}"
            f"    {http_extra}\n"
            f"{render(upstream_port, self.port, read_timeout)}\n}}\n")
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: BinaryIO | None = None

    def start(self) -> NginxProcess:
        check = subprocess.run([NGINX, "-t", "-p", str(self.prefix), "-c", str(self.conf)], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.stderr = open(self.prefix / "stderr.log", "ab")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        wait_until(lambda: self.proc is not None and (self.proc.poll() is not None or accepting(self.port)),
                   what="nginx listening")
        assert self.proc.poll() is None, (self.prefix / "stderr.log").read_text()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: the master waits for its workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None
