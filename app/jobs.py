"""GET and DELETE /api/v1/jobs/<id>: a history job's progress, and its cancellation.

A bar request whose range cannot be fetched within BAR_TIMEOUT answers 202 with a job (app/api.py); the worker owns
the job, this blueprint only asks it ("job", "job_cancel"; shapes in shared/history.py). An id that is not 32
lowercase hex digits names no job: 404 job_not_found before the worker is asked, the same answer as an unknown id.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from app.api import authenticate, call_worker, checked_job, job_response
from app.state import bridge_state
from shared.errors import BridgeError, BridgeFailure, ErrorCode
from shared.history import valid_job_id

log = logging.getLogger("http.jobs")
jobs = Blueprint("jobs", __name__, url_prefix="/api/v1")
jobs.before_request(authenticate)


@jobs.get("/jobs/<job_id>")
def job(job_id: str) -> Response:
    """The job's state and progress; Retry-After while it is not finished."""
    return _ask("job", job_id)


@jobs.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    """Cancel the job: its windows not yet sent are never sent; the bars it stored stay stored."""
    return _ask("job_cancel", job_id)


def _ask(op: str, job_id: str) -> Response:
    if not valid_job_id(job_id):
        raise BridgeFailure(BridgeError(ErrorCode.JOB_NOT_FOUND, "no such job: a job id is 32 lowercase hex digits, "
                                        "as in the Location of the 202 answer"))
    found = checked_job(call_worker(op, {"id": job_id}, bridge_state().config.worker_timeout))
    if found["id"] != job_id:
        raise BridgeFailure(BridgeError(ErrorCode.INTERNAL_ERROR, "the TWS worker answered about another job"))
    log.info("%s %s -> %s (%d/%d windows, %d bars)", op, job_id, found["state"], found["done"], found["total"],
             found["bars_so_far"])
    return job_response({"success": True, "job": found})
