"""Monitoring: signals with derived thresholds, burn-rate alerts, runbooks, incidents, post-mortems.

The thresholds of the health signals are derived in planner.analysis.monitoring.signals.
The burn-rate alerts, the time to page and the period's budget come from the one alert set
(planner.analysis.monitoring.alerts), which recovery and the post-mortem read too. A runbook is
written for every P1 and P2 failure mode.
"""

from __future__ import annotations

from planner.analysis.failures import Failures
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import Mechanisms
from planner.analysis.monitoring.alerts import Alerts
from planner.analysis.monitoring.runbooks import Runbooks
from planner.analysis.monitoring.signals import health_signals
from planner.model import (
    Figure,
    MonitoringSection,
    PostmortemSection,
    PostmortemTemplate,
    RecoveryScenario,
    RecoverySection,
    SeverityLevel,
)
from planner.slo.definition import SloDefinition
from planner.slo.detection import BREAKER_ALERT
from planner.slo.rules import ALERT_NAME
from planner.units import format_duration as human
from planner.units import format_percent


def plan(
    graph: Graph,
    failures: Failures,
    mech: Mechanisms,
    recovery: RecoverySection,
    alerts: Alerts,
) -> MonitoringSection:
    """Signals, burn-rate alerts, runbooks (P1/P2), severities and the post-mortem template."""
    main = alerts.slo
    sizes = [p.bulkhead for p in mech.edges if p.bulkhead is not None]
    sizes += [p.bulkhead for p in mech.inbound.values() if p.bulkhead is not None]
    # the critical dependencies: the entry points' hard ones, whose outage is the system's
    breakers = tuple(
        sorted(
            p.policy
            for p in mech.edges
            if p.has_breaker and p.edge.hard and p.edge.caller in graph.entry_shares
        )
    )
    signals = health_signals(graph, alerts, min(sizes) if sizes else None, breakers)
    scenarios: dict[str, list[RecoveryScenario]] = {}
    for scenario in recovery.scenarios:
        scenarios.setdefault(scenario.component, []).append(scenario)
    writer = Runbooks(mech, scenarios, main)
    runbooks = tuple(
        writer.runbook(mode) for mode in failures.modes if mode.priority in ("P1", "P2")
    )
    return MonitoringSection(
        signals,
        alerts.burn_rate_alerts,
        runbooks,
        _severities(main),
        _postmortem(graph, alerts, recovery),
    )


def _severities(slo: SloDefinition) -> tuple[SeverityLevel, ...]:
    page = f'{ALERT_NAME}{{slo="{slo.name}",severity="page"}}'
    ticket = f'{ALERT_NAME}{{slo="{slo.name}",severity="ticket"}}'
    return (
        SeverityLevel(
            "SEV1",
            "P1",
            "users failing now or the budget burning fast",
            "page",
            Figure(300.0, "s", "on-call convention", {}),
            (page,),
        ),
        SeverityLevel(
            "SEV2",
            "P2",
            "degraded: a fallback serving, a critical breaker open, latency critical",
            "page",
            Figure(1800.0, "s", "on-call convention", {}),
            (
                f'{BREAKER_ALERT}{{severity="page"}} (a critical dependency)',
                f'{ALERT_NAME}{{slo=~"latency-.+",severity="page"}}',
            ),
        ),
        SeverityLevel(
            "SEV3",
            "P3",
            "slow burn or a warning threshold",
            "ticket",
            Figure(86400.0, "s", "next business day", {}),
            (ticket, "warning thresholds"),
        ),
    )


def _postmortem(graph: Graph, alerts: Alerts, recovery: RecoverySection) -> PostmortemTemplate:
    slo = alerts.slo
    budget_s = alerts.budget.value
    per_minute = 60.0 / budget_s * 100.0 if budget_s > 0 else float("inf")
    rto_lines = tuple(
        f"{s.scenario}: RTO ≈ {human(s.rto.value)}"
        + (f" (target {human(s.rto_target.value)}, {s.status})" if s.rto_target else "")
        for s in recovery.scenarios[:5]
    )
    users = graph.spec.users
    return PostmortemTemplate(
        title=f"Post-mortem: {graph.spec.system} — <incident title>",
        sections=(
            PostmortemSection(
                "Summary",
                (
                    "What happened, in two sentences.",
                    "Severity (SEV1–3) and failure mode ID (FM-…).",
                ),
            ),
            PostmortemSection(
                "Impact",
                (
                    "Duration (start → detected → mitigated → resolved).",
                    "Users and requests affected.",
                    "Error budget consumed (minutes and % of the period).",
                ),
                (
                    f"Users: {users}" if users is not None else "Users: not in the spec",
                    f"Error budget: {human(budget_s)} per {alerts.period.short}"
                    f" at {format_percent(slo.objective)}%",
                    f"One minute of full outage uses {per_minute:.1f}% of the period's budget",
                ),
            ),
            PostmortemSection(
                "Timeline",
                ("UTC timestamps: trigger, first alert, acknowledged, mitigated, resolved.",),
                (f"Expected time to page at a full outage: {human(alerts.time_to_page.value)}",),
            ),
            PostmortemSection(
                "Root cause and trigger",
                ("The cause, the trigger, and why the mechanisms did or did not contain it.",),
            ),
            PostmortemSection(
                "Detection",
                ("Which alert fired first? Was it the planned one?", "Time to detect vs expected."),
            ),
            PostmortemSection(
                "Response and recovery",
                ("Steps taken, what worked, RTO/RPO achieved vs planned.",),
                rto_lines,
            ),
            PostmortemSection(
                "Error budget",
                (
                    "Budget remaining after the incident.",
                    "Release policy: freeze non-fix releases while the budget is exhausted.",
                ),
            ),
            PostmortemSection(
                "What went well / badly / lucky", ("Blameless: systems and processes, not people.",)
            ),
            PostmortemSection(
                "Action items",
                (
                    "Owner, priority (P1–P3), due date and ticket for each.",
                    "Update the spec, the plan and the chaos experiment for this failure mode.",
                ),
            ),
        ),
    )
