"""The TWS worker's figures, asked for at scrape time with one "metrics" request and exposed as Prometheus metrics.

The worker answers with plain numbers (worker/metrics.py); this module names them, says what they are and checks
them: a figure that is missing or not a number is left out, a label value that is not a short identifier is dropped,
so a broken worker can never make a scrape fail or grow the label set. When the worker does not answer, the scrape
still has the HTTP workers' figures and `tws_bridge_worker_up 0`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.errors import BridgeFailure
from shared.protocol import WorkerReply

log = logging.getLogger("http.metrics")

Request = Callable[[str, dict[str, Any], float], WorkerReply]  # the worker client's request(op, body, timeout)
LABEL_VALUE_RE = re.compile(r"[A-Za-z0-9_]{1,64}\Z")
MAX_LABEL_VALUES = 256  # per labelled figure; the worker bounds its own sets well below this

# (the worker's key, metric name, counter or gauge, help)
FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("uptime_seconds", "tws_bridge_worker_uptime_seconds", "gauge", "Seconds since the TWS worker started"),
    ("connected", "tws_bridge_tws_connected", "gauge", "1 while the TWS connection is up"),
    ("ib_reachable", "tws_bridge_ib_reachable", "gauge",
     "1 while connected and IB is reachable behind TWS (0 between 1100/2110 and 1101/1102)"),
    ("reconnects", "tws_bridge_tws_reconnects_total", "counter", "Successful TWS connections after the first"),
    ("reconnect_attempts", "tws_bridge_tws_reconnect_attempts", "gauge",
     "Connection attempts since the last successful one"),
    ("bar_requests", "tws_bridge_worker_bar_requests_total", "counter", "Bar requests the TWS worker received"),
    ("open_upstream_requests", "tws_bridge_upstream_open_requests", "gauge",
     "Historical requests open at TWS now (IB allows 50)"),
    ("messages_sent", "tws_bridge_tws_messages_sent_total", "counter", "Messages sent to TWS under the message budget"),
    ("message_tokens_left", "tws_bridge_tws_message_tokens", "gauge", "Messages that may be sent to TWS at once now"),
    ("messages_per_second_max", "tws_bridge_tws_messages_per_second_max", "gauge",
     "The message budget's rate (TWS_MAX_MESSAGES_PER_SECOND)"),
    ("messages_queued", "tws_bridge_tws_messages_queued", "gauge", "Messages waiting in the outbox to be sent"),
    ("messages_waited", "tws_bridge_tws_messages_waited_total", "counter",
     "Requests that could not be sent to TWS at once"),
    ("messages_refused", "tws_bridge_tws_messages_refused_total", "counter",
     "Requests refused (429) because the message budget would send them after their deadline"),
    ("send_failures", "tws_bridge_tws_send_failures_total", "counter", "Sends to TWS that failed (connection lost)"),
    ("pacing_waited", "tws_bridge_pacing_waits_total", "counter", "Historical requests held by IB's pacing rules"),
    ("pacing_refused", "tws_bridge_pacing_refusals_total", "counter",
     "Historical requests refused (429) by IB's pacing rules"),
    ("pacing_queued", "tws_bridge_pacing_queued", "gauge", "Historical requests waiting for their pacing turn now"),
    ("pacing_small_bar_requests_left", "tws_bridge_pacing_small_bar_requests_left", "gauge",
     "Requests for bars of 30 s or less IB allows in the current 10 minutes"),
    ("pacing_open_requests_left", "tws_bridge_pacing_open_requests_left", "gauge",
     "Historical requests that may still be opened at TWS now"),
    ("cache_hits", "tws_bridge_cache_hits_total", "counter", "Bar requests answered from the TWS worker's cache"),
    ("cache_misses", "tws_bridge_cache_misses_total", "counter",
     "Bar requests the TWS worker's cache could not answer"),
    ("cache_bytes", "tws_bridge_cache_bytes", "gauge", "Size of the TWS worker's bar cache"),
    ("cache_max_bytes", "tws_bridge_cache_max_bytes", "gauge", "The bar cache's bound (BRIDGE_CACHE_MAX_MB)"),
    ("cache_entries", "tws_bridge_cache_entries", "gauge", "Answers in the TWS worker's bar cache"),
    ("store_hits", "tws_bridge_store_hits_total", "counter",
     "Bar requests whose complete bars the bar store held all of"),
    ("store_misses", "tws_bridge_store_misses_total", "counter",
     "Bar requests for which the bar store lacked some complete bars (fetched from TWS)"),
    ("store_windows_fetched", "tws_bridge_store_windows_fetched_total", "counter",
     "Windows fetched from TWS to fill the bar store (long ranges, jobs)"),
    ("store_bytes", "tws_bridge_store_bytes", "gauge", "Size of the bars in the bar store"),
    ("store_max_bytes", "tws_bridge_store_max_bytes", "gauge", "The bar store's bound (BRIDGE_STORE_MAX_GB)"),
    ("store_bars", "tws_bridge_store_bars", "gauge", "Bars in the bar store"),
    ("store_series", "tws_bridge_store_series", "gauge", "Series in the bar store"),
    ("store_evicted_series", "tws_bridge_store_evicted_series_total", "counter",
     "Series evicted from the bar store to keep it within its bound"),
    ("contracts_cached", "tws_bridge_contracts_cached", "gauge", "Contracts the TWS worker knows"),
    ("contract_lookups", "tws_bridge_contract_lookups_total", "counter", "Contract lookups sent to TWS"),
    ("subscriptions_live", "tws_bridge_live_subscriptions", "gauge", "Live (keepUpToDate) subscriptions streaming now"),
    ("subscriptions_total", "tws_bridge_live_subscriptions_open", "gauge",
     "Live subscriptions open, streaming or not (counted against IB's 50 open requests)"),
    ("subscriptions_max", "tws_bridge_live_subscriptions_max", "gauge",
     "The bound on live subscriptions (BRIDGE_MAX_SUBSCRIPTIONS)"),
    ("subscriptions_created", "tws_bridge_live_subscriptions_created_total", "counter", "Live subscriptions opened"),
    ("subscriptions_expired", "tws_bridge_live_subscriptions_expired_total", "counter",
     "Live subscriptions closed after BRIDGE_SUBSCRIPTION_IDLE_TTL without use"),
    ("subscriptions_resubscribed", "tws_bridge_live_subscriptions_resubscribed_total", "counter",
     "Live subscriptions requested again (reconnect, 1101)"),
    ("stream_series", "tws_bridge_stream_series", "gauge", "Live series the TWS worker publishes"),
    ("stream_clients", "tws_bridge_worker_stream_clients", "gauge",
     "Stream clients the HTTP workers last reported to the TWS worker"),
    ("stream_events", "tws_bridge_stream_events_published_total", "counter", "Stream events the TWS worker published"),
)
# (the worker's key: an object of label value -> number, metric name, label, counter or gauge, help)
LABELLED_FIGURES: tuple[tuple[str, str, str, str, str], ...] = (
    ("tws_errors", "tws_bridge_tws_errors_total", "code", "counter",
     "Errors and notices TWS sent, by TWS code (codes past the first 100 seen count as \"other\")"),
    ("upstream_requests", "tws_bridge_upstream_requests_total", "kind", "counter",
     "Messages sent to TWS, by kind (historical, live_subscription, head_timestamp, contract_details, ...)"),
    ("jobs", "tws_bridge_jobs", "state", "gauge", "History jobs the TWS worker holds, by state"),
)


class WorkerFigures(Collector):
    """Collected once per scrape: one "metrics" request to the TWS worker, answered at once by its owner thread."""

    def __init__(self, request: Request, timeout: float) -> None:
        self._request = request
        self._timeout = timeout

    def describe(self) -> Iterator[Metric]:
        return iter(())  # nothing to announce ahead: the figures are only known once the worker answered

    def collect(self) -> Iterator[Metric]:
        figures = self._ask()
        up = GaugeMetricFamily("tws_bridge_worker_up", "1 when the TWS worker answered this scrape's request")
        up.add_metric([], 1.0 if figures is not None else 0.0)
        yield up
        if figures is None:
            return
        yield from figure_metrics(figures)

    def _ask(self) -> dict[str, Any] | None:
        try:
            reply = self._request("metrics", {}, self._timeout)
        except BridgeFailure as exc:
            log.info("metrics: the TWS worker did not answer: %s", exc.error.message)
            return None
        if reply.error is not None or reply.result is None:
            log.warning("metrics: the TWS worker answered with an error: %s", reply.error)
            return None
        return reply.result


def figure_metrics(figures: dict[str, Any]) -> Iterator[Metric]:
    """The worker's figures as metric families; what is not a number (or a valid label value) is left out."""
    for key, name, kind, text in FIGURES:
        value = _number(figures.get(key))
        if value is not None:
            family = CounterMetricFamily(name, text) if kind == "counter" else GaugeMetricFamily(name, text)
            family.add_metric([], value)
            yield family
    state, states = figures.get("connection_state"), figures.get("connection_states")
    if isinstance(states, list) and _label(state):
        family = GaugeMetricFamily("tws_bridge_tws_connection_state",
                                   "1 for the TWS connection's state now, 0 for the others", labels=["state"])
        for known in states[:MAX_LABEL_VALUES]:
            if _label(known):
                family.add_metric([known], 1.0 if known == state else 0.0)
        yield family
    for key, name, label, kind, text in LABELLED_FIGURES:
        counts = figures.get(key)
        if not isinstance(counts, dict):
            continue
        family = (CounterMetricFamily(name, text, labels=[label]) if kind == "counter"
                  else GaugeMetricFamily(name, text, labels=[label]))
        for value_label, count in list(counts.items())[:MAX_LABEL_VALUES]:
            number = _number(count)
            if _label(value_label) and number is not None:
                family.add_metric([value_label], number)
        yield family


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and value == value and abs(value) != float("inf"):
        return float(value)
    return None


def _label(value: Any) -> bool:
    return isinstance(value, str) and LABEL_VALUE_RE.match(value) is not None
