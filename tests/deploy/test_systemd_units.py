"""The systemd units keep the bar store where systemd lets the service write and keeps it: in its StateDirectory
(ProtectSystem=strict makes everything else read-only), and set no setting start-up refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import REPLACED_SETTINGS, SETTINGS

UNITS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "systemd").glob("*.service"))


def directives(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            name, _, value = line.partition("=")
            out.setdefault(name.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_store_is_in_the_units_state_directory(unit: Path) -> None:
    d = directives(unit)
    env = dict(item.split("=", 1) for item in d["Environment"])
    assert d["StateDirectory"] == ["tws-bridge"] and d["StateDirectoryMode"] == ["0700"]
    assert env["BRIDGE_STORE_PATH"] == "/var/lib/tws-bridge/bars.sqlite3"
    assert set(env) <= set(SETTINGS) and not set(env) & set(REPLACED_SETTINGS)


def test_both_units_are_checked() -> None:
    assert [u.name for u in UNITS] == ["tws-bridge-worker.service", "tws-bridge.service"]
