"""Benchmarks of the bridge side by side with direct ibapi and with Flask under gunicorn doing nothing (issue 5)."""
