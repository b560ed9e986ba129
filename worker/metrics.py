"""The worker's figures for GET /metrics: plain numbers under stable keys, named and typed by the HTTP side
(app/metrics/worker_figures.py). Apart from the health report (worker/health.py), which is a document for people:
this is what a scraper reads every few seconds, so it stays flat and cheap, and it carries the counts health has no
place for (TWS errors by code, messages by kind)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from worker.tws.connection_manager import ConnectionState

if TYPE_CHECKING:
    from worker.service import WorkerService


def metrics_report(service: WorkerService) -> dict[str, Any]:
    conn, outbox, history = service.connection, service.outbox, service.history
    cache, store, contracts = service.cache.stats(), service.store.stats(), service.resolver.stats()
    subscriptions, streams, pacing = service.subscriptions.stats(), service.streams.stats(), service.pacing.budget()
    messages = outbox.stats()
    series = streams["series"].values()
    return {
        "uptime_seconds": round(time.time() - service.started, 3),
        "connection_state": conn.state.value,
        "connection_states": [state.value for state in ConnectionState],
        "connected": conn.connected,
        "ib_reachable": conn.usable,
        "reconnects": conn.reconnects,
        "reconnect_attempts": conn.reconnect_attempts,
        "tws_errors": conn.tws_errors.counts(),
        "upstream_requests": dict(outbox.sent_by_kind),
        "bar_requests": service.requests,
        "open_upstream_requests": service.upstream.open_count + history.heads.open_count,
        "messages_sent": messages["messages_sent"],
        "message_tokens_left": messages["tokens_left"],
        "messages_per_second_max": messages["max_per_second"],
        "messages_queued": messages["queued"],
        "messages_waited": messages["waited"],
        "messages_refused": messages["refused"],
        "send_failures": messages["send_failures"],
        "pacing_waited": outbox.pacing_waited,
        "pacing_refused": outbox.pacing_refused,
        "pacing_queued": outbox.pacing_queued,
        "pacing_small_bar_requests_left": pacing["small_bar_requests_left"],
        "pacing_open_requests_left": pacing["open_requests_left"],
        "cache_hits": cache["hits"],
        "cache_misses": cache["misses"],
        "cache_bytes": cache["bytes"],
        "cache_max_bytes": cache["max_bytes"],
        "cache_entries": cache["entries"],
        "store_hits": history.desk.store_hits,
        "store_misses": history.desk.store_misses,
        "store_windows_fetched": history.desk.fills.windows_sent,
        "store_bytes": store["bytes"],
        "store_max_bytes": store["max_bytes"],
        "store_bars": store["bars"],
        "store_series": store["series"],
        "store_evicted_series": store["evicted_series"],
        "contracts_cached": contracts["cached"],
        "contract_lookups": contracts["lookups_sent"],
        "subscriptions_live": subscriptions["live"],
        "subscriptions_total": subscriptions["total"],
        "subscriptions_max": service.config.max_subscriptions,
        "subscriptions_created": subscriptions["created"],
        "subscriptions_expired": subscriptions["expired"],
        "subscriptions_resubscribed": subscriptions["resubscribed"],
        "stream_series": len(streams["series"]),
        "stream_clients": sum(s["clients"] for s in series),
        "stream_events": streams["events_published"],
        "jobs": history.jobs.stats(),
    }
