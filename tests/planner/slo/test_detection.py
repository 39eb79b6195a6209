"""Every row of the plan's MONITORING & ALERTS table names its rule, and `reliability rules`
writes it (the firing times are in tests/promtool/detection_*.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from exporters.prometheus import DURATION_BUCKETS
from planner import cli
from planner.analysis import build_plan
from planner.model import Runbook, Signal
from planner.render.runbooks import runbook_names
from planner.slo.detection import HTTP_DURATION_BUCKETS, _Runbooks, latency_bucket
from planner.slo.rules import ALERT_NAME
from planner.spec import load_spec
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
SPECS = [*sorted(ROOT.glob("examples/*/system.yaml")), ROOT / "tests/promtool/detection_spec.yaml"]


def _rules(spec: Path, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "rules.yml"
    assert cli.main(["rules", str(spec), "-o", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _implements(row: Signal, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts of `rules` that implement `row`."""
    alerts = [r for r in rules if r.get("alert") == row.rule]
    if row.rule == ALERT_NAME:
        return [r for r in alerts if r["labels"]["slo"] == row.slo]
    target = ", ".join(row.scope) or "bulkheads"
    return [r for r in alerts if r["labels"]["target"] == target]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_every_monitoring_row_has_its_rule(spec: Path, tmp_path: Path) -> None:
    rules = _rules(spec, tmp_path)
    signals = build_plan(load_spec(spec)).monitoring.signals
    for row in signals:
        where = f"{spec.parent.name}: {row.signal}/{row.metric}"
        assert row.rule, f"{where} names no rule"
        alerts = _implements(row, rules)
        assert alerts, f"{where}: no {row.rule} alert in the rule file"
        if row.rule == ALERT_NAME:
            assert sorted(a["labels"]["severity"] for a in alerts) == ["page", "ticket"]
            continue
        # a threshold alert on the row's own PromQL at each of its two thresholds
        exprs = sorted(a["expr"] for a in alerts)
        expected = sorted(
            f"{row.promql} {row.comparison} {round(f.value, 6):g}"
            for f in (row.warning, row.critical)
        )
        assert exprs == expected, where
        assert all(a["annotations"]["runbook_url"].startswith("runbooks/") for a in alerts)


def test_the_web_shop_table_has_a_row_per_critical_breaker_and_latency_slo(
    tmp_path: Path,
) -> None:
    spec = ROOT / "examples/web_shop/system.yaml"
    signals = build_plan(load_spec(spec)).monitoring.signals
    breakers = [s.scope for s in signals if s.rule == "CircuitBreakerOpen"]
    # the entry points' hard dependencies with a breaker (soft redis is not critical)
    assert breakers == [
        ("checkout.order-queue",),
        ("checkout.postgres",),
        ("payment-api",),
        ("storefront.postgres",),
    ]
    rules = _rules(spec, tmp_path)
    latency = {
        r["labels"]["slo"]: r["expr"]
        for r in rules
        if r.get("record") == "slo:sli_error:ratio_rate5m" and "latency" in r["labels"]["slo"]
    }
    # storefront's 2 s budget is between buckets: the SLO counts requests within 1 s
    assert 'le="1.0"' in latency["latency-storefront"]
    assert 'le="5.0"' in latency["latency-checkout"]  # checkout's 5 s budget is a bucket
    (breaker,) = [
        r
        for r in rules
        if r.get("alert") == "CircuitBreakerOpen"
        and r["labels"]["target"] == "payment-api"
        and r["labels"]["severity"] == "page"
    ]
    assert breaker["annotations"]["runbook_url"] == "runbooks/fm-006-payment-api-outage-5xx.md"
    assert breaker["for"] == "1m"


def test_the_planner_knows_the_exporters_histogram_buckets() -> None:
    assert HTTP_DURATION_BUCKETS == DURATION_BUCKETS
    assert latency_bucket(0.5) == 0.5
    assert latency_bucket(2.0) == 1.0
    assert latency_bucket(30.0) == 10.0
    assert latency_bucket(0.001) == 0.005


def test_anomaly_bands_have_floors_and_the_guards_match_per_entry(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    spec = ROOT / "tests/promtool/detection_spec.yaml"
    assert cli.main(["rules", str(spec), "--anomaly", "-o", str(out)]) == 0
    rules = {
        r.get("record") or r.get("alert"): r
        for g in yaml.safe_load(out.read_text())["groups"]
        if g["name"].startswith("anomaly-")
        for r in g["rules"]
    }
    sel = '{service="shop",entry="api"}'
    errors_band = rules["entry:http_errors:ratio_rate5m:band"]["expr"]
    # the error ratio's floor is the SLO's budget (99.9 %: 0.001), traffic's 10 % of prediction
    assert errors_band.endswith(f"0 * entry:http_errors:ratio_rate5m:prediction{sel} + 0.001")
    assert rules["entry:http_requests:rate5m:band"]["expr"].endswith(
        f"0.1 * entry:http_requests:rate5m:prediction{sel}"
    )
    assert rules["ErrorRatioAnomaly"]["expr"].endswith(
        f"and on (service, entry)\nentry:http_requests:rate5m{sel} >= 1"
    )
    assert "<" not in rules["LatencyAnomaly"]["expr"]  # only slower is an anomaly
    prediction = rules["entry:http_latency_p99:seconds5m:prediction"]["expr"]
    assert "offset 10050m" in prediction and "offset 30210m" in prediction  # 1 and 3 weeks − 30m


def _book(i: int, component: str, slug: str) -> Runbook:
    return Runbook(
        f"FM-{i:03d}", slug, f"FM-{i:03d}: t", component, "P1", "SEV1", (), "alert", (), (), (), ()
    )


@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["x", "y", "x!"])), max_size=12),
    st.lists(st.sampled_from("abcde"), max_size=4),
)
def test_runbook_index_links_what_a_search_of_the_list_finds(
    books: list[tuple[str, str]], components: list[str]
) -> None:
    """The index the alerts' links are read from (built once, not a search per alert) gives
    what searching the runbooks in priority order gives: the first runbook of any of the
    components, and all their IDs in order; a slug that sanitises like another's gets its ID."""
    runbooks = [_book(i, c, slug) for i, (c, slug) in enumerate(books)]
    names = runbook_names(tuple(runbooks))
    assert len(set(names)) == len(names)
    index = _Runbooks(runbooks, "base/")
    mine = [(r, n) for r, n in zip(runbooks, names, strict=True) if r.component in components]
    assert index.link(components, "none") == ("base/" + mine[0][1] if mine else "none")
    assert index.ids(components) == tuple(r.failure_mode_id for r, _ in mine)
