"""Monitoring: signals with derived thresholds, burn-rate alerts, runbooks, incidents, post-mortems.

Thresholds:
- availability over the period: warning when half the error budget is gone, critical when all is;
- latency p99 per entry point: warning above its p99 × 1.5 (the headroom the callers' timeouts
  use), critical above its latency budget (callers give up), or 3 × p99 without a budget;
- errors over 5 minutes: warning above a burn rate of 1 (the budget lasts exactly the period),
  critical above the fastest page burn rate (14.4 for 30 days, rescaled for other periods);
- saturation (CPU): with n replicas, losing one moves its load to n − 1, so each must stay under
  (n − 1)/n to absorb it (critical) with a 20 % margin before that (warning); one replica: 80 %;
- bulkheads: warning above 1/1.5 of capacity (the p99 load Little's law sized them for),
  critical when the smallest bulkhead (n slots) has one free slot left: (n − 1)/n.
The burn-rate alerts, the time to page and the period's budget come from the one alert set
(planner.analysis.monitoring.alerts), which recovery and the post-mortem read too. A runbook is
written for every P1 and P2 failure mode.
"""

from __future__ import annotations

from planner.analysis.failures import Failures
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import (
    BULKHEAD_HEADROOM,
    TIMEOUT_HEADROOM,
    Mechanisms,
    latency,
)
from planner.analysis.monitoring.alerts import Alerts
from planner.analysis.monitoring.runbooks import runbook
from planner.model import (
    Figure,
    MonitoringSection,
    PostmortemSection,
    PostmortemTemplate,
    RecoveryScenario,
    RecoverySection,
    SeverityLevel,
    Signal,
)
from planner.slo.definition import SloDefinition
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
    signals = _signals(graph, alerts, min(sizes) if sizes else None)
    scenarios: dict[str, list[RecoveryScenario]] = {}
    for scenario in recovery.scenarios:
        scenarios.setdefault(scenario.component, []).append(scenario)
    runbooks = tuple(
        runbook(graph, mode, mech, scenarios, main)
        for mode in failures.modes
        if mode.priority in ("P1", "P2")
    )
    return MonitoringSection(
        signals,
        alerts.burn_rate_alerts,
        runbooks,
        _severities(main),
        _postmortem(graph, alerts, recovery),
    )


def _sli(slo: SloDefinition, window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}{slo.selector_labels}"


def _signals(graph: Graph, alerts: Alerts, smallest_bulkhead: int | None) -> tuple[Signal, ...]:
    slo = alerts.slo
    target = slo.objective
    budget_pct = 100.0 - target
    period = alerts.period.rule_window
    page = alerts.page_burn_rate
    signals = [
        Signal(
            "Availability",
            "Uptime %",
            f"100 * (1 - {_sli(slo, period)})",
            "<",
            Figure(100.0 - budget_pct / 2, "%", "100 - budget / 2", {"objective": target}),
            Figure(target, "%", "objective", {"objective": target}),
            "Page",
            f"half the {period} error budget gone warns; all of it is an SLO breach",
        ),
        Signal(
            "Errors",
            "Rate (5m)",
            f"100 * {_sli(slo, '5m')}",
            ">",
            Figure(budget_pct, "%", "burn rate 1 × (100 - objective)", {"objective": target}),
            Figure(
                page * budget_pct,
                "%",
                "page burn rate × (100 - objective)",
                {"burn_rate": page, "objective": target},
            ),
            "Page",
            f"above {format_percent(budget_pct)}% the budget runs out before the period ends;"
            f" above {page:g}× it is the fast-burn page",
        ),
    ]
    for entry in sorted(graph.entry_shares):
        comp = graph.components[entry]
        _p50, p99, src = latency(graph, entry)
        warn = p99 * TIMEOUT_HEADROOM
        crit = comp.latency_budget if comp.latency_budget is not None else 3 * p99
        signals.append(
            Signal(
                "Latency",
                f"p99 ({entry})",
                "histogram_quantile(0.99, sum by (le) (rate("
                f'http_server_request_duration_seconds_bucket{{job="{entry}"}}[5m])))',
                ">",
                Figure(
                    warn,
                    "s",
                    "p99 × headroom",
                    {"p99": p99, "headroom": TIMEOUT_HEADROOM, "p99_source": src},
                ),
                Figure(crit, "s", "latency_budget", {"latency_budget": crit})
                if comp.latency_budget is not None
                else Figure(crit, "s", "3 × p99", {"p99": p99, "p99_source": src}),
                "Page",
                "beyond p99 × 1.5 callers' timeouts start to fire;"
                " beyond the budget callers give up",
            )
        )
    for entry in sorted(graph.entry_shares):
        n = graph.components[entry].replicas
        crit = (n - 1) / n * 100.0 if n > 1 else 80.0
        signals.append(
            Signal(
                "Saturation",
                f"CPU ({entry})",
                f'100 * max(rate(process_cpu_seconds_total{{job="{entry}"}}[5m]))',
                ">",
                Figure(crit * 0.8, "%", "0.8 × critical", {"critical": crit}),
                Figure(
                    crit,
                    "%",
                    "(n - 1) / n × 100 (N+1)" if n > 1 else "single replica: 80 %",
                    {"replicas": n},
                ),
                "Scale",
                f"{n} replicas: losing one must not overload the rest"
                if n > 1
                else "one replica: keep 20 % for spikes",
            )
        )
    if smallest_bulkhead is None:  # nothing to saturate: no row for a metric never exported
        return tuple(signals)
    warn = 100.0 / BULKHEAD_HEADROOM
    # critical: the smallest bulkhead has at most one free slot, so the next burst waits or is
    # rejected (never below the warning, which a one- or two-slot bulkhead would put it under)
    crit = max(warn, (smallest_bulkhead - 1) / smallest_bulkhead * 100.0)
    signals.append(
        Signal(
            "Saturation",
            "Bulkheads",
            "100 * max by (policy) (resilience_bulkhead_in_flight / resilience_bulkhead_capacity)",
            ">",
            Figure(warn, "%", "1 / headroom", {"headroom": BULKHEAD_HEADROOM}),
            Figure(
                crit,
                "%",
                "max(1 / headroom, (n - 1) / n) × 100, n = the smallest bulkhead: one free slot",
                {"smallest_bulkhead": smallest_bulkhead},
            ),
            "Scale",
            "bulkheads are sized at p99 load × 1.5; above that share the dependency is"
            " slower or busier than planned",
        )
    )
    return tuple(signals)


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
            ("circuit breaker open on a critical policy", "latency p99 critical"),
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
