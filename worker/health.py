"""The worker's health report: what an operator needs to see at /api/v1/health."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.service import WorkerService


def health_report(service: WorkerService) -> dict[str, Any]:
    conn = service.connection
    config = service.config
    last = dataclasses.asdict(conn.last_error) if conn.last_error else None
    return {
        "connected": conn.connected,
        "state": conn.state.value,
        "ib_reachable": conn.usable,  # false between 1100/2110 and 1101/1102
        "tws_host": config.tws_host,
        "tws_port": config.tws_port,
        "client_id": conn.client_id,
        "server_version": conn.server_version,
        "last_error": last,
        "connection_history": conn.history.report(),
        "reconnect_attempts": conn.reconnect_attempts,
        "reconnects": conn.reconnects,
        "farms": dict(conn.farms),
        "worker_pid": os.getpid(),
        "worker_uptime_seconds": round(time.time() - service.started, 3),
        "connected_since": conn.connected_since,
        "requests": service.requests,
        "in_flight": service.bars.in_flight,
        "coalesced": service.bars.coalesced,
        "open_upstream_requests": service.upstream.open_count,
        "upstream_requests_sent": service.upstream.sent,
        "pacing": {**service.pacing.budget(), "queued": service.outbox.pacing_queued,
                   "waited": service.outbox.pacing_waited, "refused": service.outbox.pacing_refused,
                   "ledger": service.pacing.ledger.location, "ledger_records_loaded": service.pacing.loaded},
        "message_budget": service.outbox.stats(),
        "contracts": service.resolver.stats(),
        "contract_lookups": service.lookups.stats(),  # GET /api/v1/contracts and /search (worker/contracts/)
        "subscriptions": service.subscriptions.stats(),
        "streams": {"events_endpoint": config.events_endpoint, **service.streams.stats()},
        "cache": service.cache.stats(),
        "history": {"answers_from_store": service.history.desk.store_answers,
                    "windows_sent": service.history.desk.fills.windows_sent, "jobs": service.history.jobs.stats(),
                    "jobs_in_progress": service.history.jobs.in_progress(),
                    "head_timestamps": service.history.heads.stats()},
        "store": service.store.stats(),
        "undecodable_messages": service.undecodable.stats(),
    }
