"""One fact, one figure: the same period-dependent fact reads the same in every section of a plan.

For each example and each kind of SLO period (30 days, 28 days, a calendar month), the time to
page is the same in the recovery scenarios, the failover steps, the alert table and the
post-mortem; the error budget is the same in the SLA section, the downtime arithmetic and the
post-mortem; the errors signal's critical threshold is the alert table's page burn rate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from planner.analysis import build_plan
from planner.model import Plan
from planner.render import render_plan
from planner.render.runbooks import postmortem_markdown
from planner.spec import parse_spec
from planner.units import format_duration
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLES = sorted(ROOT.glob("examples/*/system.yaml"))
IDS = [p.parent.name for p in EXAMPLES]
PERIODS = ["30d", "28d", "calendar_month"]


def _plan(path: Path, period: str) -> Plan:
    data = yaml.safe_load(path.read_text())
    data["slo_period"] = period
    return build_plan(parse_spec(data, str(path)))


def _flat(text: str) -> str:
    return re.sub(r"[\s│]+", " ", text)


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_time_to_page_reads_the_same_in_every_section(path: Path, period: str) -> None:
    plan = _plan(path, period)
    pages = [a for a in plan.monitoring.burn_rate_alerts if a.severity == "page"]
    fastest = min(a.time_to_fire.value for a in pages)
    page = max(30.0, fastest)  # no page before one rule evaluation (30 s)
    written = format_duration(page)

    detections = [
        s.rto.inputs["detect"]
        for s in plan.recovery.scenarios
        if s.rto.inputs.get("how", "").startswith("page alert")  # type: ignore[union-attr]
    ]
    assert detections, "no scenario detected by the page alert"
    assert all(d == pytest.approx(page) for d in detections), (detections, page)

    step = next(s for s in plan.recovery.failover if s.step == "Primary")
    assert step.detail.endswith(f"page within {written}"), step.detail

    postmortem = postmortem_markdown(plan)
    assert f"Expected time to page at a full outage: {written}\n" in postmortem

    text = _flat(render_plan(plan, "text"))
    if fastest >= 30.0:  # the alert table's "Fires After" of the fastest page is the page
        assert f"| page | 1h | 5m | {pages[0].burn_rate.value:g}× | 2% | {written} |" in text


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_error_budget_reads_the_same_in_the_sla_section_and_the_postmortem(
    path: Path, period: str
) -> None:
    plan = _plan(path, period)
    days = {"30d": 30.0, "28d": 28.0, "calendar_month": 365.25 / 12}[period]
    objective = plan.header.target.value
    budget = days * 86400 * (100 - objective) / 100
    assert plan.header.period_seconds.value == pytest.approx(days * 86400)

    text = _flat(render_plan(plan, "text"))
    minutes = f"{budget / 60:.2f}".rstrip("0").rstrip(".")
    assert f"Error Budget: {minutes} minutes per " in text

    per = {"30d": "30d", "28d": "28d", "calendar_month": "calendar month"}[period]
    postmortem = postmortem_markdown(plan)
    assert f"Error budget: {format_duration(budget)} per {per} at " in postmortem
    share = 60.0 / budget * 100
    assert f"One minute of full outage uses {share:.1f}% of the period's budget" in postmortem


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_errors_signal_pages_at_the_alert_tables_burn_rate(path: Path, period: str) -> None:
    plan = _plan(path, period)
    page = max(a.burn_rate.value for a in plan.monitoring.burn_rate_alerts)
    errors = next(s for s in plan.monitoring.signals if s.signal == "Errors")
    budget_pct = 100.0 - plan.header.target.value
    assert errors.critical.value == pytest.approx(page * budget_pct)
    # 14.4 over 30 days; the rules' rolling 30 days for a calendar month; rescaled for 28 days
    expected = {"30d": 14.4, "28d": 13.44, "calendar_month": 14.4}[period]
    assert page == pytest.approx(expected)
