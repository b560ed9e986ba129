"""Settings: the seed's defaults, one validated value per setting, `.env` under the environment, and a round trip."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from shared.config import (
    SETTINGS,
    BridgeConfig,
    ConfigError,
    as_environment,
    default_events_endpoint,
    default_store_path,
    default_worker_endpoint,
    load_config,
    load_config_or_exit,
    private_directory,
)


@pytest.fixture
def no_env_file(tmp_path: Path) -> Path:
    return tmp_path / "absent.env"


def test_seed_defaults(no_env_file: Path) -> None:
    config = load_config({}, env_file=no_env_file)
    assert (config.port, config.host) == (3003, "0.0.0.0")
    assert (config.tws_host, config.tws_port, config.tws_client_id) == ("127.0.0.1", 7497, 100)
    assert config.tws_market_data_type == 2
    assert config.log_level == "INFO"
    assert config.gunicorn_workers == 4
    assert config.bar_timeout == 30.0


def test_every_setting_is_read_from_the_environment(no_env_file: Path) -> None:
    config = load_config({"PORT": "8080", "HOST": "127.0.0.1", "TWS_HOST": "tws.local", "TWS_PORT": "4002",
                          "TWS_CLIENT_ID": "7", "TWS_MARKET_DATA_TYPE": "3", "LOG_LEVEL": "debug",
                          "GUNICORN_WORKERS": "2", "BAR_TIMEOUT": "12.5", "BRIDGE_WORKER_ENDPOINT": "tcp://127.0.0.1:5555",
                          "BRIDGE_API_TOKEN": "0123456789abcdef", "BRIDGE_CORS_ORIGINS": "https://a.example, https://b.example",
                          "BRIDGE_START_WORKER": "no"}, env_file=no_env_file)
    assert (config.port, config.host, config.tws_host, config.tws_port) == (8080, "127.0.0.1", "tws.local", 4002)
    assert (config.tws_client_id, config.tws_market_data_type, config.log_level) == (7, 3, "DEBUG")
    assert (config.gunicorn_workers, config.bar_timeout) == (2, 12.5)
    assert config.endpoint == "tcp://127.0.0.1:5555"
    assert config.api_token == "0123456789abcdef"
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.start_worker is False


def test_unrelated_environment_variables_are_ignored(no_env_file: Path) -> None:
    assert load_config({"PATH": "/bin", "port": "1"}, env_file=no_env_file) == load_config({}, env_file=no_env_file)


@pytest.mark.parametrize("level", ["WARN", "warn", "WARNING"])
def test_log_level_warn_is_accepted_as_warning(level: str, no_env_file: Path) -> None:
    assert load_config({"LOG_LEVEL": level}, env_file=no_env_file).log_level == "WARNING"


# one bad value per setting: adding a setting without a row here fails test_every_setting_has_a_bad_value
BAD_VALUES: dict[str, list[str]] = {
    "HOST": ["", "bad host", "a;b", "\uff4cocalhost"],  # fullwidth l: isalnum() but no host name
    "PORT": ["0", "65536", "http", "3003.5", "", "\u0663\u0660\u0660\u0663"],  # Arabic-Indic 3003: int() reads it
    "TWS_HOST": ["", "tws host", "x" * 254, "t\u0175s.local"],
    "TWS_PORT": ["0", "99999", "seven", "\uff17\uff14\uff19\uff17"],
    "TWS_CLIENT_ID": ["-1", "2147483648", "one"],
    "TWS_MARKET_DATA_TYPE": ["0", "5", "live"],
    "LOG_LEVEL": ["TRACE", "", "verbose", "\u0131nfo", "debu\u0261"],  # dotless i upper-cases to I
    "GUNICORN_WORKERS": ["0", "65", "many"],
    "GUNICORN_WORKER_CONNECTIONS": ["0", "9", "100001", "many", "2000.5"],
    "GUNICORN_KEEPALIVE": ["-1", "3601", "long", "7.5"],
    "BRIDGE_HEADER_TIMEOUT": ["0", "0.4", "601", "x", "nan"],
    "BRIDGE_BODY_TIMEOUT": ["0", "0.4", "601", "x", "inf"],
    "BAR_TIMEOUT": ["0", "0.5", "601", "nan", "inf", "soon", "\u0663\u0660"],
    "BRIDGE_WORKER_ENDPOINT": ["http://127.0.0.1:5555", "/tmp/worker.sock"],
    "BRIDGE_WORKER_EVENTS_ENDPOINT": ["http://127.0.0.1:5556", "/tmp/events.sock"],
    "BRIDGE_WORKER_TIMEOUT": ["0", "61", "x"],
    "BRIDGE_MAX_WAITING_REQUESTS": ["0", "10001", "x", "5.5"],
    "BRIDGE_API_TOKEN": ["short", "has a space in the middle", "0123456789abcde\x07",
                         "s\u00e9cret-token-0123456789", "\u79d8\u5bc6\u79d8\u5bc6\u79d8\u5bc6\u79d8\u5bc6" * 2],
    "BRIDGE_CORS_ORIGINS": ["", " , ,", "https://b\u00fccher.example"],
    "BRIDGE_MAX_BODY_BYTES": ["255", "1048577", "big"],
    "BRIDGE_START_WORKER": ["maybe", "2", "", "\u0131"],
    "TWS_CONNECT_TIMEOUT": ["0.1", "121", "x"],
    "TWS_RECONNECT_INITIAL_DELAY": ["0", "61", "x"],
    "TWS_RECONNECT_MAX_DELAY": ["0", "3601", "x"],
    "TWS_CLIENT_ID_FALLBACKS": ["-1", "101", "x"],
    "TWS_WATCHDOG_INTERVAL": ["0", "x"],
    "TWS_CONNECTIVITY_GRACE": ["-1", "x"],
    "BRIDGE_CACHE_MAX_MB": ["-1", "x"],
    "BRIDGE_HTTP_CACHE_MB": ["-1", "16385", "x", "nan"],
    "BRIDGE_CACHE_NOW_TTL": ["-1", "x"],
    "BRIDGE_SUBSCRIPTION_IDLE_TTL": ["0", "x"],
    "BRIDGE_MAX_SUBSCRIPTIONS": ["0", "51", "x"],
    "PACING_MAX_OPEN": ["0", "51", "x"],
    "PACING_SMALL_BAR_MAX": ["0", "61", "x"],
    "PACING_IDENTICAL_WINDOW": ["-1", "x"],
    "BRIDGE_PACING_SCALE": ["0", "-0.1", "1.01", "nan", "x"],
    "TWS_MAX_MESSAGES_PER_SECOND": ["0", "48", "50", "nan", "x"],
    "TWS_MESSAGE_BURST": ["1", "49", "2.5", "x"],
    "BRIDGE_CONTRACT_NOT_FOUND_TTL": ["-1", "86401", "x"],
    "BRIDGE_STORE_PATH": ["/var/x\x00y", "/var/lib/tws-bridge/", "/" + "x" * 1024, "/var/a\nb"],
    "BRIDGE_STORE_MAX_GB": ["0", "-1", "100001", "nan", "x"],
    "BRIDGE_METRICS_DIR": ["relative/dir", "/var/x\x00y", "/" + "x" * 1024, "/run/a\nb"],
}


def test_every_setting_has_a_bad_value() -> None:
    assert set(BAD_VALUES) == set(SETTINGS)


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in BAD_VALUES.items() for v in values])
def test_a_bad_value_raises_config_error_naming_the_setting(name: str, value: str, no_env_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({name: value}, env_file=no_env_file)
    assert str(caught.value).startswith(f"{name}: ")


def test_a_non_ascii_token_is_refused_without_echoing_it(no_env_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"BRIDGE_API_TOKEN": "s\u00e9cret-token-0123456789"}, env_file=no_env_file)
    assert str(caught.value).startswith("BRIDGE_API_TOKEN: must be ASCII")
    assert "cret-token" not in str(caught.value)


def test_slow_clients_get_10_s_for_the_header_and_10_s_for_the_body_by_default(no_env_file: Path) -> None:
    config = load_config({}, env_file=no_env_file)
    assert (config.header_timeout, config.body_timeout) == (10.0, 10.0)


def test_keep_alive_defaults_to_75_s_and_0_turns_it_off(no_env_file: Path) -> None:
    assert load_config({}, env_file=no_env_file).gunicorn_keepalive == 75
    assert load_config({"GUNICORN_KEEPALIVE": "0"}, env_file=no_env_file).gunicorn_keepalive == 0


def test_an_http_worker_holds_2000_connections_by_default(no_env_file: Path) -> None:
    assert load_config({}, env_file=no_env_file).gunicorn_worker_connections == 2000
    config = load_config({"GUNICORN_WORKER_CONNECTIONS": "5000"}, env_file=no_env_file)
    assert config.gunicorn_worker_connections == 5000


@pytest.mark.parametrize("source", ["environment", "env file"])
def test_gunicorn_threads_is_obsolete_ignored_and_named(source: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An .env made from an older .env.example still starts the bridge; the start-up names what is ignored."""
    env_file = tmp_path / ".env"
    env_file.write_text("GUNICORN_THREADS=8\n" if source == "env file" else "")
    environ = {"GUNICORN_THREADS": "8"} if source == "environment" else {}
    config = load_config(environ, env_file=env_file)
    assert config.ignored_settings == ("GUNICORN_THREADS",)
    assert replace(config, ignored_settings=()) == BridgeConfig(env_file=str(env_file)), "nothing else changes"
    monkeypatch.setattr(os, "environ", {**environ, "BRIDGE_ENV_FILE": str(env_file)})
    load_config_or_exit("tws-bridge", warn=True)
    assert "GUNICORN_THREADS is no longer used and is ignored" in capsys.readouterr().err
    load_config_or_exit("tws-bridge")
    assert capsys.readouterr().err == "", "only the entry point that asks warns (gunicorn.conf.py), once"


def test_initial_reconnect_delay_may_not_exceed_the_maximum(no_env_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"^TWS_RECONNECT_INITIAL_DELAY: "):
        load_config({"TWS_RECONNECT_INITIAL_DELAY": "10", "TWS_RECONNECT_MAX_DELAY": "5"}, env_file=no_env_file)


def test_values_are_read_from_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# settings\nPORT=4000\nexport TWS_PORT=4001\nTWS_HOST='10.0.0.5'\nUNRELATED=x\n")
    config = load_config({}, env_file=env_file)
    assert (config.port, config.tws_port, config.tws_host) == (4000, 4001, "10.0.0.5")
    assert config.env_file == str(env_file)


def test_the_environment_overrides_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nTWS_PORT=4001\n")
    config = load_config({"PORT": "5000"}, env_file=env_file)
    assert (config.port, config.tws_port) == (5000, 4001)


def test_bridge_env_file_names_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "bridge.env"
    env_file.write_text("TWS_CLIENT_ID=42\n")
    assert load_config({"BRIDGE_ENV_FILE": str(env_file)}).tws_client_id == 42


def test_a_bad_value_in_the_env_file_names_the_setting(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TWS_PORT=abc\n")
    with pytest.raises(ConfigError, match=r"^TWS_PORT: "):
        load_config({}, env_file=env_file)


def test_a_missing_env_file_is_fine(tmp_path: Path) -> None:
    assert load_config({}, env_file=tmp_path / "nope" / ".env") == replace(BridgeConfig(),
                                                                          env_file=str(tmp_path / "nope" / ".env"))


@pytest.mark.parametrize("config", [
    BridgeConfig(),
    BridgeConfig(host="127.0.0.1", port=8080, tws_host="::1", tws_port=4002, tws_client_id=0, tws_market_data_type=4,
                 log_level="WARNING", gunicorn_workers=1, gunicorn_worker_connections=50, gunicorn_keepalive=30,
                 bar_timeout=2.5, header_timeout=3.5, body_timeout=0.5, http_cache_mb=0,
                 worker_endpoint="ipc:///tmp/x/worker.sock", worker_timeout=0.5, max_waiting_requests=7,
                 api_token="s3cret-token-0123456789",
                 cors_origins=("https://a.example", "https://b.example"), max_body_bytes=4096, start_worker=False,
                 tws_connect_timeout=0.5, reconnect_initial_delay=0.05, reconnect_max_delay=0.1,
                 tws_max_messages_per_second=20.5, tws_message_burst=2, contract_not_found_ttl=0,
                 store_path="/var/lib/tws-bridge/bars.sqlite3", store_max_gb=0.5),
    BridgeConfig(store_path=""),
])
def test_as_environment_round_trips_through_load_config(config: BridgeConfig, tmp_path: Path) -> None:
    env = as_environment(config)
    defaulted = {"BRIDGE_STORE_PATH"} if config.store_path is None else set()  # the child computes it
    assert set(env) == set(SETTINGS) - defaulted
    assert all(isinstance(v, str) for v in env.values())
    env_file = tmp_path / "absent.env"
    assert load_config(env, env_file=env_file) == replace(config, env_file=str(env_file))


def test_default_endpoint_is_an_ipc_socket_in_a_per_user_directory(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path, no_env_file: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    expected = f"ipc://{tmp_path}/tws-bridge-{os.getuid()}/worker-3003.sock"
    assert default_worker_endpoint() == expected
    assert load_config({}, env_file=no_env_file).endpoint == expected


def test_two_bridges_on_one_host_get_different_default_endpoints(no_env_file: Path) -> None:
    paper = load_config({"PORT": "3003"}, env_file=no_env_file).endpoint
    live = load_config({"PORT": "3004"}, env_file=no_env_file).endpoint
    assert paper != live


def test_default_endpoint_falls_back_to_the_temporary_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert default_worker_endpoint() == f"ipc://{tempfile.gettempdir()}/tws-bridge-{os.getuid()}/worker-3003.sock"


def test_the_message_budget_defaults_stay_below_tws_50_messages_a_second(no_env_file: Path) -> None:
    config = load_config({}, env_file=no_env_file)
    assert (config.tws_max_messages_per_second, config.tws_message_burst) == (40.0, 8)
    assert config.tws_max_messages_per_second + config.tws_message_burst <= 49
    assert config.contract_not_found_ttl == 300.0


@pytest.mark.parametrize(("rate", "burst"), [("40", "10"), ("47", "3"), ("30", "20")])
def test_a_rate_and_burst_that_could_fill_50_messages_a_second_are_refused(rate: str, burst: str,
                                                                          no_env_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"^TWS_MESSAGE_BURST: .*at most 49"):
        load_config({"TWS_MAX_MESSAGES_PER_SECOND": rate, "TWS_MESSAGE_BURST": burst}, env_file=no_env_file)


def test_the_largest_rate_and_burst_allowed_add_up_to_49(no_env_file: Path) -> None:
    config = load_config({"TWS_MAX_MESSAGES_PER_SECOND": "41", "TWS_MESSAGE_BURST": "8"}, env_file=no_env_file)
    assert config.tws_max_messages_per_second + config.tws_message_burst == 49


def test_the_store_defaults_to_the_state_directory_one_file_per_bridge(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_env_file: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = load_config({"PORT": "3004"}, env_file=no_env_file)
    assert config.store_file == tmp_path / "tws-bridge" / "bars-3004.sqlite3" == Path(default_store_path(3004))
    assert config.store_max_gb == 10.0
    assert load_config({"PORT": "3005"}, env_file=no_env_file).store_file != config.store_file


def test_without_xdg_state_home_the_store_is_under_local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_store_path(3003) == str(Path.home() / ".local/state/tws-bridge/bars-3003.sqlite3")


def test_an_empty_store_path_keeps_the_store_in_memory_only(no_env_file: Path) -> None:
    assert load_config({"BRIDGE_STORE_PATH": ""}, env_file=no_env_file).store_file is None
    named = load_config({"BRIDGE_STORE_PATH": "/var/lib/tws-bridge/bars.sqlite3"}, env_file=no_env_file)
    assert named.store_file == Path("/var/lib/tws-bridge/bars.sqlite3")


@pytest.mark.parametrize("value", ["/run/tws-bridge/pacing.jsonl", ""])
def test_the_old_pacing_ledger_setting_stops_start_up_naming_the_store_path(value: str, no_env_file: Path,
                                                                            tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^BRIDGE_PACING_LEDGER: no longer used: .*BRIDGE_STORE_PATH"):
        load_config({"BRIDGE_PACING_LEDGER": value}, env_file=no_env_file)
    env_file = tmp_path / "old.env"
    env_file.write_text(f"BRIDGE_PACING_LEDGER={value}\n")
    with pytest.raises(ConfigError, match="BRIDGE_STORE_PATH"):
        load_config({}, env_file=env_file)


# ---- the worker's events endpoint (live series, shared/streams.py) -----------------------------------------------

def test_the_events_endpoint_defaults_to_a_socket_next_to_the_ipc_endpoint(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path, no_env_file: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    config = load_config({"PORT": "3004"}, env_file=no_env_file)
    assert config.events_endpoint == f"ipc://{tmp_path}/tws-bridge-{os.getuid()}/worker-3004-events.sock"
    named = load_config({"BRIDGE_WORKER_ENDPOINT": "ipc:///run/tws-bridge/worker.sock"}, env_file=no_env_file)
    assert named.events_endpoint == "ipc:///run/tws-bridge/worker-events.sock"


def test_a_tcp_worker_endpoint_publishes_on_the_next_port(no_env_file: Path) -> None:
    config = load_config({"BRIDGE_WORKER_ENDPOINT": "tcp://127.0.0.1:5555"}, env_file=no_env_file)
    assert config.events_endpoint == "tcp://127.0.0.1:5556" == default_events_endpoint("tcp://127.0.0.1:5555")


def test_the_events_endpoint_can_be_named(no_env_file: Path) -> None:
    config = load_config({"BRIDGE_WORKER_EVENTS_ENDPOINT": "tcp://127.0.0.1:7000"}, env_file=no_env_file)
    assert config.events_endpoint == "tcp://127.0.0.1:7000"


@pytest.mark.parametrize("env", [
    {"BRIDGE_WORKER_ENDPOINT": "tcp://127.0.0.1:65535"},  # no next port
    {"BRIDGE_WORKER_ENDPOINT": "tcp://127.0.0.1:5555", "BRIDGE_WORKER_EVENTS_ENDPOINT": "tcp://127.0.0.1:5555"},
])
def test_an_events_endpoint_that_cannot_be_used_stops_start_up(env: dict[str, str], no_env_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"^BRIDGE_WORKER_EVENTS_ENDPOINT: "):
        load_config(env, env_file=no_env_file)


def test_the_pacing_scale_defaults_to_1_and_takes_a_factor_up_to_1() -> None:
    assert load_config({}, env_file="/nonexistent").pacing_scale == 1.0
    assert load_config({"BRIDGE_PACING_SCALE": "0.1"}, env_file="/nonexistent").pacing_scale == 0.1


def test_the_metrics_directory_is_per_port_in_the_private_directory_unless_named(no_env_file: Path) -> None:
    first, second = (load_config({"PORT": port}, env_file=no_env_file).metrics_directory for port in ("3003", "3004"))
    assert first != second and first.parent == second.parent == private_directory()
    named = load_config({"BRIDGE_METRICS_DIR": "/run/tws-bridge/metrics"}, env_file=no_env_file)
    assert named.metrics_directory == Path("/run/tws-bridge/metrics")
