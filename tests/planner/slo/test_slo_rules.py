"""Generated SLO rules: promtool accepts them and its unit tests (tests/promtool/) pass on them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from planner import cli
from planner.slo.definition import (
    SloDefinition,
    burn_windows,
    definitions_from_spec,
    prom_duration,
)
from planner.slo.rules import (
    ALERT_NAME,
    AlertLinks,
    Compat,
    RuleFile,
    alertmanager_inhibition,
    build_rules,
)
from planner.slo.selector import parse_selector
from planner.spec import load_spec, parse_spec
from tests.paths import ROOT_DIR, TESTS_DIR
from tests.servers import require_binary

ROOT = ROOT_DIR
CASES = TESTS_DIR / "promtool"
EXAMPLES = sorted((ROOT / "examples").glob("*/system.yaml"))

#: The SLOs the promtool cases in tests/promtool/ are written against, one rule file each.
CASE_SLOS = {
    "rules-errors.yml": SloDefinition(
        service="shop",
        name="availability",
        objective=99.9,
        period="30d",
        kind="errors",
        total=parse_selector('http_requests_total{job="shop"}'),
        errors=parse_selector('http_requests_total{job="shop",code=~"5.."}'),
    ),
    "rules-good.yml": SloDefinition(
        service="shop",
        name="availability",
        objective=99.9,
        period="30d",
        kind="good",
        total=parse_selector('http_requests_total{job="shop"}'),
        good=parse_selector('http_requests_total{job="shop",code=~"[23].."}'),
    ),
    "rules-deps.yml": SloDefinition(
        service="shop",
        name="availability",
        objective=99.9,
        period="30d",
        kind="errors",
        total=parse_selector('http_requests_total{job="shop"}'),
        errors=parse_selector('http_requests_total{job="shop",code=~"5.."}'),
        dependencies=("payments", "db"),
    ),
    "rules-sloth.yml": SloDefinition(
        service="shop",
        name="availability",
        objective=99.9,
        period="30d",
        kind="errors",
        total=parse_selector('http_requests_total{job="shop"}'),
        errors=parse_selector('http_requests_total{job="shop",code=~"5.."}'),
    ),
    "rules-probe.yml": SloDefinition(
        service="shop",
        name="uptime",
        objective=99.9,
        period="30d",
        kind="probe",
        probe=parse_selector('probe_success{job="shop"}'),
    ),
}


#: What the cases' alerts link (the annotations they expect).
CASE_LINKS = AlertLinks(
    "https://runbooks.example.com/shop/fm-001-db-primary-crash.md", ("FM-001", "FM-003")
)


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The promtool cases next to freshly generated rule files."""
    directory = tmp_path_factory.mktemp("promtool")
    for name, slo in CASE_SLOS.items():
        links = {(slo.service, slo.name): CASE_LINKS}
        compat: Compat = "sloth" if name == "rules-sloth.yml" else None
        rule_file = build_rules([slo], links=links, compat=compat)
        (directory / name).write_text(rule_file.to_yaml())
    # the detection cases: every row of a small plan's monitoring table (detection_spec.yaml)
    detection = directory / "rules-detection.yml"
    args = ["rules", str(CASES / "detection_spec.yaml"), "-o", str(detection)]
    assert cli.main([*args, "--runbook-base-url", "https://runbooks.example.com/shop/"]) == 0
    anomaly = directory / "rules-anomaly.yml"
    args = ["rules", str(CASES / "detection_spec.yaml"), "--anomaly", "-o", str(anomaly)]
    assert cli.main(args) == 0
    # only the anomaly groups: promtool then evaluates 2 weeks in seconds, not minutes
    doc = yaml.safe_load(anomaly.read_text())
    doc["groups"] = [g for g in doc["groups"] if g["name"].startswith("anomaly-")]
    anomaly.write_text(yaml.safe_dump(doc, sort_keys=False))
    for case in CASES.glob("*.yml"):
        shutil.copy(case, directory / case.name)
    return directory


@pytest.mark.integration
# an anomaly case evaluates 8 days of 5-minute steps with week-long ranges: up to a minute of
# CPU per file, more on a loaded machine; the bound is promtool's own (_promtool's timeout)
@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.yml")))
def test_promtool_unit_tests_pass(case_dir: Path, case: str) -> None:
    result = _promtool("test", "rules", case, cwd=case_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def _spec_variant(path: Path, **changes: object) -> list[SloDefinition]:
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    return list(definitions_from_spec(parse_spec(data, str(path))))


@pytest.mark.integration
def test_every_generated_file_passes_promtool_check(tmp_path: Path) -> None:
    variants: list[tuple[str, list[SloDefinition]]] = []
    for path in EXAMPLES:
        variants.append((path.parent.name, list(definitions_from_spec(load_spec(path)))))
        for period in ("28d", "calendar_month"):
            name = f"{path.parent.name}-{period}"
            variants.append((name, _spec_variant(path, slo_period=period)))
    first = EXAMPLES[0]
    for objective in (90.0, 99.0, 99.999):
        variants.append((f"slo-{objective}", _spec_variant(first, slo=objective, tier=None)))
    # a system name with quotes, a backslash and spaces lands in label values and selectors
    variants.append(("odd-name", _spec_variant(EXAMPLES[0], system='Shop "EU" \\ 1')))
    # no `slos` at all: the default SLI of the entry points
    data = yaml.safe_load(first.read_text())
    data.pop("slos", None)
    variants.append(("default-sli", list(definitions_from_spec(parse_spec(data)))))
    # several systems in one file (one rule file for a whole Prometheus)
    every = [slo for path in EXAMPLES for slo in definitions_from_spec(load_spec(path))]
    variants.append(("all-in-one", every))
    for name, slos in variants:
        rule_file = build_rules(slos)
        path = tmp_path / f"{name}.yml"
        path.write_text(rule_file.to_yaml())
        result = _promtool("check", "rules", str(path), cwd=tmp_path)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert f"SUCCESS: {rule_file.rule_count} rules found" in result.stdout


def _rules(slo: SloDefinition) -> dict[str, dict[str, object]]:
    doc = yaml.safe_load(build_rules([slo]).to_yaml())
    out: dict[str, dict[str, object]] = {}
    for group in doc["groups"]:
        for rule in group["rules"]:
            key = rule.get("record") or f"{rule['alert']}:{rule['labels']['severity']}"
            out[key] = rule
    return out


def test_rule_names_and_labels_follow_the_issue() -> None:
    rules = _rules(CASE_SLOS["rules-errors.yml"])
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    for w in windows:
        assert f"slo:sli_error:ratio_rate{w}" in rules
    for name in (
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:current_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
    ):
        assert rules[name]["labels"] == {"service": "shop", "slo": "availability"}
    for severity in ("page", "ticket"):
        assert rules[f"{ALERT_NAME}:{severity}"]["labels"] == {
            "service": "shop",
            "slo": "availability",
            "severity": severity,
        }
    # The period ratio is event-weighted from the raw counters, not an average of 5m ratios.
    period = str(rules["slo:sli_error:ratio_rate30d"]["expr"])
    assert "increase(http_requests_total{" in period and "[30d]" in period
    assert "ratio_rate5m" not in period and "avg_over_time" not in period


def test_page_and_ticket_conditions_use_the_workbook_windows() -> None:
    rules = _rules(CASE_SLOS["rules-errors.yml"])
    page = str(rules[f"{ALERT_NAME}:page"]["expr"])
    ticket = str(rules[f"{ALERT_NAME}:ticket"]["expr"])
    assert "ratio_rate5m" in page and "ratio_rate1h" in page and "(14.4 * 0.001)" in page
    assert "ratio_rate30m" in page and "ratio_rate6h" in page and "(6 * 0.001)" in page
    assert "ratio_rate2h" in ticket and "ratio_rate1d" in ticket and "(3 * 0.001)" in ticket
    assert "ratio_rate3d" in ticket and "(1 * 0.001)" in ticket
    assert "slo:sli_errors:increase1h" in page and ">= 3" in page


@pytest.mark.parametrize(
    ("days", "factors"),
    [(30, (14.4, 6.0, 3.0, 1.0)), (28, (13.44, 5.6, 2.8, 0.9333333333))],
)
def test_burn_factors_rescale_with_the_period(days: int, factors: tuple[float, ...]) -> None:
    assert tuple(w.factor for w in burn_windows(days * 86400)) == pytest.approx(factors)


@given(st.integers(min_value=1, max_value=400))
def test_each_condition_spends_its_budget_share(days: int) -> None:
    period = days * 86400
    for w in burn_windows(period):
        # burn rate × long window / period = the share of the budget gone when it fires
        assert w.factor * w.long / period == pytest.approx(w.budget_share, rel=1e-8)


@given(st.integers(min_value=1, max_value=10**7))
def test_prom_duration_is_exact(seconds: int) -> None:
    text = prom_duration(seconds)
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[text[-1]]
    assert int(text[:-1]) * unit == seconds


def test_objectives_alerting_cannot_protect_are_flagged() -> None:
    low = build_rules([_with_objective(90.0)]).warnings
    assert any("page condition 5m/1h" in w and "can never fire" in w for w in low)
    ultra = build_rules([_with_objective(99.999)]).warnings
    assert any("25.9 s of full outage" in w for w in ultra)
    assert build_rules([_with_objective(99.9)]).warnings == ()


def _with_objective(objective: float, name: str = "availability") -> SloDefinition:
    base = CASE_SLOS["rules-errors.yml"]
    return SloDefinition(
        service=base.service,
        name=name,
        objective=objective,
        period=base.period,
        kind=base.kind,
        total=base.total,
        errors=base.errors,
    )


def test_thresholds_carry_no_float_artefacts() -> None:
    text = build_rules([_with_objective(99.95), _with_objective(99.999, "ultra")]).to_yaml()
    assert "(14.4 * 0.0005)" in text and "(14.4 * 0.00001)" in text
    assert "vector(0.9995)" in text and "vector(0.00001)" in text
    assert "000000000" not in text and "e-" not in text


def test_min_errors_zero_drops_the_guard() -> None:
    text = build_rules([CASE_SLOS["rules-errors.yml"]], min_errors=0).to_yaml()
    assert "slo:sli_errors:increase1h{" not in text.split("alert:", 1)[1]
    with pytest.raises(ValueError, match="min_errors"):
        build_rules([CASE_SLOS["rules-errors.yml"]], min_errors=-1)


def test_the_same_slo_twice_is_refused() -> None:
    slo = CASE_SLOS["rules-errors.yml"]
    with pytest.raises(ValueError, match="shop/availability"):
        build_rules([slo, _with_objective(99.0)])


def test_alertmanager_config_routes_pages_and_inhibits_tickets_and_derived_alerts() -> None:
    doc = yaml.safe_load(alertmanager_inhibition())
    ticket, derived, warning = doc["inhibit_rules"]
    page = [f'alertname="{ALERT_NAME}"', 'severity="page"']
    assert ticket == {
        "source_matchers": page,
        "target_matchers": [f'alertname="{ALERT_NAME}"', 'severity="ticket"'],
        "equal": ["service", "slo"],
    }
    assert derived == {
        "source_matchers": page,
        "target_matchers": ['derived="true"'],
        "equal": ["service", "slo"],
    }
    assert warning["target_matchers"] == ['derived="true"', 'severity="warning"']
    assert warning["equal"] == ["alertname", "service", "target"]
    assert doc["route"]["receiver"] == "ticket"
    assert doc["route"]["routes"] == [{"matchers": ['severity="page"'], "receiver": "page"}]
    assert [r["name"] for r in doc["receivers"]] == ["page", "ticket"]


def test_default_sli_selects_the_entry_points_5xx() -> None:
    data = yaml.safe_load((ROOT / "examples/web_shop/system.yaml").read_text())
    data.pop("slos", None)
    (slo,) = definitions_from_spec(parse_spec(data))
    assert slo.objective == 99.95 and slo.kind == "errors"
    assert slo.total is not None and slo.errors is not None
    assert slo.total.render() == (
        'http_server_request_duration_seconds_count{job=~"checkout|storefront"}'
    )
    assert slo.errors.render().endswith('http_response_status_code=~"5.."}')


def test_slos_know_the_entry_points_hard_dependencies() -> None:
    shop = definitions_from_spec(load_spec(ROOT / "examples/web_shop/system.yaml"))
    assert shop[0].dependencies == ("postgres", "payment-api", "order-queue")
    gateway = definitions_from_spec(load_spec(ROOT / "examples/ai_gateway/system.yaml"))
    assert gateway[0].dependencies == ("llm-primary",)  # the cache and vector DB are soft
    tool = definitions_from_spec(load_spec(ROOT / "examples/internal_tool/system.yaml"))
    text = build_rules(tool).to_yaml()
    assert tool[0].dependencies == () and "dependency_error" not in text


@pytest.mark.parametrize("period", ["30d", "28d", "calendar_month"])
def test_rules_and_the_plans_monitoring_section_agree(period: str) -> None:
    from planner.analysis import build_plan

    for path in EXAMPLES:
        data = yaml.safe_load(path.read_text())
        data["slo_period"] = period
        spec = parse_spec(data, str(path))
        planned = build_plan(spec).monitoring.burn_rate_alerts
        slo = definitions_from_spec(spec)[0]
        generated = burn_windows(slo.rule_period_seconds)
        assert [(a.severity, a.short_window.value, a.long_window.value) for a in planned] == [
            (w.severity, w.short, w.long) for w in generated
        ]
        for alert, window in zip(planned, generated, strict=True):
            assert alert.burn_rate.value == pytest.approx(window.factor)
            assert alert.error_ratio.value == pytest.approx(window.error_ratio(slo.budget))


@pytest.mark.parametrize("text", ["shop\u2028east", "next\x85line", "emoji 😀 end", "tab\there"])
def test_rule_file_text_reads_back_as_written(text: str) -> None:
    """A line or paragraph separator, NEL or a character beyond the BMP in a label or an
    annotation reads back as it was (PyYAML's pure-Python emitter folded U+2028 and NEL inside
    single quotes into spaces)."""
    group = {"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "labels": {"x": text}}]}
    rules = RuleFile(groups=(group,), warnings=())
    assert yaml.safe_load(rules.to_yaml()) == {"groups": [group]}
