"""Monitoring: burn-rate settings per period, thresholds from the spec, runbooks, severities."""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import build_plan
from planner.model import MonitoringSection, Plan
from planner.render.runbooks import runbook_markdown
from planner.slo.rules import ALERT_NAME
from planner.spec import load_spec, parse_spec
from planner.units import format_percent

COMPONENTS: list[dict[str, Any]] = [
    {
        "name": "gw",
        "kind": "service",
        "entry_point": True,
        "replicas": 4,
        "rps": 50,
        "latency": {"p50": "40ms", "p99": "400ms"},
        "latency_budget": "3s",
        "dependencies": [{"target": "llm", "fallback": "answer from cache"}, {"target": "db"}],
    },
    {"name": "llm", "kind": "llm_api", "availability": 99.0, "quota": {"rps": 60}},
    {"name": "db", "kind": "database", "replicas": 2},
]


def build(period: str = "30d", tier: str = "standard") -> Plan:
    doc = {
        "version": 1,
        "system": "gpt-shop",
        "tier": tier,
        "slo_period": period,
        "components": COMPONENTS,
    }
    return build_plan(parse_spec(doc))


def monitoring(period: str = "30d", tier: str = "standard") -> MonitoringSection:
    return build(period, tier).monitoring


@pytest.mark.parametrize(
    ("period", "factors"),
    [
        ("30d", [14.4, 6.0, 3.0, 1.0]),
        ("28d", [13.44, 5.6, 2.8, 28 / 30]),  # the 2/5/10/10 % shares over 28 days
    ],
)
def test_burn_rates_per_period(period: str, factors: list[float]) -> None:
    alerts = monitoring(period).burn_rate_alerts
    assert [a.burn_rate.value for a in alerts] == pytest.approx(factors)
    assert [a.severity for a in alerts] == ["page", "page", "ticket", "ticket"]
    assert [a.long_window.value for a in alerts] == [3600, 21600, 86400, 259200]
    assert [a.short_window.value for a in alerts] == [300, 1800, 7200, 21600]
    assert [a.budget_consumed.value for a in alerts] == pytest.approx([2, 5, 10, 10])


def test_thresholds_and_time_to_fire_at_999() -> None:
    fast = monitoring().burn_rate_alerts[0]
    assert fast.error_ratio.value == pytest.approx(0.0144)  # 14.4 × 0.1 %
    assert fast.time_to_fire.value == pytest.approx(51.84)  # SRE Workbook: 51.8 s


def test_an_alert_that_can_never_fire_says_so() -> None:
    doc = {"version": 1, "system": "s", "slo": 90.0, "components": COMPONENTS}
    fast = build_plan(parse_spec(doc)).monitoring.burn_rate_alerts[0]
    assert fast.error_ratio.value > 1 and fast.time_to_fire.value == float("inf")


def test_signal_thresholds_derive_from_tier_and_spec() -> None:
    signals = {s.signal + "/" + s.metric: s for s in monitoring().signals}
    availability = signals["Availability/Uptime %"]
    assert (availability.warning.value, availability.critical.value) == pytest.approx((99.95, 99.9))
    errors = signals["Errors/Rate (5m)"]
    assert (errors.warning.value, errors.critical.value) == pytest.approx((0.1, 1.44))
    latency = signals["Latency/p99 (gw)"]
    assert (latency.warning.value, latency.critical.value) == pytest.approx((0.6, 3.0))
    cpu = signals["Saturation/CPU (gw)"]
    assert cpu.critical.value == pytest.approx(75.0)  # 4 replicas: (4 − 1)/4
    assert cpu.warning.value == pytest.approx(60.0)
    assert 'job="gw"' in latency.promql


def test_every_threshold_carries_the_inputs_of_its_formula() -> None:
    plan = build()
    signals = {s.signal + "/" + s.metric: s for s in plan.monitoring.signals}
    latency = signals["Latency/p99 (gw)"].critical
    assert latency.formula == "latency_budget"
    assert latency.inputs == {"latency_budget": 3.0}  # gw's declared budget, not its p99
    # critical: the smallest bulkhead of the plan has at most one free slot left
    sizes = [
        policy["bulkhead"]["max_concurrent"]
        for policy in plan.mechanism_table.values()
        if "bulkhead" in policy
    ]
    smallest = min(sizes)
    assert smallest == 12  # db's bulkhead in the mechanism table
    bulkheads = signals["Saturation/Bulkheads"].critical
    assert bulkheads.value == pytest.approx((smallest - 1) / smallest * 100.0)
    assert bulkheads.inputs == {"smallest_bulkhead": smallest}
    for signal in plan.monitoring.signals:
        for figure in (signal.warning, signal.critical):
            assert figure.inputs, f"{signal.signal}/{signal.metric}: {figure.formula} has no inputs"


def test_a_runbook_for_every_p1_and_p2_mode() -> None:
    plan = build(tier="critical")
    wanted = [m.id for m in plan.failure_modes if m.priority in ("P1", "P2")]
    books = plan.monitoring.runbooks
    assert [b.failure_mode_id for b in books] == wanted
    assert wanted, "the example must have P1/P2 modes"
    for book in books:
        assert book.symptoms and book.diagnosis and book.mitigation
        assert book.recovery and book.verification
        assert book.severity == {"P1": "SEV1", "P2": "SEV2"}[book.priority]
    llm = next(b for b in books if b.component == "llm")
    assert any('policy="llm"' in q.promql for q in llm.diagnosis)
    assert any("fallback → answer from cache" in step for step in llm.mitigation)


def test_severities_and_postmortem() -> None:
    section = monitoring()
    assert [(s.severity, s.priority, s.response) for s in section.severities] == [
        ("SEV1", "P1", "page"),
        ("SEV2", "P2", "page"),
        ("SEV3", "P3", "ticket"),
    ]
    headings = [s.heading for s in section.postmortem.sections]
    assert {"Impact", "Timeline", "Error budget", "Action items"} <= set(headings)
    impact = next(s for s in section.postmortem.sections if s.heading == "Impact")
    assert "Error budget: 43m 12s per 30d at 99.9%" in impact.prefilled


def test_runbook_recovery_follows_the_failure_category() -> None:
    doc = {
        "version": 1,
        "system": "s",
        "tier": "critical",
        "components": [
            {
                "name": "web",
                "kind": "service",
                "entry_point": True,
                "replicas": 2,
                "dependencies": [{"target": "db"}],
            },
            {
                "name": "db",
                "kind": "database",
                "data": {"backup_interval": "1h"},
                "failure_modes": [
                    {"name": "disk-full", "failure": "Disk full", "impact": "H", "probability": "H"}
                ],
            },
        ],
    }
    plan = build_plan(parse_spec(doc))
    disk = next(b for b in plan.monitoring.runbooks if b.slug.endswith("db-disk-full"))
    assert len(disk.recovery) == 1 and disk.recovery[0].startswith("db data loss")


def test_a_silent_mode_runbook_agrees_with_the_plan() -> None:
    # FM "degraded answers" on the AI gateway: the model answers 200 with wrong content, so no
    # breaker, page or fallback sees it; the runbook must say so, as the failure-mode row does
    plan = build_plan(load_spec("examples/ai_gateway/system.yaml"))
    mode = next(
        m
        for m in plan.failure_modes
        if (m.component, m.name) == ("llm-primary", "degraded-answers")
    )
    assert mode.priority == "P1" and mode.silent
    book = next(b for b in plan.monitoring.runbooks if b.failure_mode_id == mode.id)
    text = runbook_markdown(book, plan.header.system)
    users = format_percent(mode.users_impacted.value, 2)
    assert mode.users_impacted_with.value == mode.users_impacted.value == 100.0
    assert f"up to {users}% of users get wrong answers, with or without the mechanisms" in text
    assert "0% with them" not in text
    assert ALERT_NAME not in book.alert and "answer validation" in book.alert
    assert "slo:sli_error" not in text  # the error SLI cannot see answers that succeed
    assert "breakers open within" not in text and "see runbook" not in text
    assert any("force llm-primary open" in step for step in book.recovery)
    assert any("failure_if_result" in step for step in book.recovery)
    assert f"planned containment: {mode.containment}" in book.mitigation
    assert "llm-secondary" in text  # the declared fallback is what to switch to
