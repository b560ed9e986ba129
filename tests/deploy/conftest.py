"""Fixtures for the deployment tests: nginx from Debian's packages in front of a real bridge and the simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.nginx import NGINX, NginxProcess
from tests.e2e.conftest import bridge, make_bridge, make_tws, tws  # noqa: F401  (the real processes, reused)


@pytest.fixture(scope="session", autouse=True)
def nginx_installed() -> None:
    if not Path(NGINX).is_file():
        pytest.fail(f"{NGINX} is missing: `make test` installs Debian's nginx-light (apt-get install nginx-light)")


@pytest.fixture
def make_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., NginxProcess]]:
    made: list[NginxProcess] = []

    def make(upstream_port: int, read_timeout: str | None = None, http_extra: str = "") -> NginxProcess:
        proxy = NginxProcess(tmp_path_factory.mktemp("nginx"), upstream_port, read_timeout, http_extra)
        made.append(proxy)
        return proxy.start()

    yield make
    for proxy in made:
        proxy.stop()


@pytest.fixture(scope="module")
def nginx(bridge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxProcess]:  # noqa: F811
    """nginx with the shipped configuration in front of the module's bridge."""
    proxy = NginxProcess(tmp_path_factory.mktemp("nginx"), bridge.port).start()
    yield proxy
    proxy.stop()
