"""gunicorn's entry point: `gunicorn -c gunicorn.conf.py wsgi:app`. Settings are read once, here."""

from __future__ import annotations

from app import create_app
from shared.config import load_config_or_exit
from shared.logging_setup import configure_logging

_config = load_config_or_exit("tws-bridge")  # a bad setting stops start-up with a message naming it

configure_logging(_config.log_level)
app = create_app(_config)
