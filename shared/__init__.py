"""Code both sides import: configuration, logging, the app/worker message protocol, the bar tables and errors."""
