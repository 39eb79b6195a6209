"""`reliability rules --format prometheusrule|sloth|pyrra`, `--compat sloth` and runbook links.

Each output is checked against the field list of the tool that reads it (tests/schemas/), the
rule groups inside the PrometheusRule and the queries of the Sloth spec are run through the real
`promtool check rules`, and every alert's `runbook_url` names a file `reliability runbook` wrote.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli import main
from planner.slo.definition import SloDefinition, definitions_from_spec
from planner.slo.interop import k8s_name, pyrra_objectives
from planner.slo.selector import parse_selector
from planner.spec import load_spec
from tests.paths import ROOT_DIR
from tests.schema_check import load_schema, violations
from tests.servers import require_binary

ROOT = ROOT_DIR
EXAMPLES = sorted((ROOT / "examples").glob("*/system.yaml"))
SHOP = ROOT / "examples/web_shop/system.yaml"


def _rules(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rules", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _promtool_check(tmp_path: Path, name: str, groups: list[dict[str, Any]]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    return result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("compat", [None, "sloth"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_prometheusrule_matches_the_crd_and_its_groups_pass_promtool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], example: Path, compat: str | None
) -> None:
    argv = [str(example), "--format", "prometheusrule", "--namespace", "monitoring"]
    argv += ["--label", "release=kube-prometheus-stack", "--label", "team=sre"]
    code, out, _ = _rules(capsys, *argv, *(["--compat", compat] if compat else []))
    assert code == 0
    doc = yaml.safe_load(out)
    assert violations(doc, load_schema("prometheusrule.v1.yaml")) == []
    assert doc["metadata"]["namespace"] == "monitoring"
    assert doc["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "reliability-os",
        "release": "kube-prometheus-stack",
        "team": "sre",
    }
    groups = doc["spec"]["groups"]
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in _promtool_check(tmp_path, "groups.yml", groups)
    # the same groups as the plain rule file
    code, plain, _ = _rules(capsys, str(example), *(["--compat", compat] if compat else []))
    assert yaml.safe_load(plain)["groups"] == groups


def test_the_crd_field_list_catches_what_the_operator_would_prune() -> None:
    bad = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "Shop_SLOs"},
        "spec": {"groups": [{"name": "g", "rules": [{"record": "x", "exprs": "1"}]}]},
    }
    found = violations(bad, load_schema("prometheusrule.v1.yaml"))
    assert any("metadata.name" in v for v in found)
    assert any("missing required 'expr'" in v for v in found)
    assert any("unknown field 'exprs'" in v for v in found)


def test_compat_sloth_labels_every_rule_and_adds_the_metadata_series(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _rules(capsys, str(SHOP), "--compat", "sloth")
    assert code == 0
    rules = [r for g in yaml.safe_load(out)["groups"] for r in g["rules"]]
    for rule in rules:
        assert rule["labels"]["sloth_id"] == "web-shop-availability"
        assert rule["labels"]["sloth_service"] == "web-shop"
        assert rule["labels"]["sloth_slo"] == "availability"
    by_name = {r.get("record", r.get("alert")): r for r in rules}
    assert by_name["slo:time_period:days"]["expr"] == "vector(30)"
    info = by_name["sloth_slo_info"]["labels"]
    assert info["sloth_objective"] == "99.95"
    assert info["sloth_spec"] == "prometheus/v1"
    assert by_name["slo:sli_error:ratio_rate1h"]["labels"]["sloth_window"] == "1h"
    alerts = [r for r in rules if "alert" in r]
    assert sorted(a["labels"]["sloth_severity"] for a in alerts) == ["page", "ticket"]
    # without --compat none of it
    code, out, _ = _rules(capsys, str(SHOP))
    assert "sloth_" not in out


def test_every_alert_links_a_runbook_that_reliability_runbook_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    books = tmp_path / "runbooks"
    assert main(["runbook", str(SHOP), "-o", str(books)]) == 0
    capsys.readouterr()
    base = "https://runbooks.example.com/web-shop"
    code, out, _ = _rules(capsys, str(SHOP), "--runbook-base-url", base)
    assert code == 0
    alerts = [r for g in yaml.safe_load(out)["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) == 2
    plan_modes = {
        line.split()[1]
        for path in books.iterdir()
        for line in path.read_text().splitlines()[:1]  # "# FM-001 storefront: ..."
    }
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(base + "/fm-")
        runbook = books / url.removeprefix(base + "/")
        assert runbook.is_file()
        modes = alert["annotations"]["failure_modes"].split(", ")
        # the linked runbook is the first failure mode listed, and every listed mode has one
        assert runbook.read_text().startswith(f"# {modes[0]} ")
        assert set(modes) <= plan_modes
        # the runbook of each listed mode names this alert as what fires
        for path in books.iterdir():
            first = path.read_text().splitlines()[0].split()[1]
            if first in modes:
                assert 'ErrorBudgetBurn{service="web-shop",slo="availability"' in path.read_text()


def test_runbook_url_defaults_to_the_relative_runbook_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _rules(capsys, str(SHOP))
    for group in yaml.safe_load(out)["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["annotations"]["runbook_url"].startswith("runbooks/fm-001-")


def _sloth(capsys: pytest.CaptureFixture[str], example: Path, *argv: str) -> dict[str, Any]:
    code, out, _ = _rules(capsys, str(example), "--format", "sloth", *argv)
    assert code == 0
    doc: dict[str, Any] = yaml.safe_load(out)
    return doc


@pytest.mark.integration
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_sloth_spec_matches_sloth_and_its_queries_parse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    doc = _sloth(capsys, example, "--label", "owner=sre")
    assert violations(doc, load_schema("sloth.prometheus-v1.yaml")) == []
    assert doc["labels"] == {"service": doc["service"], "owner": "sre"}
    assert [slo["labels"] for slo in doc["slos"]] == [{"slo": slo["name"]} for slo in doc["slos"]]
    rules: list[dict[str, str]] = []
    for slo in doc["slos"]:
        sli = slo["sli"]
        queries = sli["events"] if "events" in sli else sli["raw"]
        assert len(set(queries.values())) == len(queries)  # Sloth: error and total must differ
        for i, query in enumerate(queries.values()):
            expr = query.replace("{{.window}}", "5m")
            rules.append({"record": f"q:{slo['name']}:{i}", "expr": expr})
    _promtool_check(tmp_path, "sloth-queries.yml", [{"name": "sloth", "rules": rules}])


def test_sloth_spec_keeps_identity_objective_and_links(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _sloth(capsys, SHOP)
    spec = load_spec(SHOP)
    assert doc["service"] == spec.system
    slos = definitions_from_spec(spec)
    assert [(s["name"], s["objective"]) for s in doc["slos"]] == [
        (s.name, s.objective) for s in slos
    ]
    alerting = doc["slos"][0]["alerting"]
    assert alerting["page_alert"]["labels"] == {"severity": "page"}
    assert alerting["annotations"]["runbook_url"].startswith("runbooks/fm-001-")
    events = doc["slos"][0]["sli"]["events"]
    assert events["total_query"] == (
        "sum(rate(" + slos[0].total.render() + "[{{.window}}]))"  # type: ignore[union-attr]
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_pyrra_objectives_match_pyrra(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    code, out, _ = _rules(
        capsys, str(example), "--format", "pyrra", "--namespace", "slos", "--label", "a=b"
    )
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    slos = definitions_from_spec(load_spec(example))
    assert len(docs) == len([s for s in slos if s.kind != "good"])
    for doc, slo in zip(docs, [s for s in slos if s.kind != "good"], strict=True):
        assert violations(doc, load_schema("pyrra.v1alpha1.yaml")) == []
        assert doc["metadata"]["namespace"] == "slos"
        assert doc["metadata"]["labels"] == {"pyrra.dev/service": slo.service, "a": "b"}
        assert float(doc["spec"]["target"]) == slo.objective
        assert doc["spec"]["window"] == "30d"
        indicator = doc["spec"]["indicator"]
        # Pyrra's webhook takes only plain vector selectors
        metrics = [m["metric"] for m in indicator.get("ratio", {}).values()]
        metrics += [indicator["bool_gauge"]["metric"]] if "bool_gauge" in indicator else []
        for metric in metrics:
            assert parse_selector(metric).render() == metric


def test_pyrra_skips_a_good_events_slo_and_says_so() -> None:
    good = SloDefinition(
        service="shop",
        name="availability",
        objective=99.9,
        period="28d",
        kind="good",
        total=parse_selector("http_requests_total"),
        good=parse_selector('http_requests_total{code="200"}'),
    )
    probe = SloDefinition(
        service="shop",
        name="uptime",
        objective=99.5,
        period="28d",
        kind="probe",
        probe=parse_selector('probe_success{job="shop"}'),
    )
    docs, warnings = pyrra_objectives([good, probe])
    assert [d["metadata"]["name"] for d in docs] == ["shop-uptime"]
    assert docs[0]["spec"]["window"] == "28d"
    assert docs[0]["spec"]["indicator"] == {"bool_gauge": {"metric": 'probe_success{job="shop"}'}}
    assert warnings == [
        "shop/availability: Pyrra's ratio indicator counts errors, and this SLO counts good"
        " events: not written (declare sli.errors to export it)"
    ]


def test_k8s_names() -> None:
    assert k8s_name('Shop "EU" \\ 1-slos') == "shop-eu-1-slos"
    assert k8s_name("a..b") == "a.b"
    assert k8s_name("---") == "slo"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "prometheusrule", "--namespace", "Monitoring"], "--namespace: 'Monitoring'"),
        (["--format", "prometheusrule", "--label", "team"], "--label: expected KEY=VALUE"),
        (["--format", "prometheusrule", "--label", "bad key=x"], "--label: 'bad key' is not"),
        (["--format", "pyrra", "--label", "a=b c"], "--label a: 'b c' is not"),
        (["--namespace", "monitoring"], "--namespace: only for --format prometheusrule or pyrra"),
        (["--label", "a=b"], "--label: only for --format prometheusrule, pyrra or sloth"),
        (["--format", "sloth", "--compat", "sloth"], "--compat: only for --format prometheus"),
        (["--runbook-base-url", "ftp://x/"], "--runbook-base-url: invalid URL 'ftp://x/'"),
        (["--runbook-base-url", "a b"], "--runbook-base-url: expected a URL or a path"),
        (["--format", "pyrra", "--runbook-base-url", "x/"], "Pyrra's ServiceLevelObjective sets"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    out = tmp_path / "out.yaml"
    code, _, err = _rules(capsys, str(SHOP), *argv, "-o", str(out))
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
