"""The simulator's settings, read once (from the command line or a test) into a frozen object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.message_rate import DEFAULT_MAX_MESSAGE_RATE, check_limit
from sim.pacing import check_scale


@dataclass(frozen=True)
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 7497  # 0 = an ephemeral port (tests)
    max_version: int | None = None  # None = the highest version the simulator fully supports
    account: str = "DU1234567"
    first_order_id: int = 1
    update_interval: float = 5.0  # seconds between keepUpToDate updates (TWS: about 5)
    pacing: bool = True  # enforce IB's historical-data pacing rules
    pacing_scale: float = 1.0  # every pacing window (15 s, 2 s, 10 min) times this, 0 < x <= 1; counts stay
    legacy_dates: bool = False  # intraday bar dates as "yyyymmdd  HH:MM:SS" (older TWS) instead of with the zone
    instruments: Path | None = None  # None = the bundled sim/data/instruments.json
    log_requests: Path | None = None  # append every received message and sent error as JSON lines
    lenient_durations: bool = False  # serve durations past IB's table per bar size (real TWS sometimes does)
    max_message_rate: int = DEFAULT_MAX_MESSAGE_RATE  # messages per second per connection before error 100; 0 = off
    drop_after_rate_violations: int = 0  # close a connection at its Nth message over the rate; 0 = never

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.update_interval <= 0:
            raise ValueError(f"update interval must be > 0, got {self.update_interval}")
        check_scale(self.pacing_scale)
        check_limit(self.max_message_rate, "max message rate")
        check_limit(self.drop_after_rate_violations, "drop after rate violations")
        if not self.account or not self.account.isalnum():
            raise ValueError(f"account must be alphanumeric, got {self.account!r}")
