"""The bridge's settings, read once from the environment and an optional `.env` into a frozen object.

Every setting is validated at start-up; a bad value raises `ConfigError` naming the setting, so the process stops
with a clear message instead of failing later at the first request.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values


class ConfigError(ValueError):
    """A setting with a bad value; the message starts with the setting's name."""


LOG_LEVELS = ("DEBUG", "INFO", "WARN", "WARNING", "ERROR")
# TWS refuses the 51st message within a second (error 100); the budget's rate + burst may fill at most this many.
# The burst is at least 2: ibapi sends two messages by itself at connect (the version handshake and startApi).
MAX_MESSAGE_WINDOW = 49


def private_directory() -> Path:
    """The per-user directory (the worker makes it mode 0700) that holds the default ipc sockets."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"tws-bridge-{os.getuid()}"


def default_worker_endpoint(port: int = 3003) -> str:
    """An ipc:// socket in a private directory (mode 0700), per user and per HTTP port, so that two bridges on one
    host (paper and live, say) never answer each other's requests."""
    return f"ipc://{private_directory()}/worker-{port}.sock"


def default_events_endpoint(worker_endpoint: str) -> str:
    """Where the worker publishes live series' events (shared/streams.py) unless BRIDGE_WORKER_EVENTS_ENDPOINT says:
    next to an ipc:// worker endpoint ("worker-3003.sock" -> "worker-3003-events.sock", in the same 0700
    directory), or the next port of a tcp:// one ("tcp://127.0.0.1:5555" -> "tcp://127.0.0.1:5556")."""
    if worker_endpoint.startswith("tcp://"):
        host, sep, port = worker_endpoint.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65535:
            raise ValueError(f"cannot derive it from BRIDGE_WORKER_ENDPOINT {worker_endpoint!r}: set it")
        return f"{host}:{int(port) + 1}"
    base = worker_endpoint[:-len(".sock")] if worker_endpoint.endswith(".sock") else worker_endpoint
    return f"{base}-events.sock"


def default_store_path(port: int = 3003, environ: Mapping[str, str] | None = None) -> str:
    """The bar store under the user's state directory ($XDG_STATE_HOME, else ~/.local/state), per HTTP port like
    the ipc socket, so that two bridges on one host never share a store."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "tws-bridge" / f"bars-{port}.sqlite3")


def default_metrics_directory(port: int = 3003) -> Path:
    """Where the HTTP workers keep their Prometheus figures (prometheus_client's multiprocess files): in the private
    directory, per HTTP port like the ipc socket, so that two bridges on one host never add up each other's."""
    return private_directory() / f"metrics-{port}"


@dataclass(frozen=True)
class BridgeConfig:
    host: str = "0.0.0.0"
    port: int = 3003
    tws_host: str = "127.0.0.1"
    tws_port: int = 7497
    tws_client_id: int = 100
    tws_market_data_type: int = 2
    log_level: str = "INFO"
    gunicorn_workers: int = 4
    gunicorn_worker_connections: int = 2000  # connections one (gevent) HTTP worker holds at once
    gunicorn_keepalive: int = 75  # seconds an idle HTTP connection stays open: above clients' reuse, nginx's upstream
    header_timeout: float = 10.0  # seconds for a request's whole header section; past it the connection is closed
    body_timeout: float = 10.0  # seconds for a request's whole body; past it 408 and the connection is closed
    bar_timeout: float = 30.0  # seconds before a bar request that TWS does not answer gets 504
    worker_endpoint: str = ""  # ZeroMQ endpoint of the TWS worker; "" = default_worker_endpoint()
    worker_events_endpoint: str = ""  # the worker's PUB socket for live series; "" = default_events_endpoint()
    worker_timeout: float = 2.0  # seconds the HTTP side waits for the worker itself (health, control) before 503
    max_waiting_requests: int = 500  # per HTTP worker: requests waiting for the TWS worker; past it 503 overloaded
    api_token: str = ""  # when set: required as "Authorization: Bearer <token>" on every endpoint but health
    cors_origins: tuple[str, ...] = ("*",)
    max_body_bytes: int = 16 * 1024
    start_worker: bool = True  # gunicorn starts and supervises the TWS worker; false when it runs as its own service
    tws_connect_timeout: float = 10.0  # handshake deadline: a silent TWS would make ibapi's connect() hang forever
    reconnect_initial_delay: float = 1.0
    reconnect_max_delay: float = 30.0
    client_id_fallbacks: int = 0  # on 326 (client id in use) try the next N ids in turn
    watchdog_interval: float = 30.0  # probe with reqCurrentTime when TWS said nothing for this long
    connectivity_grace: float = 30.0  # after 1100/2110, reconnect unless 1101/1102 comes within this many seconds
    cache_max_mb: float = 64.0
    http_cache_mb: float = 32.0  # per HTTP worker: encoded answers that can no longer change; 0 = none
    cache_now_ttl: float = 15.0  # reuse of answers that end now (capped at one bar): covers IB's 15-s identical rule
    subscription_idle_ttl: float = 300.0
    max_subscriptions: int = 40  # live keepUpToDate subscriptions (they count against IB's 50 open requests)
    pacing_max_open: int = 50
    pacing_small_bar_max: int = 60  # per 10 minutes, bars of 30 s or less
    pacing_identical_window: float = 15.0
    pacing_scale: float = 1.0  # every pacing window times this (0 < x <= 1): for a simulator run with --pacing-scale
    # TWS allows 50 messages a second from a client (error 100); rate + burst <= 49 keeps every 1-s window below it
    tws_max_messages_per_second: float = 40.0
    tws_message_burst: int = 8
    contract_not_found_ttl: float = 300.0  # seconds "no such contract" is answered without asking TWS again
    store_path: str | None = None  # the bar store (and pacing ledger) file; None: default_store_path(port); "": memory
    store_max_gb: float = 10.0  # past it the series used longest ago are evicted
    metrics_dir: str = ""  # the HTTP workers' Prometheus multiprocess files; "" = default_metrics_directory(port)
    env_file: str = ".env"
    ignored_settings: tuple[str, ...] = ()  # obsolete settings found (OBSOLETE_SETTINGS): warned about, not used

    @property
    def endpoint(self) -> str:
        return self.worker_endpoint or default_worker_endpoint(self.port)

    @property
    def events_endpoint(self) -> str:
        return self.worker_events_endpoint or default_events_endpoint(self.endpoint)

    @property
    def metrics_directory(self) -> Path:
        """The directory of the HTTP workers' Prometheus figures (gunicorn.conf.py empties it at the master's start)."""
        return Path(self.metrics_dir) if self.metrics_dir else default_metrics_directory(self.port)

    @property
    def store_file(self) -> Path | None:
        """Where the worker keeps its bar store, pacing ledger and records; None: in memory only."""
        if self.store_path is None:
            return Path(default_store_path(self.port))
        return Path(self.store_path) if self.store_path else None


def _ascii(text: str) -> str:
    """The setting's text without surrounding whitespace. Non-ASCII text is refused before any other check, so that
    no Unicode digit, case mapping or space can turn it into a valid value (int() reads Arabic-Indic digits, and the
    dotless i upper-cases to I)."""
    if not text.isascii():
        raise ValueError(f"must be ASCII, got {text!r}")
    return text.strip()


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(_ascii(text))
        except ValueError:
            raise ValueError(f"must be an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value
    return parse


def _float(lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(_ascii(text))
        except ValueError:
            raise ValueError(f"must be a number, got {text!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}, got {value:g}")
        return value
    return parse


def _scale(text: str) -> float:
    """A factor in (0, 1]: 0 would switch pacing off, which no setting may do against real TWS."""
    value = _float(0, 1)(text)
    if value <= 0:
        raise ValueError(f"must be greater than 0 and at most 1, got {value:g}")
    return value


def _bool(text: str) -> bool:
    value = _ascii(text).lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _host(text: str) -> str:
    value = _ascii(text)
    if not value or len(value) > 253 or not all(c.isalnum() or c in ".-:_" for c in value):
        raise ValueError(f"must be a host name or IP address, got {text!r}")
    return value


def _level(text: str) -> str:
    value = _ascii(text).upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"must be one of DEBUG, INFO, WARN, ERROR, got {text!r}")
    return "WARNING" if value == "WARN" else value


def _endpoint(text: str) -> str:
    value = text.strip()
    if value and not value.startswith(("ipc://", "tcp://")):
        raise ValueError(f"must be an ipc:// or tcp:// ZeroMQ endpoint, got {text!r}")
    return value


def _token(text: str) -> str:
    # ASCII only: an HTTP header carries bytes, so a token with other characters could never be matched
    if not text.isascii():
        raise ValueError("must be ASCII (at least 16 printable characters without spaces), got non-ASCII text")
    value = text.strip()
    if value and (len(value) < 16 or not value.isprintable() or " " in value):
        raise ValueError("must be at least 16 printable characters without spaces")
    return value


def _file_path(text: str) -> str:
    value = text.strip()
    if len(value) > 1024 or not value.isprintable() or value.endswith("/"):
        raise ValueError(f"must be a file path (printable, at most 1024 characters) or empty, got {text!r}")
    return value


def _directory(text: str) -> str:
    """An absolute directory path, or empty for the default: the files in it are emptied at start-up, so the path
    must not depend on the directory a process happens to start in."""
    value = text.strip()
    if value and (len(value) > 1024 or not value.isprintable() or not value.startswith("/")):
        raise ValueError(f"must be an absolute directory path (printable, at most 1024 characters) or empty, got "
                         f"{text!r}")
    return value


def _origins(text: str) -> tuple[str, ...]:
    items = tuple(o.strip() for o in _ascii(text).split(",") if o.strip())  # browsers send Origin in ASCII
    if not items:
        raise ValueError("must list at least one origin, or *")
    return items


# environment variable -> (field, parser)
SETTINGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "HOST": ("host", _host),
    "PORT": ("port", _int(1, 65535)),
    "TWS_HOST": ("tws_host", _host),
    "TWS_PORT": ("tws_port", _int(1, 65535)),
    "TWS_CLIENT_ID": ("tws_client_id", _int(0, 2**31 - 1)),
    "TWS_MARKET_DATA_TYPE": ("tws_market_data_type", _int(1, 4)),
    "LOG_LEVEL": ("log_level", _level),
    "GUNICORN_WORKERS": ("gunicorn_workers", _int(1, 64)),
    "GUNICORN_WORKER_CONNECTIONS": ("gunicorn_worker_connections", _int(10, 100_000)),
    "GUNICORN_KEEPALIVE": ("gunicorn_keepalive", _int(0, 3600)),
    "BRIDGE_HEADER_TIMEOUT": ("header_timeout", _float(0.5, 600)),
    "BRIDGE_BODY_TIMEOUT": ("body_timeout", _float(0.5, 600)),
    "BAR_TIMEOUT": ("bar_timeout", _float(1, 600)),
    "BRIDGE_WORKER_ENDPOINT": ("worker_endpoint", _endpoint),
    "BRIDGE_WORKER_EVENTS_ENDPOINT": ("worker_events_endpoint", _endpoint),
    "BRIDGE_WORKER_TIMEOUT": ("worker_timeout", _float(0.1, 60)),
    "BRIDGE_MAX_WAITING_REQUESTS": ("max_waiting_requests", _int(1, 10_000)),
    "BRIDGE_API_TOKEN": ("api_token", _token),
    "BRIDGE_CORS_ORIGINS": ("cors_origins", _origins),
    "BRIDGE_MAX_BODY_BYTES": ("max_body_bytes", _int(256, 1024 * 1024)),
    "BRIDGE_START_WORKER": ("start_worker", _bool),
    "TWS_CONNECT_TIMEOUT": ("tws_connect_timeout", _float(0.5, 120)),
    "TWS_RECONNECT_INITIAL_DELAY": ("reconnect_initial_delay", _float(0.05, 60)),
    "TWS_RECONNECT_MAX_DELAY": ("reconnect_max_delay", _float(0.1, 3600)),
    "TWS_CLIENT_ID_FALLBACKS": ("client_id_fallbacks", _int(0, 100)),
    "TWS_WATCHDOG_INTERVAL": ("watchdog_interval", _float(0.5, 3600)),
    "TWS_CONNECTIVITY_GRACE": ("connectivity_grace", _float(0, 3600)),
    "BRIDGE_CACHE_MAX_MB": ("cache_max_mb", _float(0, 16384)),
    "BRIDGE_HTTP_CACHE_MB": ("http_cache_mb", _float(0, 16384)),
    "BRIDGE_CACHE_NOW_TTL": ("cache_now_ttl", _float(0, 3600)),
    "BRIDGE_SUBSCRIPTION_IDLE_TTL": ("subscription_idle_ttl", _float(0.1, 86400)),
    "BRIDGE_MAX_SUBSCRIPTIONS": ("max_subscriptions", _int(1, 50)),
    "PACING_MAX_OPEN": ("pacing_max_open", _int(1, 50)),
    "PACING_SMALL_BAR_MAX": ("pacing_small_bar_max", _int(1, 60)),
    "PACING_IDENTICAL_WINDOW": ("pacing_identical_window", _float(0, 3600)),
    "BRIDGE_PACING_SCALE": ("pacing_scale", _scale),
    "TWS_MAX_MESSAGES_PER_SECOND": ("tws_max_messages_per_second", _float(1, MAX_MESSAGE_WINDOW - 2)),
    "TWS_MESSAGE_BURST": ("tws_message_burst", _int(2, MAX_MESSAGE_WINDOW - 1)),
    "BRIDGE_CONTRACT_NOT_FOUND_TTL": ("contract_not_found_ttl", _float(0, 86400)),
    "BRIDGE_STORE_PATH": ("store_path", _file_path),
    "BRIDGE_STORE_MAX_GB": ("store_max_gb", _float(0.01, 100_000)),
    "BRIDGE_METRICS_DIR": ("metrics_dir", _directory),
}


# settings that are no longer used: set, they are ignored with a warning at start-up (not refused: an .env made from
# an older .env.example keeps working)
OBSOLETE_SETTINGS: dict[str, str] = {
    "GUNICORN_THREADS": "the HTTP workers are gevent workers now: each holds up to GUNICORN_WORKER_CONNECTIONS "
                        "connections, without a thread per request",
}


# settings that were replaced by another: set, start-up fails naming the one to use (ignoring them would lose what
# the operator meant, e.g. where the pacing history is kept)
REPLACED_SETTINGS: dict[str, str] = {
    "BRIDGE_PACING_LEDGER": "the pacing ledger is kept in the bar store now: remove BRIDGE_PACING_LEDGER and set "
                            "BRIDGE_STORE_PATH (the store's file; empty = memory only) if the default does not suit",
}


def load_config(environ: Mapping[str, str] | None = None, env_file: str | Path | None = None) -> BridgeConfig:
    """Settings from `env_file` (default `.env`, optional) overridden by the environment."""
    environ = os.environ if environ is None else environ
    path = Path(env_file or environ.get("BRIDGE_ENV_FILE", ".env"))
    values: dict[str, str] = {}
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update({k: v for k, v in environ.items() if k in SETTINGS or k in OBSOLETE_SETTINGS
                   or k in REPLACED_SETTINGS})
    for name, why in REPLACED_SETTINGS.items():
        if name in values:
            raise ConfigError(f"{name}: no longer used: {why}")
    kwargs: dict[str, Any] = {"env_file": str(path),
                              "ignored_settings": tuple(name for name in OBSOLETE_SETTINGS if name in values)}
    for name, (field_name, parse) in SETTINGS.items():
        if name in values:
            try:
                kwargs[field_name] = parse(values[name])
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None
    config = BridgeConfig(**kwargs)
    if config.reconnect_initial_delay > config.reconnect_max_delay:
        raise ConfigError("TWS_RECONNECT_INITIAL_DELAY: must not exceed TWS_RECONNECT_MAX_DELAY")
    try:
        events = config.events_endpoint
    except ValueError as exc:
        raise ConfigError(f"BRIDGE_WORKER_EVENTS_ENDPOINT: {exc}") from None
    if events == config.endpoint:
        raise ConfigError("BRIDGE_WORKER_EVENTS_ENDPOINT: must differ from BRIDGE_WORKER_ENDPOINT")
    if config.max_subscriptions >= config.pacing_max_open:
        raise ConfigError("BRIDGE_MAX_SUBSCRIPTIONS: must be below PACING_MAX_OPEN, to leave room for plain requests")
    if config.tws_max_messages_per_second + config.tws_message_burst > MAX_MESSAGE_WINDOW:
        raise ConfigError(f"TWS_MESSAGE_BURST: TWS_MAX_MESSAGES_PER_SECOND + TWS_MESSAGE_BURST must be at most "
                          f"{MAX_MESSAGE_WINDOW} (TWS allows 50 messages a second), got "
                          f"{config.tws_max_messages_per_second:g} + {config.tws_message_burst}")
    return config


def as_environment(config: BridgeConfig) -> dict[str, str]:
    """The settings as environment variables, for handing to a child process (the worker)."""
    by_field = {field_name: name for name, (field_name, _) in SETTINGS.items()}
    env: dict[str, str] = {}
    for f in fields(config):
        name = by_field.get(f.name)
        if name is None:
            continue
        value = getattr(config, f.name)
        if value is None:  # the default the child computes itself (the bar store's path)
            continue
        env[name] = ",".join(value) if isinstance(value, tuple) else str(value).lower() if isinstance(value, bool) \
            else str(value)
    return env


def load_config_or_exit(program: str, warn: bool = False) -> BridgeConfig:
    """For process entry points: the settings, or exit 2 with a message naming the bad setting. With `warn`, every
    obsolete setting found is named on stderr (once per start: gunicorn.conf.py asks, the other entry points not)."""
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"{program}: bad setting {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if warn:
        for name in config.ignored_settings:
            print(f"{program}: {name} is no longer used and is ignored: {OBSOLETE_SETTINGS[name]}", file=sys.stderr)
    return config
