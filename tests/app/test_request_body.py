"""Every request's body is read before anything answers it: capped without a Content-Length too, and a body the
server cannot frame is a 400 whose connection is closed. (tests/e2e/test_http_framing.py sends the real bytes.)"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData
from werkzeug.test import EnvironBuilder

from app.request_body import CLOSE_CONNECTION
from tests.app.conftest import WorkerStub

BARS = b'{"symbol": "AAPL", "period": "5m", "duration": "1 D"}'
PATHS = [("POST", "/api/v1/bars"), ("POST", "/api/v1/connect"), ("POST", "/api/v1/disconnect"),
         ("GET", "/api/v1/health"), ("POST", "/api/v1/nope")]


class BrokenChunks(io.BytesIO):
    """A request body as gunicorn's chunked reader delivers it: `first`, then the reader raises `error`."""

    def __init__(self, error: Exception, first: bytes = b"") -> None:
        super().__init__(first)
        self.error = error

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data:
            raise self.error
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


@dataclass
class Served:
    status: int
    body: dict[str, Any]
    environ: dict[str, Any]  # as the app left it: what the server reads after the answer


def streamed(app: Flask, method: str, path: str, stream: Any) -> Served:
    """A request whose body has no Content-Length (chunked), on a stream the server terminates, as gunicorn does;
    straight through the WSGI interface (the test client would give the body a Content-Length)."""
    environ = EnvironBuilder(path, method=method, content_type="application/json").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    statuses: list[int] = []
    answer = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(int(status[:3]))))
    return Served(statuses[0], json.loads(answer), environ)


@pytest.fixture
def small_app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(max_body_bytes=1024)


class TestTheCapWithoutAContentLength:
    def test_one_byte_over_the_cap_is_413_not_a_cut_body(self, small_app: Flask, stub: WorkerStub) -> None:
        body = BARS[:-1] + b" " * (1025 - len(BARS)) + b"}"
        served = streamed(small_app, "POST", "/api/v1/bars", io.BytesIO(body))
        assert served.status == 413
        assert served.body["code"] == "payload_too_large"
        assert served.environ[CLOSE_CONNECTION] is True, "the rest of the body was never read: the connection closes"
        assert stub.requests == []

    def test_exactly_the_cap_is_read_whole(self, small_app: Flask, stub: WorkerStub) -> None:
        body = BARS[:-1] + b" " * (1024 - len(BARS)) + b"}"
        assert len(body) == 1024
        assert streamed(small_app, "POST", "/api/v1/bars", io.BytesIO(body)).status == 200

    @pytest.mark.parametrize(("method", "path"), PATHS)
    def test_every_endpoint_has_the_cap(self, small_app: Flask, stub: WorkerStub, method: str, path: str) -> None:
        served = streamed(small_app, method, path, io.BytesIO(b"{}" + b" " * 2000))
        assert served.status == 413 and served.body["code"] == "payload_too_large"

    @pytest.mark.parametrize(("method", "path"), PATHS)
    def test_every_endpoint_refuses_a_content_length_over_the_cap(self, small_app: Flask, method: str,
                                                                  path: str) -> None:
        response = small_app.test_client().open(path, method=method, data=b" " * 2000,
                                                content_type="application/json")
        assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"


class TestABodyThatCannotBeFramed:
    @pytest.mark.parametrize("error", [InvalidChunkSize(b"zz"), InvalidChunkSize(b"-5"), ChunkMissingTerminator(b"c\r"),
                                       NoMoreData(b"")])
    @pytest.mark.parametrize(("method", "path"), PATHS)
    def test_is_400_on_every_endpoint_and_closes_the_connection(self, app: Flask, stub: WorkerStub, method: str,
                                                                path: str, error: Exception) -> None:
        served = streamed(app, method, path, BrokenChunks(error, first=b'{"symbol"'))
        assert served.status == 400
        body = served.body
        assert (body["success"], body["code"], body["fields"]) == (False, "invalid_request",
                                                                   {"body": "malformed HTTP framing"})
        assert served.environ[CLOSE_CONNECTION] is True
        assert stub.requests == []

    def test_is_logged_without_a_traceback(self, app: Flask, caplog: pytest.LogCaptureFixture) -> None:
        streamed(app, "POST", "/api/v1/bars", BrokenChunks(InvalidChunkSize(b"zz")))
        (record,) = [r for r in caplog.records if r.name == "http.request_body"]
        assert "InvalidChunkSize" in record.getMessage() and record.exc_info is None

    def test_a_body_read_whole_keeps_the_connection(self, app: Flask, stub: WorkerStub) -> None:
        served = streamed(app, "POST", "/api/v1/bars", io.BytesIO(BARS))
        assert served.status == 200
        assert CLOSE_CONNECTION not in served.environ
