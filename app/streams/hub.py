"""This app's stream machinery, made on first use in each HTTP worker process: the fan-out (its socket and greenlets
start with the first stream client or include_forming answer) and the include_forming answers it keeps current."""

from __future__ import annotations

from flask import Flask, current_app

from app.metrics.http_metrics import stream_clients_changed
from app.state import bridge_state
from app.streams.fanout import Fanout
from app.streams.forming_cache import FormingAnswers
from shared.streams import INTEREST_INTERVAL_S

EXTENSION = "tws_bridge_streams"
HEARTBEAT_S = 15.0  # a comment line this often: below every proxy's idle read timeout (nginx: 60 s by default)
MAX_FORMING_AGE_S = 30.0  # at most this long (and half the subscription idle TTL) an include_forming answer repeats


def fanout(app: Flask | None = None) -> Fanout:
    return _hub(app or current_app)[0]


def forming_answers(app: Flask | None = None) -> FormingAnswers:
    return _hub(app or current_app)[1]


def _hub(app: Flask) -> tuple[Fanout, FormingAnswers]:
    hub: tuple[Fanout, FormingAnswers] | None = app.extensions.get(EXTENSION)
    if hub is None:
        state = bridge_state(app)
        fan = Fanout(state.config.events_endpoint, state.worker.request, INTEREST_INTERVAL_S,
                     state.config.worker_timeout, HEARTBEAT_S)
        fan.on_receivers.append(stream_clients_changed)
        forming = FormingAnswers(fan, min(MAX_FORMING_AGE_S, state.config.subscription_idle_ttl / 2))
        hub = app.extensions[EXTENSION] = (fan, forming)
    return hub
