"""The process's limit on open files, raised to what the system allows: one HTTP worker holds thousands of client
connections (GUNICORN_WORKER_CONNECTIONS) and its ZeroMQ sockets, and a soft limit of 1024 would refuse them."""

from __future__ import annotations

import resource

# the kernel refuses a soft limit above fs.nr_open (1,048,576 by default) even when the hard limit is "unlimited"
UNLIMITED_CAP = 1 << 20


def raise_open_file_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to its hard limit (children inherit it); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft  # not allowed here (a container's policy): keep what we have; the caller warns if too few
        return target
    return soft
