"""What one HTTP process keeps for its lifetime: the configuration, the worker client, the answers that can no longer
change, the requests validated recently, its start time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, current_app

from app.answer_cache import AnswerCache
from app.validated_requests import ValidatedRequests
from app.worker_client import WorkerClient
from shared.config import BridgeConfig

EXTENSION = "tws_bridge"
VERSION = "0.1.0"


@dataclass
class BridgeState:
    config: BridgeConfig
    worker: WorkerClient
    answers: AnswerCache
    validated: ValidatedRequests = field(default_factory=ValidatedRequests)
    started: float = field(default_factory=time.monotonic)

    @property
    def uptime_seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


def bridge_state(app: Flask | None = None) -> BridgeState:
    """The state `create_app` stored in `app.extensions` (the current app by default)."""
    state: BridgeState = (app or current_app).extensions[EXTENSION]
    return state
