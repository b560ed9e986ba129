"""GET and DELETE /api/v1/jobs/<id> against a stand-in worker: ids checked before the worker sees them, the job
passed on in its documented shape, every failure JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.errors import BridgeError, ErrorCode
from shared.protocol import WorkerReply, WorkerRequest
from tests.app.conftest import WorkerStub, error, result
from tests.app.test_http_errors import TOKEN, assert_json_error

JOB_ID = "0123456789abcdef0123456789abcdef"
RUNNING = {"id": JOB_ID, "state": "running", "done": 12, "total": 65, "bars_so_far": 280_800, "eta_seconds": 41.0,
           "error": None}


def job_reply(**changes: Any) -> Callable[[WorkerRequest], WorkerReply]:
    return result({"job": {**RUNNING, **changes}})


class TestProgress:
    def test_the_job_is_asked_of_the_worker_and_answered(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = job_reply()
        response = client.get(f"/api/v1/jobs/{JOB_ID}")
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.get_json() == {"success": True, "job": RUNNING}
        (request,) = stub.requests
        assert (request.op, request.body) == ("job", {"id": JOB_ID})

    def test_an_unfinished_job_says_when_to_look_again(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = job_reply()
        assert client.get(f"/api/v1/jobs/{JOB_ID}").headers["Retry-After"] == "30"
        stub.handler = job_reply(state="pending", eta_seconds=2.5)
        assert client.get(f"/api/v1/jobs/{JOB_ID}").headers["Retry-After"] == "3"

    @pytest.mark.parametrize("state", ["done", "failed", "cancelled"])
    def test_a_finished_job_has_no_retry_after(self, client: FlaskClient, stub: WorkerStub, state: str) -> None:
        failure = {"code": "tws_error", "message": "TWS said no"} if state == "failed" else None
        stub.handler = job_reply(state=state, eta_seconds=None, error=failure)
        response = client.get(f"/api/v1/jobs/{JOB_ID}")
        assert response.status_code == 200 and "Retry-After" not in response.headers
        assert response.get_json()["job"]["error"] == failure

    def test_keys_beyond_the_documented_ones_are_not_passed_on(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = job_reply(request={"symbol": "AAPL"}, windows=[1, 2])
        assert set(client.get(f"/api/v1/jobs/{JOB_ID}").get_json()["job"]) == set(RUNNING)

    def test_an_unknown_job_is_the_workers_404(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.JOB_NOT_FOUND, "no such job"))
        body = assert_json_error(client.get(f"/api/v1/jobs/{JOB_ID}"), 404, "job_not_found")
        assert body["error"] == "no such job"

    @pytest.mark.parametrize("job", [None, {**RUNNING, "state": "paused"}, {**RUNNING, "id": "f" * 32},
                                     {**RUNNING, "eta_seconds": "soon"}])
    def test_a_job_in_another_shape_or_of_another_id_is_a_json_500(self, client: FlaskClient, stub: WorkerStub,
                                                                   job: Any) -> None:
        stub.handler = result({"job": job})
        assert_json_error(client.get(f"/api/v1/jobs/{JOB_ID}"), 500, "internal_error")

    def test_a_worker_that_does_not_answer_is_503(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = lambda request: None
        assert_json_error(client.get(f"/api/v1/jobs/{JOB_ID}"), 503, "worker_unavailable")


class TestCancel:
    def test_delete_asks_the_worker_to_cancel_and_answers_the_cancelled_job(self, client: FlaskClient,
                                                                            stub: WorkerStub) -> None:
        stub.handler = job_reply(state="cancelled", eta_seconds=None)
        response = client.delete(f"/api/v1/jobs/{JOB_ID}")
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "job": {**RUNNING, "state": "cancelled", "eta_seconds": None}}
        assert [(r.op, r.body) for r in stub.requests] == [("job_cancel", {"id": JOB_ID})]

    def test_cancelling_an_unknown_job_is_404(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.JOB_NOT_FOUND, "no such job"))
        assert_json_error(client.delete(f"/api/v1/jobs/{JOB_ID}"), 404, "job_not_found")

    @pytest.mark.parametrize("method", ["post", "put", "patch"])
    def test_other_methods_are_405(self, client: FlaskClient, stub: WorkerStub, method: str) -> None:
        assert_json_error(getattr(client, method)(f"/api/v1/jobs/{JOB_ID}"), 405, "method_not_allowed")
        assert stub.requests == []


class TestIds:
    @pytest.mark.parametrize("job_id", [JOB_ID.upper(), JOB_ID[:-1], JOB_ID + "0", "g" * 32, "%00" + JOB_ID[3:],
                                        JOB_ID[:-1] + "%0A", "..", "%D9%A0" * 32, "job", "%20" + JOB_ID])
    @pytest.mark.parametrize("method", ["get", "delete"])
    def test_a_malformed_id_is_404_job_not_found_and_never_reaches_the_worker(
            self, client: FlaskClient, stub: WorkerStub, job_id: str, method: str) -> None:
        body = assert_json_error(getattr(client, method)(f"/api/v1/jobs/{job_id}"), 404, "job_not_found")
        assert "32 lowercase hex digits" in body["error"]
        assert stub.requests == []

    @pytest.mark.parametrize("path", ["/api/v1/jobs/", "/api/v1/jobs/..%2F..%2Fhealth", f"/api/v1/jobs/{JOB_ID}/x"])
    def test_no_id_or_a_path_is_no_route(self, client: FlaskClient, stub: WorkerStub, path: str) -> None:
        assert_json_error(client.get(path), 404, "not_found")
        assert stub.requests == []


class TestToken:
    @pytest.fixture
    def client(self, app_factory: Callable[..., Flask]) -> FlaskClient:
        return app_factory(api_token=TOKEN).test_client()

    @pytest.mark.parametrize("method", ["get", "delete"])
    def test_the_token_is_required(self, client: FlaskClient, stub: WorkerStub, method: str) -> None:
        assert_json_error(getattr(client, method)(f"/api/v1/jobs/{JOB_ID}"), 401, "unauthorized")
        assert stub.requests == []

    def test_with_the_token_the_job_is_answered(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = job_reply()
        response = client.get(f"/api/v1/jobs/{JOB_ID}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200


def test_a_browser_may_read_location_and_retry_after(client: FlaskClient, stub: WorkerStub) -> None:
    stub.handler = job_reply()
    response = client.get(f"/api/v1/jobs/{JOB_ID}", headers={"Origin": "http://localhost:5173"})
    exposed = {h.strip().lower() for h in response.headers.get("Access-Control-Expose-Headers", "").split(",")}
    assert {"retry-after", "location"} <= exposed
