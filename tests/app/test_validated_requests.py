"""The validated requests of recent bodies: the same bytes give the same request without validating them again."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from flask import Flask

from app.validated_requests import ValidatedRequests
from shared.bars import BarRequest
from tests.app.conftest import WorkerStub

REQUEST = BarRequest("AAPL", "5 mins", "1 D")
VALID = {"symbol": "AAPL", "period": "5m", "duration": "1 D"}
api_module = importlib.import_module("app.api")  # `app.api` is the blueprint the package exports


def test_the_same_bytes_give_the_kept_request() -> None:
    memo = ValidatedRequests()
    memo.put(b'{"symbol": "AAPL"}', REQUEST)
    assert memo.get(b'{"symbol": "AAPL"}') is REQUEST
    assert memo.get(b'{"symbol":"AAPL"}') is None, "other bytes are validated"


def test_bounded_in_entries_least_recently_used_first_out() -> None:
    memo = ValidatedRequests(max_entries=2)
    memo.put(b"a", REQUEST)
    memo.put(b"b", REQUEST)
    memo.get(b"a")
    memo.put(b"c", REQUEST)
    assert (memo.get(b"a"), memo.get(b"b"), memo.get(b"c"), len(memo)) == (REQUEST, None, REQUEST, 2)


def test_long_bodies_are_not_kept() -> None:
    memo = ValidatedRequests(max_body_bytes=10)
    memo.put(b"x" * 11, REQUEST)
    assert memo.get(b"x" * 11) is None and len(memo) == 0


def test_a_repeated_body_is_validated_once_and_an_invalid_one_every_time(
        app_factory: Callable[..., Flask], stub: WorkerStub, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []
    real_load = api_module._bars_schema.load

    def counting_load(payload: object) -> BarRequest:
        loads.append(payload)
        return real_load(payload)  # type: ignore[no-any-return]

    monkeypatch.setattr(api_module._bars_schema, "load", counting_load)
    client = app_factory().test_client()
    for _ in range(3):
        assert client.post("/api/v1/bars", json=VALID).status_code == 200
    for _ in range(2):
        assert client.post("/api/v1/bars", json={"symbol": "AAPL", "period": "5m"}).status_code == 400
    assert len(loads) == 3, "one load for the valid body, one per invalid body"
    assert len(stub.requests) == 3, "every valid request still went to the worker (its answer may change)"
