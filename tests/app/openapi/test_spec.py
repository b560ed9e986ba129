"""The OpenAPI spec: generated from the code, committed as docs/openapi.json, served as it is, covering every route
and every error code, its examples (real answers, app/openapi/capture.py) each fitting its schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.openapi.spec import build_spec, spec_json
from app.schemas import BarsQuerySchema
from shared.contract_fields import CONTRACT_DEFAULTS
from shared.errors import HTTP_STATUS, ErrorCode

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "openapi.json"
# routes that are no API operation: the pages and Flask's static files; /metrics until the metrics branch lands
NON_API_ROUTES = {"/", "/docs", "/static/{}"}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
EVENT_SCHEMA = {"bar": "Bar", "update": "Bar", "revision": "Bar", "status": "StreamStatus", "error": "StreamError"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec()


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema 2020-12 validator of `schema`, its $refs resolved in the spec's components."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def test_the_committed_docs_openapi_json_is_the_generated_spec(spec: dict[str, Any]) -> None:
    assert COMMITTED.read_text() == spec_json(spec), "run: python -m app.openapi > docs/openapi.json"


def test_the_served_spec_is_the_committed_file_without_a_token(app_factory: Any) -> None:
    app: Flask = app_factory(api_token="a-token-of-sixteen-chars")
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_data(as_text=True) == COMMITTED.read_text()


def test_the_spec_is_openapi_3_1_with_the_bearer_token_scheme(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "BRIDGE_API_TOKEN, when the bridge has one"}
    assert spec["paths"]["/api/v1/health"]["get"]["security"] == []
    assert spec["paths"]["/api/v1/bars"]["post"]["security"] == [{"bearerAuth": []}, {}]


def _spec_route(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?[a-z_]+>", "{}", rule)


def test_every_route_of_the_app_is_an_operation_of_the_spec_and_back(app: Flask, spec: dict[str, Any]) -> None:
    routes = {(method, _spec_route(rule.rule)) for rule in app.url_map.iter_rules()
              for method in (rule.methods or set()) & METHODS}
    operations = {(method.upper(), re.sub(r"\{[a-z_]+\}", "{}", path)) for path, item in spec["paths"].items()
                  for method in item if method.upper() in METHODS}
    missing = {route for route in routes if route not in operations and route[1] not in NON_API_ROUTES}
    assert not missing, f"routes without a spec entry: {sorted(missing)}"
    unserved = {op for op in operations if op not in routes and op[1] not in NON_API_ROUTES}
    assert not unserved, f"spec operations no route serves: {sorted(unserved)}"


def test_the_error_code_enum_is_every_error_code(spec: dict[str, Any]) -> None:
    assert spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"] == [c.value for c in ErrorCode]


def test_each_error_response_names_codes_of_its_status_only(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                for code in schema.get("properties", {}).get("code", {}).get("enum", []):
                    # health answers every failure of the worker with 503 (its own shape)
                    expected = 503 if path == "/api/v1/health" and status == "503" else HTTP_STATUS[ErrorCode(code)]
                    assert int(status) == expected, f"{method} {path} {status}: {code}"


def _examples(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], Any]]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            places = [("requestBody", operation.get("requestBody", {})), *operation["responses"].items()]
            for where, place in places:
                for media_type, media in place.get("content", {}).items():
                    for name, example in media.get("examples", {}).items():
                        found.append((f"{method.upper()} {path} {where} {name}", media_type, media["schema"],
                                      example["value"]))
    return found


def test_there_are_examples_of_every_operation_but_the_spec_and_the_metrics(spec: dict[str, Any]) -> None:
    named = {label.rsplit(" ", 2)[0] for label, *_ in _examples(spec)}
    assert named == {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item if m != "parameters"} - {
        "GET /api/v1/openapi.json", "GET /metrics"}


def test_every_json_example_validates_against_its_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for label, media_type, schema, value in _examples(spec):
        if media_type != "application/json":
            continue
        errors = [error.message for error in validator(spec, schema).iter_errors(value)]
        assert not errors, f"{label}: {errors}"
        checked += 1
    assert checked >= 20


def test_every_request_example_is_a_valid_bars_request() -> None:
    for _label, _media, _schema, value in [e for e in _examples(build_spec()) if " requestBody " in e[0]
                                           and e[0].startswith("POST /api/v1/bars ")]:
        BarsQuerySchema().load(value)  # raises on anything the endpoint would refuse


def test_the_stream_example_is_events_whose_data_fit_their_schemas(spec: dict[str, Any]) -> None:
    (example,) = [value for label, media, _, value in _examples(spec) if media == "text/event-stream"]
    assert example.startswith("retry: 3000\n\n")
    kinds = []
    for block in example.strip("\n").split("\n\n")[1:]:
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        kinds.append(fields["event"])
        schema = {"$ref": f"#/components/schemas/{EVENT_SCHEMA[fields['event']]}"}
        data = json.loads(fields["data"])
        assert validator(spec, schema).is_valid(data), block
        if fields["event"] == "bar":
            assert fields["id"] == str(data["time"])
    assert "bar" in kinds and kinds[-1] == "status"


def test_a_bar_has_the_documented_keys_in_order(spec: dict[str, Any]) -> None:
    assert list(spec["components"]["schemas"]["Bar"]["properties"]) == [
        "date", "time", "datetime", "open", "high", "low", "close", "volume", "wap", "count"]


def test_an_answer_off_the_spec_fails_its_schema(spec: dict[str, Any]) -> None:
    """The schemas are strict where clients code against them: an extra key or a wrong code is refused."""
    bar = {"date": "20250127", "time": 1737954000, "datetime": "2025-01-27", "open": 1.0, "high": 1.0, "low": 1.0,
           "close": 1.0, "volume": 5, "wap": 1.0, "count": 3}
    bar_schema = validator(spec, {"$ref": "#/components/schemas/Bar"})
    assert bar_schema.is_valid(bar)
    assert not bar_schema.is_valid({**bar, "extra": 1})
    assert not bar_schema.is_valid({k: v for k, v in bar.items() if k != "datetime"})
    not_found = spec["paths"]["/api/v1/jobs/{id}"]["get"]["responses"]["404"]["content"]["application/json"]
    error = {"success": False, "bars": [], "count": 0, "error": "no such job", "code": "job_not_found"}
    assert validator(spec, not_found["schema"]).is_valid(error)
    assert not validator(spec, not_found["schema"]).is_valid({**error, "code": "symbol_not_found"})


def test_the_docs_page_needs_no_token(app_factory: Any) -> None:
    client: FlaskClient = app_factory(api_token="a-token-of-sixteen-chars").test_client()
    answer = client.get("/docs")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert b'src="/static/docs/docs.js"' in answer.data and b"http" not in answer.data.lower().replace(
        b'http-equiv', b"")


def test_the_docs_page_is_503_assets_missing_without_swagger_ui(client: FlaskClient, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.web_assets.VENDOR_DIR", tmp_path)
    answer = client.get("/docs")
    assert answer.status_code == 503
    assert answer.get_json()["code"] == "assets_missing" and "make assets" in answer.get_json()["error"]


def test_the_bars_request_the_stream_and_the_head_take_every_contract_field(spec: dict[str, Any]) -> None:
    request = validator(spec, {"$ref": "#/components/schemas/BarsRequest"})
    option = {"symbol": "AAPL", "period": "1d", "duration": "1 Y", "sec_type": "OPT", "last_trade_date": "20250221",
              "strike": 230, "right": "C", "multiplier": "100", "trading_class": "AAPL", "con_id": 0,
              "primary_exchange": "NASDAQ", "local_symbol": "AAPL  250221C00230000", "include_expired": True,
              "what": "BID_ASK"}
    assert request.is_valid(option)
    BarsQuerySchema().load(option)  # what the spec takes, the endpoint takes
    assert not request.is_valid({**option, "local_symbol": "AAPL,X"})
    assert not request.is_valid({**option, "con_id": -1})
    for path in ("/api/v1/bars/stream", "/api/v1/contracts/{symbol}/head"):
        names = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert set(CONTRACT_DEFAULTS) <= names, path
    stream = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/bars/stream"]["get"]["parameters"]}
    assert "BID_ASK" not in stream["what"]["enum"] and "CONTFUT" not in stream["sec_type"]["enum"]
