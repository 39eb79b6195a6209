"""`reliability dashboard`: every panel query parses on a real Prometheus, and the panels read
the series the rules and the exporters actually produce."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from planner.cli import main
from planner.slo.dashboard import (
    SCHEMA_VERSION,
    build_dashboard,
    dashboard_queries,
    panel_queries,
)
from planner.slo.definition import definitions_from_spec
from planner.slo.rules import build_rules
from planner.spec import load_spec
from tests.paths import ROOT_DIR
from tests.schema_check import load_schema, violations
from tests.servers import PrometheusServer

ROOT = ROOT_DIR
EXAMPLES = sorted((ROOT / "examples").glob("*/system.yaml"))

#: What Grafana substitutes before it sends a query: its built-in interval and the `policy`
#: variable's "All" value.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$policy": ".*", "$job": ".*"}

#: The exporters' metric names (DESIGN.md), as Prometheus sees them.
EXPORTER_METRICS = {
    "resilience_calls_total",
    "resilience_call_duration_seconds_bucket",
    "resilience_retries_total",
    "resilience_rejections_total",
    "resilience_timeouts_total",
    "resilience_circuit_breaker_state",
    "resilience_bulkhead_in_flight",
    "resilience_bulkhead_capacity",
    "http_server_request_duration_seconds_bucket",
    "http_server_request_duration_seconds_count",
}


def _substitute(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def _dashboards() -> list[tuple[str, dict[str, object]]]:
    out = []
    for path in EXAMPLES:
        spec = load_spec(path)
        out.append((path.parent.name, build_dashboard(spec, definitions_from_spec(spec))))
    return out


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    """A Prometheus with every example's rules loaded (they must load, not only parse)."""
    rules = {
        f"{path.parent.name}.yml": build_rules(definitions_from_spec(load_spec(path))).to_yaml()
        for path in EXAMPLES
    }
    config = "global:\n  evaluation_interval: 1m\nrule_files:\n" + "".join(
        f"  - {name}\n" for name in rules
    )
    with PrometheusServer(config, rule_files=rules) as server:
        yield server


def _get(url: str) -> dict[str, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body: dict[str, object] = json.load(resp)
    except urllib.error.HTTPError as exc:  # a 400 carries the parse error as JSON
        body = json.load(exc)
    return body


@pytest.mark.integration
def test_every_panel_query_parses_on_prometheus(prometheus: PrometheusServer) -> None:
    checked = 0
    for name, dashboard in _dashboards():
        for title, expr in dashboard_queries(dashboard):
            query = urllib.parse.urlencode({"query": _substitute(expr)})
            body = _get(f"{prometheus.url}/api/v1/query?{query}")
            assert body["status"] == "success", f"{name} / {title}: {body.get('error')}\n{expr}"
            checked += 1
    assert checked >= 3 * 19  # 17 panel queries and 2 alert annotations at least


@pytest.mark.integration
def test_generated_rules_load_into_prometheus(prometheus: PrometheusServer) -> None:
    body = _get(f"{prometheus.url}/api/v1/rules")
    groups = body["data"]["groups"]  # type: ignore[index]
    names = {g["name"] for g in groups}
    assert {"slo-ai-gateway-availability", "slo-web-shop-availability-period"} <= names
    assert all(r["health"] != "err" for g in groups for r in g["rules"])


def test_slo_panels_read_series_the_rules_record() -> None:
    for path in EXAMPLES:
        spec = load_spec(path)
        slos = definitions_from_spec(spec)
        recorded = {
            r["record"] for g in build_rules(slos).groups for r in g["rules"] if "record" in r
        }
        for _, expr in panel_queries(build_dashboard(spec, slos)):
            for name in re.findall(r"\b(slo:[a-z_]+:[a-z0-9_]+)", expr):
                assert name in recorded, f"{path.parent.name}: {name} is not recorded"


def test_runtime_panels_read_the_exporters_metric_names() -> None:
    _, dashboard = _dashboards()[0]
    used = {
        m
        for _, expr in panel_queries(dashboard)
        for m in re.findall(r"\b((?:resilience|http_server)_[a-z_]+)\b", expr)
    }
    assert used == EXPORTER_METRICS


def test_dashboard_shape() -> None:
    for _, dashboard in _dashboards():
        assert dashboard["schemaVersion"] == SCHEMA_VERSION
        panels = dashboard["panels"]
        assert isinstance(panels, list)
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids))
        cells: set[tuple[int, int]] = set()
        for p in panels:
            pos = p["gridPos"]
            assert pos["x"] + pos["w"] <= 24
            own = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not own & cells, f"panel {p['title']} overlaps another"
            cells |= own
            for target in p.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}"
        titles = {p["title"] for p in panels}
        assert {
            "Availability (30d)",
            "Error budget remaining",
            "Burn rate",
            "Circuit breaker state",
            "Bulkhead saturation",
            "Retries per call",
            "p99 latency per policy",
        } <= titles


def test_hard_dependencies_panel_names_the_entry_points_hard_dependencies() -> None:
    spec = load_spec(ROOT / "examples/web_shop/system.yaml")
    dashboard = build_dashboard(spec, definitions_from_spec(spec))
    (panel,) = [p for p in dashboard["panels"] if p["title"].startswith("Hard dependencies")]
    assert panel["targets"][0]["expr"].startswith("slo:dependency_error:ratio_rate5m{")
    for name in ("postgres", "payment-api", "order-queue"):
        assert name in panel["description"]
    assert "redis" not in panel["description"]  # a soft dependency of the storefront


def test_cli_writes_the_dashboard_atomically(tmp_path: Path) -> None:
    out = tmp_path / "dashboard.json"
    assert main(["dashboard", str(EXAMPLES[0]), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["schemaVersion"] == SCHEMA_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.json"]


def _datasources(node: object) -> Iterator[object]:
    """Every `datasource` value anywhere in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasources(item)


def test_data_source_is_a_template_variable_not_an_import_input() -> None:
    for name, dashboard in _dashboards():
        assert "__inputs" not in dashboard and "__requires" not in dashboard
        variables = dashboard["templating"]["list"]  # type: ignore[index]
        assert variables[0]["type"] == "datasource" and variables[0]["query"] == "prometheus"
        assert variables[0]["name"] == "datasource"
        seen = list(_datasources(dashboard))
        assert len(seen) > 20
        for ds in seen:
            assert ds in (
                {"type": "prometheus", "uid": "${datasource}"},
                {"type": "grafana", "uid": "-- Grafana --"},  # the built-in annotations
            ), f"{name}: {ds}"
        assert "DS_PROMETHEUS" not in json.dumps(dashboard)


def test_job_variable_filters_every_runtime_query() -> None:
    _, dashboard = _dashboards()[0]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}  # type: ignore[index]
    assert variables["job"]["definition"] == "label_values(resilience_calls_total, job)"
    assert 'job=~"$job"' in variables["policy"]["definition"]
    runtime = [
        (title, expr)
        for title, expr in panel_queries(dashboard)
        if re.search(r"\b(resilience|http_server)_", expr)
    ]
    assert len(runtime) >= 10
    for title, expr in runtime:
        selectors = re.findall(r"\b(?:resilience|http_server)_[a-z_]+(\{[^}]*\})?", expr)
        assert selectors and all('job=~"$job"' in s for s in selectors), title


def test_alert_annotations_select_the_alerts_the_rules_fire() -> None:
    spec = load_spec(EXAMPLES[0])
    slos = definitions_from_spec(spec)
    dashboard = build_dashboard(spec, slos)
    annotations = [a for a in dashboard["annotations"]["list"] if "expr" in a]
    assert [a["name"] for a in annotations] == [
        "ErrorBudgetBurn (page)",
        "ErrorBudgetBurn (ticket)",
    ]
    alerts = [r for g in build_rules(slos).groups for r in g["rules"] if "alert" in r]
    for annotation, alert in zip(annotations, alerts, strict=True):
        labels = alert["labels"]
        assert annotation["expr"] == (
            f'ALERTS{{alertname="{alert["alert"]}",alertstate="firing",'
            f'severity="{labels["severity"]}",service=~"{labels["service"]}"}}'
        )
        assert annotation["datasource"]["uid"] == "${datasource}"


def test_configmap_for_the_grafana_sidecar(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dashboard", str(EXAMPLES[0]), "--format", "configmap", "--namespace", "monitoring"]
    assert main([*argv, "--label", "team=sre"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "ConfigMap"
    assert doc["metadata"]["namespace"] == "monitoring"
    assert doc["metadata"]["labels"] == {"grafana_dashboard": "1", "team": "sre"}
    ((key, text),) = doc["data"].items()
    spec = load_spec(EXAMPLES[0])
    board = build_dashboard(spec, definitions_from_spec(spec))
    assert key == f"{board['uid']}.json"
    assert json.loads(text) == json.loads(json.dumps(board))


def test_grafana_operator_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dashboard", str(EXAMPLES[0]), "--format", "grafana-operator", "--namespace", "grafana"]
    assert main([*argv, "--grafana-selector", "dashboards=main", "--label", "a=b"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert violations(doc, load_schema("grafanadashboard.v1beta1.yaml")) == []
    assert doc["spec"]["instanceSelector"] == {"matchLabels": {"dashboards": "main"}}
    assert doc["metadata"] == {
        "name": doc["metadata"]["name"],
        "namespace": "grafana",
        "labels": {"a": "b"},
    }
    spec = load_spec(EXAMPLES[0])
    board = build_dashboard(spec, definitions_from_spec(spec))
    assert json.loads(doc["spec"]["json"]) == json.loads(json.dumps(board))
    # the default selector: the label grafana-operator's examples give their Grafana
    assert main(["dashboard", str(EXAMPLES[0]), "--format", "grafana-operator"]) == 0
    default = yaml.safe_load(capsys.readouterr().out)
    assert default["spec"]["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--namespace", "mon"], "--namespace: only for --format configmap or grafana-operator"),
        (["--format", "configmap", "--grafana-selector", "a=b"], "--grafana-selector: only for"),
        (["--format", "configmap", "--namespace", "Mon"], "--namespace: 'Mon' is not"),
    ],
)
def test_bad_dashboard_flags_are_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["dashboard", str(EXAMPLES[0]), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
