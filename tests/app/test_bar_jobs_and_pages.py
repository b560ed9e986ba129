"""POST /api/v1/bars when the worker fetches the range by a job (202 with the job, Location and Retry-After) or
answers one page of it (next_page_token); neither is ever kept as a final answer it is not."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.errors import BridgeError, ErrorCode
from shared.protocol import WorkerReply, WorkerRequest
from tests.app.conftest import BAR, WorkerStub, error, result

JOB_ID = "0123456789abcdef0123456789abcdef"
JOB = {"id": JOB_ID, "state": "pending", "done": 0, "total": 65, "bars_so_far": 0, "eta_seconds": 12.2, "error": None}
RANGE = {"symbol": "AAPL", "period": "1s", "start_datetime": "20250127 09:30:00", "end_datetime": "20250129 16:00:00"}


def pending(**job: Any) -> dict[str, Any]:
    return {"status": "pending", "job": {**JOB, **job}}


class TestPending:
    def test_a_pending_result_is_202_with_the_job_and_where_to_find_it(self, client: FlaskClient,
                                                                       stub: WorkerStub) -> None:
        stub.handler = result(pending())
        response = client.post("/api/v1/bars", json=RANGE)
        assert response.status_code == 202 and response.mimetype == "application/json"
        assert response.get_json() == {"success": True, "status": "pending", "job": JOB}
        assert response.headers["Location"] == f"/api/v1/jobs/{JOB_ID}"
        assert response.headers["Retry-After"] == "13"  # the eta, rounded up

    @pytest.mark.parametrize(("eta", "retry_after"), [(0.01, "1"), (0, "1"), (1.0, "1"), (29.5, "30"), (31, "30"),
                                                      (86_400, "30"), (None, "5")])
    def test_retry_after_is_the_eta_within_one_and_thirty_seconds(self, client: FlaskClient, stub: WorkerStub,
                                                                  eta: float | None, retry_after: str) -> None:
        stub.handler = result(pending(eta_seconds=eta, state="running"))
        assert client.post("/api/v1/bars", json=RANGE).headers["Retry-After"] == retry_after

    def test_a_job_answer_is_never_kept_as_final(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({**pending(), "ttl": None})  # even if the worker said so by mistake
        for _ in range(3):
            assert client.post("/api/v1/bars", json=RANGE).status_code == 202
        assert len(stub.requests) == 3

    def test_the_repeat_after_the_job_is_done_gets_the_bars(self, client: FlaskClient, stub: WorkerStub) -> None:
        answers = iter([pending(), {"bars": [BAR], "notice": None, "ttl": None, "next_page_token": None}])
        stub.handler = lambda request: WorkerReply(request.id, result=next(answers))
        assert client.post("/api/v1/bars", json=RANGE).status_code == 202
        done = client.post("/api/v1/bars", json=RANGE)
        assert done.status_code == 200 and done.get_json()["bars"] == [BAR]
        assert "Location" not in done.headers and "Retry-After" not in done.headers

    @pytest.mark.parametrize("job", [None, {}, {**JOB, "id": "../../health"}, {**JOB, "state": "sleeping"},
                                     {**JOB, "total": "65"}, {k: v for k, v in JOB.items() if k != "done"}])
    def test_a_job_in_another_shape_is_a_json_500_never_passed_on(self, client: FlaskClient, stub: WorkerStub,
                                                                  job: Any) -> None:
        stub.handler = result({"status": "pending", "job": job})
        response = client.post("/api/v1/bars", json=RANGE)
        assert response.status_code == 500 and response.mimetype == "application/json"
        body = response.get_json()
        assert body["code"] == "internal_error" and "Location" not in response.headers
        assert "Traceback" not in response.get_data(as_text=True)


PAGE = {"bars": [BAR], "notice": None, "ttl": None}
PAST = {**RANGE, "period": "1m", "limit": 1}


class TestPages:
    def test_the_next_page_token_is_in_the_answer(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({**PAGE, "next_page_token": "cGFnZTI"})
        body = client.post("/api/v1/bars", json=PAST).get_json()
        assert (body["count"], body["next_page_token"]) == (1, "cGFnZTI")

    def test_the_last_page_and_an_unpaged_answer_say_null(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({**PAGE, "next_page_token": None})
        assert client.post("/api/v1/bars", json=PAST).get_json()["next_page_token"] is None
        stub.handler = result(PAGE)  # a worker that pages nothing
        assert client.post("/api/v1/bars", json={**PAST, "limit": 2}).get_json()["next_page_token"] is None

    def test_the_page_token_goes_back_to_the_worker_as_sent(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({**PAGE, "next_page_token": "cGFnZTI"})
        token = client.post("/api/v1/bars", json=PAST).get_json()["next_page_token"]
        client.post("/api/v1/bars", json={**PAST, "page_token": token})
        assert [r.body["page_token"] for r in stub.requests] == ["", "cGFnZTI"]

    def test_each_final_page_is_kept_under_its_own_token_and_limit(self, client: FlaskClient,
                                                                   stub: WorkerStub) -> None:
        def page(request: WorkerRequest) -> WorkerReply:
            body = request.body
            return WorkerReply(request.id, result={"bars": [{**BAR, "volume": len(body["page_token"])}],
                                                   "notice": None, "ttl": None,
                                                   "next_page_token": f"p{body['limit']}x{body['page_token']}"})
        stub.handler = page
        first = client.post("/api/v1/bars", json=PAST).get_json()
        second = client.post("/api/v1/bars", json={**PAST, "page_token": first["next_page_token"]}).get_json()
        other_limit = client.post("/api/v1/bars", json={**PAST, "limit": 2}).get_json()
        assert len(stub.requests) == 3, "a different page or limit is a different answer"
        assert (first["next_page_token"], second["next_page_token"], other_limit["next_page_token"]) == (
            "p1x", "p1xp1x", "p2x")
        assert client.post("/api/v1/bars", json={**PAST, "page_token": "p1x"}).get_json() == second
        assert client.post("/api/v1/bars", json=PAST).get_json() == first
        assert len(stub.requests) == 3, "final pages are answered again from the HTTP worker's cache"

    def test_a_page_the_worker_may_still_change_is_not_kept(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = result({**PAGE, "ttl": 5, "next_page_token": "cGFnZTI"})
        client.post("/api/v1/bars", json=PAST)
        client.post("/api/v1/bars", json=PAST)
        assert len(stub.requests) == 2

    @pytest.mark.parametrize("token", ["", "a b", "x" * 513, 5, ["a"], "a\x00"])
    def test_a_next_page_token_in_another_form_is_a_json_500(self, client: FlaskClient, stub: WorkerStub,
                                                             token: Any) -> None:
        stub.handler = result({**PAGE, "next_page_token": token})
        response = client.post("/api/v1/bars", json=PAST)
        assert response.status_code == 500 and response.get_json()["code"] == "internal_error"

    def test_invalid_page_token_from_the_worker_is_400(self, client: FlaskClient, stub: WorkerStub) -> None:
        stub.handler = error(BridgeError(ErrorCode.INVALID_PAGE_TOKEN, "this token is for another request"))
        response = client.post("/api/v1/bars", json={**PAST, "page_token": "bm90IHlvdXJz"})
        assert response.status_code == 400 and response.mimetype == "application/json"
        body = response.get_json()
        assert (body["success"], body["code"], body["error"]) == (False, "invalid_page_token",
                                                                  "this token is for another request")
