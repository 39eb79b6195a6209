"""A small hand-built `Plan` for the renderer tests: every section filled, figures chosen by hand,
so renderer tests check drawing, not the analysis (which has its own tests and the golden files)."""

from __future__ import annotations

import dataclasses

from planner.model import (
    AvailabilitySection,
    BackupPlan,
    BlastRow,
    BurnRateAlert,
    Cap,
    ComponentAvailability,
    DiagnosisQuery,
    DowntimeCell,
    DowntimeRow,
    DrStrategy,
    EntryAvailability,
    FailoverStep,
    FailureMode,
    Figure,
    Header,
    IsolationProposal,
    MechanismRow,
    MonitoringSection,
    Plan,
    PostmortemSection,
    PostmortemTemplate,
    Reconciliation,
    RecoveryScenario,
    RecoverySection,
    RedundancyProposal,
    RedundancySection,
    RiskCell,
    Runbook,
    SeverityLevel,
    Signal,
    SinglePointOfFailure,
    SlaRow,
    SlaSection,
)


def f(value: float, unit: str = "%") -> Figure:
    """A figure with a made-up formula name (the renderers never print formulas)."""
    return Figure(value, unit, "by-hand")


SEED_CRITICAL = {("H", "M"), ("H", "H"), ("M", "H")}


def _mode(
    i: int, comp: str, failure: str, impact: str, prob: str, prio: str, rpn: int
) -> FailureMode:
    return FailureMode(
        id=f"FM-00{i}",
        component=comp,
        name=failure.lower().replace(" ", "-"),
        failure=failure,
        source="catalog",
        category="errors",
        scope="component",
        transient=True,
        impact=impact,  # type: ignore[arg-type]
        probability=prob,  # type: ignore[arg-type]
        priority=prio,  # type: ignore[arg-type]
        severity=8,
        occurrence=5,
        detection=rpn // 40,
        rpn=rpn,
        impact_basis=f(100.0),
        probability_basis=f(12.0, "per year"),
        users_impacted=f(100.0),
        users_impacted_with=f(0.0),
        mechanisms=("llm-primary: circuit_breaker",),
        contained=True,
        mitigation="breaker + fallback",
    )


MODES = (
    _mode(1, "llm-primary", "429 rate limiting", "H", "H", "P1", 320),
    _mode(2, "llm-primary", "Timeouts", "H", "M", "P1", 240),
    _mode(3, "cache", "Cache outage | stampede <script>", "M", "L", "P2", 90),
    _mode(4, "zone:a", "Zone a outage", "L", "L", "P3", 12),
)


def _risk_matrix() -> tuple[RiskCell, ...]:
    cells = []
    for impact in ("H", "M", "L"):
        for prob in ("L", "M", "H"):
            ids = tuple(m.id for m in MODES if (m.impact, m.probability) == (impact, prob))
            cells.append(
                RiskCell(
                    impact=impact,
                    probability=prob,
                    critical=(impact, prob) in SEED_CRITICAL,
                    count=len(ids),
                    ids=ids,
                )
            )
    return tuple(cells)


def sample_plan(sla: bool = False) -> Plan:
    """A two-dependency gateway plan; `sla=True` adds measured SLA tracking."""
    downtime = tuple(
        DowntimeRow(
            label=label,
            objective=objective,
            cells=(
                DowntimeCell("30d", 30, f((1 - objective / 100) * 30 * 86400, "s")),
                DowntimeCell("year (365 d)", 365, f((1 - objective / 100) * 365 * 86400, "s")),
            ),
        )
        for label, objective in (("critical", 99.99), ("ultra", 99.999))
    )
    availability = AvailabilitySection(
        target=f(99.99),
        downtime=downtime,
        current=f(99.4502),
        with_mechanisms=f(99.94),
        meets_target=False,
        components=(
            ComponentAvailability("gateway", "declared", f(99.95), f(99.999875), f(1800, "s")),
            ComponentAvailability("llm-primary", "declared", f(99.5), f(99.5), f(900, "s")),
        ),
        entry_points=(EntryAvailability("gateway", 1.0, f(99.4502), f(99.94)),),
        caps=(Cap("llm-primary", f(99.5), True, ("gateway",)),),
    )
    mechanisms = (
        MechanismRow(
            "llm-primary",
            "gateway",
            "llm-primary",
            "timeout",
            "Containment",
            "8.8s",
            "Latency",
            "p99 8s × 1.1 headroom",
        ),
        MechanismRow(
            "llm-primary",
            "gateway",
            "llm-primary",
            "circuit_breaker",
            "Containment",
            "50% of ≥20 calls in 10s",
            "Error rate >50%",
            "trips within 10 s at 150 rps",
        ),
        MechanismRow(
            "llm-primary",
            "gateway",
            "llm-primary",
            "retry",
            "Recovery",
            "3 attempts, 0.2s backoff",
            "Transient error",
            "429 and timeouts are transient",
        ),
        MechanismRow(
            "llm-primary",
            "gateway",
            "llm-primary",
            "rate_limiter",
            "Prevention",
            "180/s",
            "Quota",
            "provider quota",
        ),
        MechanismRow(
            "cache",
            "gateway",
            "cache",
            "retry",
            "Recovery",
            "none",
            "-",
            "no transient failure mode",
        ),
        MechanismRow(
            "cache",
            "gateway",
            "cache",
            "bulkhead",
            "Isolation",
            "12 concurrent",
            "Load",
            "Little's law: 200 rps × 5ms × 12",
        ),
    )
    monitoring = MonitoringSection(
        signals=(
            Signal("Availability", "Uptime %", "q", "<", f(99.99), f(99.9), "Page", "tier"),
            Signal("Latency", "p99", "q", ">", f(0.3, "s"), f(2.0, "s"), "Page", "budget"),
        ),
        burn_rate_alerts=(
            BurnRateAlert(
                "page",
                f(3600, "s"),
                f(300, "s"),
                f(14.4, "x"),
                f(2.0),
                f(0.00144, "ratio"),
                f(51.84, "s"),
            ),
        ),
        runbooks=(
            Runbook(
                failure_mode_id="FM-001",
                slug="fm-001-llm-primary-429-rate-limiting",
                title="llm-primary: 429 rate limiting",
                component="llm-primary",
                priority="P1",
                severity="SEV1",
                symptoms=("429 responses from llm-primary",),
                alert="ai-gateway availability burn rate (page)",
                diagnosis=(DiagnosisQuery("429 rate", 'rate(x{code="429"}[5m])'),),
                mitigation=("Shift traffic to llm-secondary",),
                recovery=("Raise the quota",),
                verification=("Error ratio back under 0.01%",),
            ),
            Runbook(
                failure_mode_id="FM-002",
                slug="../fm 002 timeouts",
                title="llm-primary: timeouts",
                component="llm-primary",
                priority="P1",
                severity="SEV1",
                symptoms=(),
                alert="latency p99",
                diagnosis=(),
                mitigation=(),
                recovery=(),
                verification=(),
            ),
        ),
        severities=(SeverityLevel("SEV1", "P1", "users down", "page", f(300, "s"), ("page",)),),
        postmortem=PostmortemTemplate(
            title="Post-mortem: ai-gateway",
            sections=(
                PostmortemSection("Impact", ("Users impacted",), ("Target: 99.99%",)),
                PostmortemSection("Timeline", ("Detected at",)),
            ),
        ),
    )
    plan = Plan(
        header=Header(
            system="ai-gateway",
            description="LLM gateway",
            tier="critical",
            target=f(99.99),
            period="30d",
            period_label="30 days",
            period_seconds=f(30 * 86400, "s"),
            users=120000,
            components=3,
        ),
        current=f(99.4502),
        failure_modes=MODES,
        risk_matrix=_risk_matrix(),
        blast_radius=(
            BlastRow(
                "llm-primary down",
                "llm-primary",
                "component",
                ("gateway", "llm-primary"),
                (),
                ("gateway",),
                f(100.0),
                f(0.0),
                2,
                0,
                1,
            ),
        ),
        spofs=(SinglePointOfFailure("llm-primary", "single replica, hard dependency", f(100.0)),),
        availability=availability,
        mechanisms=mechanisms,
        mechanism_table={
            "llm-primary": {
                "timeout": 8.8,
                "circuit_breaker": {"failure_rate_threshold": 0.5},
                "retry": {"max_attempts": 3},
                "rate_limiter": {"rate_per_second": 180},
            },
            "cache": {"bulkhead": {"max_concurrent": 12}},
        },
        redundancy=RedundancySection(
            proposals=(
                RedundancyProposal(
                    "llm-primary",
                    1,
                    1,
                    2,
                    1,
                    ("a", "b"),
                    f(99.5),
                    f(99.9975),
                    f(99.99),
                    "second provider",
                ),
            ),
            isolation=(
                IsolationProposal("gateway", "cache", 12, "starves the LLM calls", f(12, "")),
            ),
            achievable=f(99.99),
        ),
        recovery=RecoverySection(
            scenarios=(
                RecoveryScenario(
                    "llm-primary crash",
                    "software",
                    "llm-primary",
                    f(270, "s"),
                    f(0, "s"),
                    f(300, "s"),
                    f(0, "s"),
                    "met",
                    "fail over to llm-secondary",
                ),
                RecoveryScenario(
                    "vector-db data loss",
                    "data_loss",
                    "vector-db",
                    f(3600, "s"),
                    f(21600, "s"),
                    None,
                    None,
                    "no target",
                    "restore the last backup",
                ),
            ),
            strategy=DrStrategy(
                "warm_standby", "Warm standby", f(900, "s"), f(60, "s"), "meets a 15m RTO"
            ),
            backups=(
                BackupPlan("vector-db", "snapshot", f(21600, "s"), f(604800, "s"), "weekly", "r"),
            ),
            failover=(
                FailoverStep("Primary", "Health check fails", "3 failed checks every 10s"),
                FailoverStep("Traffic shift", "Secondary", ""),
            ),
            reconciliation=(Reconciliation("vector-db", ("Re-index documents since the backup",)),),
        ),
        monitoring=monitoring,
    )
    if sla:
        plan = dataclasses.replace(
            plan,
            sla=SlaSection(
                source="http://127.0.0.1:9090",
                measured_at="2026-11-25T17:00:00Z",
                slo="availability",
                rows=(
                    SlaRow("This month", 99.99, f(99.995), f(50.0), "OK", f(100.0), pace=f(60.0)),
                    SlaRow("YTD", 99.99, None, None, "No data", None),
                ),
                budget_remaining_minutes=Figure(
                    2.16, "min", "test", {"basis": "the last hour's traffic"}
                ),
                burn_rates={"1h": f(0.5, "x")},
                budget_period="This month",
            ),
        )
    return plan
