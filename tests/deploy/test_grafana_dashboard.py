"""deploy/grafana/tws-bridge.json is a Grafana dashboard whose every query names only metrics a real bridge exports:
the names come from a scrape of a real bridge (gunicorn, the TWS worker) connected to the simulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.processes import BridgeProcess, http

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tws-bridge.json"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# what a PromQL expression may hold besides metric names: aggregations, functions, keywords, Grafana's variables
PROMQL_WORDS = frozenset({
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "clamp_min", "clamp_max", "abs",
    "label_values", "time", "vector", "scalar", "changes", "resets", "avg_over_time", "max_over_time",
    "min_over_time", "sum_over_time", "last_over_time", "absent", "inf", "nan",
})


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: what is left once strings, label matchers, ranges, grouping labels,
    functions, keywords, numbers and variables are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings ("5..", "$instance")
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges ([$__rate_interval])
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # grouping labels
    text = re.sub(r"\$\w+", " ", text)  # $__range
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        if word in PROMQL_WORDS or re.match(r"\s*\(", text[match.end():]):
            continue
        names.add(word)
    return names


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expression) for every panel target and every query variable."""
    found = [(f"panel {panel['title']!r} target {target['refId']}", target["expr"])
             for panel in dashboard["panels"] if panel["type"] != "row" for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found.append((f"variable {variable['name']!r}", query["query"] if isinstance(query, dict) else query))
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


@pytest.fixture(scope="module")
def exported(bridge: BridgeProcess) -> set[str]:
    """Every metric name in a real scrape ("# TYPE" lines: labelled metrics without samples yet are there too),
    a histogram's with its series' suffixes."""
    assert bridge.bars(symbol="AAPL").status == 200  # a bar request, so that the upstream figures have samples
    answer = http("GET", f"{bridge.origin}/metrics")
    assert answer.status == 200
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", answer.body, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
    return names


def test_the_dashboard_is_a_grafana_dashboard_with_a_prometheus_datasource_variable(
        dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "tws-bridge" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    graphs = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(graphs) >= 20
    for panel in graphs:
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_the_metric_name_parser_sees_through_promql() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, route) (rate(a_seconds_bucket{instance=~"$instance", '
            'status=~"5.."}[$__rate_interval]))) / on (instance) group_left b_total + increase(c[$__range])')
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c"}
    assert metric_names("label_values(tws_bridge_worker_up, instance)") == {"tws_bridge_worker_up", "instance"}


def test_every_query_names_only_metrics_the_bridge_exports(dashboard: dict[str, Any], exported: set[str]) -> None:
    assert "tws_bridge_http_requests_total" in exported and "tws_bridge_tws_errors_total" in exported
    for where, expr in queries(dashboard):
        names = metric_names(expr)
        if where.startswith("variable"):
            names.discard("instance")  # label_values(metric, label): the label, added by Prometheus at scrape time
        assert names, f"{where} reads no metric: {expr}"
        unknown = names - exported
        assert not unknown, f"{where} names {sorted(unknown)}, which the bridge does not export: {expr}"


def test_the_dashboard_shows_every_metric_the_bridge_exports(dashboard: dict[str, Any], exported: set[str]) -> None:
    shown = set().union(*(metric_names(expr) for _, expr in queries(dashboard)))
    histograms = {name.removesuffix("_bucket") for name in exported if name.endswith("_bucket")}
    missing = {name for name in exported - shown
               if name not in histograms and not name.endswith(("_created", *HISTOGRAM_SUFFIXES))}
    assert not missing, f"exported but on no panel: {sorted(missing)}"
