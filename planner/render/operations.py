"""The operations half of the report as blocks: recovery, monitoring and SLA tracking.

Part of `planner.render.sections` (which assembles the document); split off so that each file
holds one half of the report.
"""

from __future__ import annotations

from planner.model import Figure, Plan, SlaSection
from planner.render import figures as fmt
from planner.render.blocks import (
    Block,
    Bullets,
    Heading,
    Paragraph,
    Picture,
    Section,
)
from planner.render.blocks import table_block as _table
from planner.render.layout import flow_box
from planner.render.pictures import budget_picture, burn_picture, flow_picture
from planner.render.runbooks import runbook_filename
from planner.render.status import tone

#: The seed's SLA TRACKING rows.
SLA_PERIODS = ("This month", "This quarter", "YTD")

#: What to run to fill the SLA TRACKING section; the report prints this instead of figures.
SLA_HOW_TO = "not measured — run `reliability sla SPEC --prometheus URL`"


# ------------------------------------------------------------------------------------ recovery


def _target(rto: str, rpo: str) -> str:
    return f"{rto} / {rpo}"


def recovery(plan: Plan) -> list[Block]:
    """Scenarios with RTO/RPO against targets, DR strategy, backups, failover, reconciliation."""
    section = plan.recovery
    strategy = section.strategy
    blocks: list[Block] = [
        Section("RECOVERY PROCEDURES"),
        _table(
            ("Scenario", "RTO", "RPO", "Target RTO / RPO", "Status", "Procedure"),
            (
                (
                    s.scenario,
                    fmt.figure(s.rto),
                    fmt.figure(s.rpo),
                    _target(fmt.figure(s.rto_target), fmt.figure(s.rpo_target)),
                    s.status,
                    s.procedure,
                )
                for s in section.scenarios
            ),
            (("", "", "", "", tone(s.status), "") for s in section.scenarios),
        ),
        Paragraph(
            f"DR strategy: {strategy.label} (typical RTO {fmt.figure(strategy.typical_rto)}, "
            f"RPO {fmt.figure(strategy.typical_rpo)}) — {strategy.reason}"
        ),
    ]
    if section.backups:
        blocks += [
            Heading("Backups:"),
            _table(
                ("Component", "Method", "Interval", "Retention", "Restore Test"),
                (
                    (
                        b.component,
                        b.method,
                        fmt.figure(b.interval),
                        fmt.figure(b.retention),
                        b.restore_test,
                    )
                    for b in section.backups
                ),
            ),
            # the interval is the plan's (it may differ from the spec's): say why, per component
            Bullets(tuple(f"{b.component}: {b.reason}" for b in section.backups)),
        ]
    if section.failover:
        steps = [(f.step, f.action, f.detail) for f in section.failover]
        alt = "Failover plan: " + " → ".join(
            f"{f.step} ({f.action})" if f.action else f.step for f in section.failover
        )
        blocks += [
            Heading("Failover Plan:"),
            Picture("failover", alt, flow_picture(plan), tuple(flow_box(steps))),
        ]
    for rec in section.reconciliation:
        blocks += [Heading(f"Data Reconciliation — {rec.component}:"), Bullets(rec.steps)]
    return blocks


# ---------------------------------------------------------------------------------- monitoring


def monitoring(plan: Plan) -> list[Block]:
    """Signals and thresholds, burn-rate alerts, incident severities and the runbook index."""
    section = plan.monitoring
    blocks: list[Block] = [
        Section("MONITORING & ALERTS"),
        _table(
            ("Signal", "Metric", "Warning", "Critical", "Action", "Rule"),
            (
                (
                    s.signal,
                    s.metric,
                    fmt.threshold(s.comparison, s.warning),
                    fmt.threshold(s.comparison, s.critical),
                    s.action,
                    # the alert `reliability rules` writes for the row
                    s.rule,
                )
                for s in section.signals
            ),
        ),
        Heading("Burn-Rate Alerts (multi-window, multi-burn-rate):"),
        _table(
            ("Severity", "Long Window", "Short Window", "Burn Rate", "Budget Spent", "Fires After"),
            (
                (
                    a.severity,
                    fmt.figure(a.long_window),
                    fmt.figure(a.short_window),
                    fmt.figure(a.burn_rate),
                    fmt.figure(a.budget_consumed),
                    fmt.figure(a.time_to_fire),
                )
                for a in section.burn_rate_alerts
            ),
        ),
        Paragraph("Fires After: time to fire during a total outage (100% errors)."),
        Heading("Incident Response:"),
        _table(
            ("Severity", "Priority", "Response", "Acknowledge", "When"),
            (
                (
                    s.severity,
                    s.priority,
                    s.response,
                    fmt.figure(s.acknowledge_within),
                    s.description,
                )
                for s in section.severities
            ),
            (("", tone(s.priority), "", "", "") for s in section.severities),
        ),
        Heading("Runbooks (reliability runbook SPEC -o DIR):"),
    ]
    if section.runbooks:
        blocks.append(
            Bullets(
                tuple(
                    f"{runbook_filename(r)} ({r.priority}, {r.severity})" for r in section.runbooks
                ),
                tuple(runbook_filename(r) for r in section.runbooks),
            )
        )
    else:
        blocks.append(Paragraph("None: no P1 or P2 failure mode."))
    return blocks


# ------------------------------------------------------------------------------------------ sla


def _measured_availability(measured: SlaSection) -> list[Block]:
    """Per entry point and dependency: the measured availability beside the modelled one."""
    if not measured.availability:
        return []
    return [
        Heading("Measured Availability (beside the modelled):"),
        _table(
            ("", "Name", "Modelled", "Measured", "Basis"),
            (
                (
                    a.kind,
                    a.name,
                    fmt.percent(a.modelled.value),
                    fmt.NONE if a.measured is None else fmt.percent(a.measured.value),
                    a.basis,
                )
                for a in measured.availability
            ),
        ),
    ]


def _budget_pictures(plan: Plan) -> list[Block]:
    """The measured budget used per period and burn rates, then the budget over the period."""
    blocks: list[Block] = []
    burn = burn_picture(plan)
    if burn is not None:
        alt = "Error budget used per period: " + "; ".join(
            f"{p} {fmt.NONE if u is None else fmt.share(u)} ({s})" for p, u, s in burn.periods
        )
        if burn.burn_rates:
            alt += ". Burn rate now: " + ", ".join(f"{w} {r:g}×" for w, r in burn.burn_rates)
        blocks.append(Picture("burn", alt + ".", burn))
    series = budget_picture(plan.sla)
    if series is not None:
        blocks.append(Picture("budget-series", series.summary(), series))
        blocks.append(Paragraph(f"{series.summary()} {series.sparkline()}"))
    return blocks


def sla(plan: Plan) -> list[Block]:
    """SLA tracking as measured; until measured, how to measure it (never a made-up figure)."""
    headers = ("Period", "Target", "Actual", "Budget Used", "Status", "Coverage")
    blocks: list[Block] = [Section("SLA TRACKING")]
    measured = plan.sla
    if measured is None:
        target = plan.header.target.value
        budget = plan.header.period_seconds.value * (100 - target) / 100 / 60
        return [
            *blocks,
            _table(
                headers[:5],
                (
                    (period, fmt.percent(target), "not measured", fmt.NONE, fmt.NONE)
                    for period in SLA_PERIODS
                ),
            ),
            Paragraph(f"Actual uptime: {SLA_HOW_TO}"),
            Paragraph(
                f"Error Budget: {fmt.minutes(budget)} minutes per {plan.header.period_label} at "
                f"{fmt.percent(target)}; remaining this month: {SLA_HOW_TO}"
            ),
        ]
    blocks.append(
        _table(
            (*headers[:4], "Pace", *headers[4:]),
            (
                (
                    row.period,
                    fmt.percent(row.target),
                    fmt.figure(row.actual),
                    _budget_share(row.budget_used),
                    _budget_share(row.pace),
                    row.status,
                    fmt.figure(row.coverage),
                )
                for row in measured.rows
            ),
            (("", "", "", "", "", tone(row.status), "") for row in measured.rows),
        )
    )
    blocks.append(
        Paragraph(
            "Budget Used: of the whole period's error budget, spent so far. Pace: spent by the "
            "period's end if the rest of it burns as it has so far."
        )
    )
    blocks += _budget_pictures(plan)
    blocks += _measured_availability(measured)
    left = measured.budget_remaining_minutes
    if left is None:
        blocks.append(Paragraph("Error Budget: no data for the SLO period"))
    else:
        basis = left.inputs.get("basis", "the current traffic")
        minutes = f"{fmt.minutes(left.value)} minutes" if left.value > 0 else "no minutes"
        blocks.append(
            Paragraph(
                f"Error Budget: {minutes} of full outage left in "
                f"{measured.budget_period.lower() or 'the period'} (clock minutes at {basis})"
            )
        )
    if measured.burn_rates:
        rates = ", ".join(f"{w}: {fmt.figure(f)}" for w, f in measured.burn_rates.items())
        blocks.append(Paragraph(f"Burn rate at {measured.measured_at}: {rates}"))
    blocks.append(
        Paragraph(f"SLO {measured.slo}, measured {measured.measured_at} from {measured.source}.")
    )
    if measured.notes:
        blocks.append(Bullets(tuple(measured.notes)))
    return blocks


def _budget_share(fig: Figure | None) -> str:
    """A share of an error budget; past ten budgets as a multiple (no six-digit percentages)."""
    if fig is None:
        return fmt.NONE
    if fig.value >= 1000.0:
        return f"{fig.value / 100:,.0f}× the budget"
    return fmt.figure(fig)
