"""The systemd units keep the bar store where systemd lets the service write and keeps it: in its StateDirectory
(ProtectSystem=strict makes everything else read-only), set no setting start-up refuses, and run the bridge in a
sandbox that `systemd-analyze security` rates below 4.0 ("OK"), checked on copies installed as an operator would."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.config import REPLACED_SETTINGS, SETTINGS

REPO = Path(__file__).resolve().parents[2]
UNITS = sorted((REPO / "deploy" / "systemd").glob("*.service"))
INSTALL_DIR = "/opt/tws-bridge"  # where the units expect the repository (README "Deployment")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
OK_BELOW = 4.0  # systemd-analyze's "OK" ends at 4.0 ("MEDIUM" from there; the units were 8.5 and 8.7 "EXPOSED")
# the lines only one of the two units has, apart from the sandbox they share
IP_ALLOW_LIST = ("IPAddressDeny", "IPAddressAllow")
SANDBOX_START = "UMask"


def directives(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            name, _, value = line.partition("=")
            out.setdefault(name.strip(), []).append(value.strip())
    return out


def sandbox_lines(unit: Path) -> list[str]:
    """The unit's directives from UMask= (where the sandbox starts) to the end, but for the IP allow list."""
    lines = [line for line in unit.read_text().splitlines() if line and not line.startswith(("#", "["))]
    starts = [i for i, line in enumerate(lines) if line.startswith(SANDBOX_START + "=")]
    assert starts, f"{unit.name} has no {SANDBOX_START}= (where its sandbox starts)"
    return [line for line in lines[starts[0]:] if not line.startswith((*IP_ALLOW_LIST, "WantedBy"))]


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    if not Path(SYSTEMD_ANALYZE).is_file():
        pytest.fail(f"{SYSTEMD_ANALYZE} is missing: `make test` installs Debian's systemd (apt-get install systemd)")
    return SYSTEMD_ANALYZE


@pytest.fixture(scope="module")
def installed_units(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Copies of the units as an operator installs them, the repository (with its .venv) standing in for
    /opt/tws-bridge, so that verify finds the WorkingDirectory and the ExecStart programs it checks."""
    unit_dir = tmp_path_factory.mktemp("systemd")
    copies = []
    for unit in UNITS:
        copy = unit_dir / unit.name
        copy.write_text(unit.read_text().replace(INSTALL_DIR, str(REPO)))
        d = directives(copy)
        assert Path(d["WorkingDirectory"][0]).is_dir() and Path(d["ExecStart"][0].split()[0]).is_file(), d
        copies.append(copy)
    return copies


def exposure(systemd_analyze: str, unit: Path) -> tuple[float, str, int]:
    """systemd-analyze's overall exposure (0 safest .. 10), its rating, and its exit status at the OK threshold
    (--threshold counts tenths: 39 fails an exposure of 4.0 or more)."""
    run = subprocess.run([systemd_analyze, "security", "--offline=true", f"--threshold={int(OK_BELOW * 10) - 1}",
                          "--no-pager", str(unit)], capture_output=True, text=True, timeout=30)
    found = re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d) (\w+)", run.stdout)
    assert found, run.stdout + run.stderr
    return float(found[1]), found[2], run.returncode


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_store_is_in_the_units_state_directory(unit: Path) -> None:
    d = directives(unit)
    env = dict(item.split("=", 1) for item in d["Environment"])
    assert d["StateDirectory"] == ["tws-bridge"] and d["StateDirectoryMode"] == ["0700"]
    assert env["BRIDGE_STORE_PATH"] == "/var/lib/tws-bridge/bars.sqlite3"
    assert set(env) <= set(SETTINGS) and not set(env) & set(REPLACED_SETTINGS)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_ipc_sockets_are_in_the_units_runtime_directory_owned_by_a_dedicated_user(unit: Path) -> None:
    d = directives(unit)
    env = dict(item.split("=", 1) for item in d["Environment"])
    assert d["RuntimeDirectory"] == ["tws-bridge"] and d["RuntimeDirectoryMode"] == ["0700"]
    assert env["BRIDGE_WORKER_ENDPOINT"] == "ipc:///run/tws-bridge/worker.sock"
    assert d["User"] == d["Group"] == ["tws-bridge"] and "DynamicUser" not in d


def test_the_http_sides_metrics_files_are_in_its_runtime_directory() -> None:
    d = directives(next(u for u in UNITS if u.name == "tws-bridge.service"))
    env = dict(item.split("=", 1) for item in d["Environment"])
    # ProtectSystem=strict: the one writable place of its own that is not kept across reboots
    assert env["BRIDGE_METRICS_DIR"] == "/run/tws-bridge/metrics"


def test_both_units_run_in_the_same_sandbox_but_for_the_workers_ip_allow_list() -> None:
    worker, http = UNITS
    assert sandbox_lines(worker) == sandbox_lines(http)
    assert "ProtectSystem=strict" in sandbox_lines(http) and "MemoryDenyWriteExecute=true" in sandbox_lines(http)
    assert directives(worker)["IPAddressDeny"] == ["any"] and directives(worker)["IPAddressAllow"] == ["localhost"]
    assert not set(IP_ALLOW_LIST) & set(directives(http))  # its clients and its TWS may be anywhere


def test_the_installed_units_pass_systemd_analyze_verify(systemd_analyze: str, installed_units: list[Path]) -> None:
    # --man=no: no man pages to look up for Documentation=; --generators=no: this host's generators are not the
    # target's. The service user need not exist here: systemd 252's verify does not look it up (systemd resolves
    # it when the unit starts). Any message at all (an unknown or misspelt directive, a value it ignores) fails.
    run = subprocess.run([systemd_analyze, "verify", "--man=no", "--generators=no", *map(str, installed_units)],
                         capture_output=True, text=True, timeout=30)
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


@pytest.mark.parametrize("name", [u.name for u in UNITS])
def test_systemd_analyze_security_rates_the_installed_unit_ok(
        systemd_analyze: str, installed_units: list[Path], name: str) -> None:
    unit = next(u for u in installed_units if u.name == name)
    score, rating, status = exposure(systemd_analyze, unit)
    print(f"systemd-analyze security {name}: {score} {rating}")
    assert score < OK_BELOW and rating in ("OK", "SAFE") and status == 0, (score, rating, status)


def test_both_units_are_checked() -> None:
    assert [u.name for u in UNITS] == ["tws-bridge-worker.service", "tws-bridge.service"]
