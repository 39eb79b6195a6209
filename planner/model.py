"""The plan: frozen dataclasses every analysis fills and every renderer reads.

Every derived number is a `Figure` carrying its formula name and inputs, so the JSON output shows
how it was derived. Tuples everywhere keep a plan immutable and its order deterministic.
This model only grows additively: renderers and the SLO/chaos helpers depend on these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# the figure, the dependency graph's and the SLA's types live in their own files; this module
# re-exports them, so `planner.model` stays the one contract renderers and analyses import
from planner.figure import SIGNIFICANT_DIGITS as SIGNIFICANT_DIGITS
from planner.figure import Figure as Figure
from planner.figure import significant as significant
from planner.graph_model import DependencyGraph as DependencyGraph
from planner.graph_model import GraphEdge as GraphEdge
from planner.graph_model import GraphNode as GraphNode
from planner.sla_model import BudgetPoint as BudgetPoint
from planner.sla_model import BudgetSeries as BudgetSeries
from planner.sla_model import SlaRow as SlaRow
from planner.sla_model import SlaSection as SlaSection

Level = Literal["H", "M", "L"]
Priority = Literal["P1", "P2", "P3"]
Scope = Literal["component", "zone", "region"]


# -- header ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    """Who and what the plan is for (the seed's header box)."""

    system: str
    description: str
    tier: str
    target: Figure  # percent
    period: str  # "30d" | "28d" | "calendar_month"
    period_label: str  # e.g. "30 days", "28 days", "calendar month (28–31 days)"
    period_seconds: Figure  # the budget period; a calendar month uses 30.4375 days (365.25/12)
    users: int | None
    components: int


# -- failure modes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureMode:
    """One row of the failure-mode analysis (FMEA)."""

    id: str  # FM-001, in priority order
    component: str  # component name, or "zone:a" / "region:eu" for placement failures
    name: str  # slug: primary-crash, rate-limited, ...
    failure: str  # human sentence
    source: Literal["catalog", "declared"]
    category: str  # crash | latency | errors | overload | rate_limit | data | dependency | zone ...
    scope: Scope
    transient: bool  # worth retrying
    impact: Level
    probability: Level
    priority: Priority
    severity: int  # 1–10
    occurrence: int  # 1–10
    detection: int  # 1–10, 10 = almost impossible to detect
    rpn: int  # severity × occurrence × detection
    impact_basis: Figure  # users impacted (percent) and criticality behind impact
    probability_basis: Figure  # expected occurrences per year behind probability
    users_impacted: Figure  # percent of users, without mechanisms
    users_impacted_with: Figure  # percent of users, with the planned mechanisms
    mechanisms: tuple[str, ...]  # "policy: mechanism" entries that contain it
    contained: bool  # a runtime mechanism of the plan contains it
    mitigation: str  # what contains it, or (not contained) why no runtime mechanism does
    silent: bool = False  # succeeds at the transport level (HTTP 200) with wrong or stale content

    @property
    def containment(self) -> str:
        """The mitigation as a sentence: "no runtime mechanism: <why>" when not contained."""
        return self.mitigation if self.contained else f"no runtime mechanism: {self.mitigation}"


@dataclass(frozen=True, slots=True)
class RiskCell:
    """One cell of the seed's 3 × 3 risk matrix; ● cells (critical) make P1."""

    impact: Level
    probability: Level
    critical: bool
    count: int
    ids: tuple[str, ...]


# -- blast radius ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlastRow:
    """What one failure takes down, without and with the planned mechanisms."""

    failure: str  # "llm-primary down", "zone a outage"
    source: str  # component name or "zone:a" / "region:eu"
    scope: Scope
    # Each list is sorted and, on a component row, holds at most the first 20 names
    # (planner.analysis.blast.LISTED): in a deep chain every row would list the whole chain
    # above it (quadratic output). The counts are the sets' full sizes, and every figure is
    # computed from the full sets.
    affected: tuple[str, ...]  # down without mechanisms (the source included)
    affected_with: tuple[str, ...]  # still down with breakers + fallbacks
    degraded_with: tuple[str, ...]  # serving a degraded answer instead of failing
    users_impacted: Figure  # percent
    users_impacted_with: Figure  # percent
    affected_count: int  # how many are down without mechanisms
    affected_with_count: int  # how many are still down with breakers + fallbacks
    degraded_with_count: int  # how many serve a degraded answer


@dataclass(frozen=True, slots=True)
class SinglePointOfFailure:
    """A component whose single failure takes users down."""

    component: str
    reason: str
    users_impacted: Figure  # percent


# -- availability ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DowntimeCell:
    """Allowed downtime for one objective over one labelled period."""

    period: str  # "30d", "28d", "month (365.25/12 d)", "quarter (365/4 = 91.25 d)", "year (365 d)"
    days: float
    downtime: Figure  # seconds


@dataclass(frozen=True, slots=True)
class DowntimeRow:
    """Allowed downtime per period for one tier (or the custom target)."""

    label: str  # tier name or "target"
    objective: float  # percent
    cells: tuple[DowntimeCell, ...]


@dataclass(frozen=True, slots=True)
class ComponentAvailability:
    """A component's modeled availability, alone and with its replicas."""

    component: str
    source: Literal["declared", "mtbf/mttr", "catalog default"]
    per_replica: Figure  # percent
    effective: Figure  # percent, replicas (1-Π(1-a) or k-of-n)
    mttr: Figure  # seconds, declared or the kind's catalog default


@dataclass(frozen=True, slots=True)
class EntryAvailability:
    """Modeled availability seen by users entering at one entry point."""

    component: str
    traffic_share: float
    availability: Figure  # percent, serial product over the hard closure
    availability_with: Figure  # percent, with fallbacks wired by the plan


@dataclass(frozen=True, slots=True)
class Cap:
    """A component that limits the system: the highest SLO it allows."""

    component: str
    max_slo: Figure  # percent
    below_target: bool
    entry_points: tuple[str, ...]  # entries whose hard closure contains it


@dataclass(frozen=True, slots=True)
class AvailabilitySection:
    """Downtime budgets and the modeled availability against the target."""

    target: Figure
    downtime: tuple[DowntimeRow, ...]
    current: Figure  # percent, traffic-weighted over entry points, as specified
    with_mechanisms: Figure  # percent, with the planned fallbacks
    meets_target: bool
    components: tuple[ComponentAvailability, ...]
    entry_points: tuple[EntryAvailability, ...]
    caps: tuple[Cap, ...]  # ascending max_slo; those below the target first
    # how `current` combines the entries (the spec's `entry_weighting`): every_entry = the lowest
    entry_weighting: Literal["every_entry", "traffic"] = "every_entry"


# -- mechanisms --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MechanismRow:
    """One derived mechanism of a dependency or of an entry point's inbound policy, with reasons."""

    policy: str  # mechanism-table policy name (target, or caller.target)
    caller: str
    target: str
    mechanism: str  # timeout | deadline | retry | retry_budget | circuit_breaker | bulkhead | ...
    type: str  # Prevention | Containment | Isolation | Recovery | Degradation
    config: str  # short human config: "3 attempts, 0.2s backoff"
    trigger: str  # "Error rate >50%"
    reason: str  # why these numbers
    figures: Mapping[str, Figure] = field(default_factory=dict)
    inbound: bool = False  # an entry point's own policy (caller is ""; target is the entry)


# -- redundancy --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedundancyProposal:
    """Replicas and placement that lift a capping component to the target."""

    component: str
    current_replicas: int
    current_min_healthy: int
    proposed_replicas: int
    proposed_min_healthy: int
    placement: tuple[str, ...]  # zones or regions to spread the replicas over
    current: Figure  # component availability now (percent)
    resulting: Figure  # component availability with the proposal (percent)
    system_after: Figure  # modeled system availability with the proposal (percent)
    reason: str


@dataclass(frozen=True, slots=True)
class FallbackRedundancy:
    """A component below its share of the target whose callers' declared fallbacks already lift
    every entry that needs it to the target: the fallback is its redundancy, no replica is proposed.
    """

    component: str
    fallbacks: tuple[str, ...]  # what its callers fall back to
    entry_with: Figure  # the lowest availability, with the fallbacks, of the entries using it
    reason: str


@dataclass(frozen=True, slots=True)
class IsolationProposal:
    """A bulkhead per dependency where one dependency's saturation would starve the others."""

    caller: str
    target: str
    max_concurrent: int
    reason: str
    figure: Figure


@dataclass(frozen=True, slots=True)
class RedundancySection:
    """Redundancy and isolation design."""

    proposals: tuple[RedundancyProposal, ...]
    isolation: tuple[IsolationProposal, ...]
    achievable: Figure  # modeled system availability if every proposal is applied (percent)
    covered_by_fallback: tuple[FallbackRedundancy, ...] = ()


# -- recovery ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecoveryScenario:
    """RTO/RPO estimate for one disruption, against the target."""

    scenario: str  # "llm-primary crash", "zone a outage", "orders-db data loss"
    disruption: Literal["software", "host", "zone", "region", "data_loss"]
    component: str
    rto: Figure  # seconds: detect + decide + failover + warm-up
    rpo: Figure  # seconds: replication lag or backup interval (0 for stateless)
    rto_target: Figure | None
    rpo_target: Figure | None
    status: Literal["met", "breached", "no target"]
    procedure: str


@dataclass(frozen=True, slots=True)
class DrStrategy:
    """The cheapest disaster-recovery strategy that meets the targets."""

    strategy: Literal["backup_restore", "pilot_light", "warm_standby", "active_active"]
    label: str  # "Warm standby"
    typical_rto: Figure
    typical_rpo: Figure
    reason: str


@dataclass(frozen=True, slots=True)
class BackupPlan:
    """How one stateful component's data is protected."""

    component: str
    method: str
    interval: Figure  # seconds
    retention: Figure  # seconds
    restore_test: str
    reason: str


@dataclass(frozen=True, slots=True)
class FailoverStep:
    """One step of the seed's failover diagram, made concrete for this system."""

    step: str  # Primary | Traffic shift | Validate | Alert | Investigate | Recover | Failback
    action: str  # "Health check fails"
    detail: str  # "gateway: 3 failed checks every 10s"


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Data reconciliation after a failover of a stateful component."""

    component: str
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecoverySection:
    """Recovery procedures."""

    scenarios: tuple[RecoveryScenario, ...]
    strategy: DrStrategy
    backups: tuple[BackupPlan, ...]
    failover: tuple[FailoverStep, ...]
    reconciliation: tuple[Reconciliation, ...]


# -- monitoring --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal:
    """A health signal with thresholds (the seed's monitoring table)."""

    signal: str  # Availability | Latency | Errors | Saturation
    metric: str  # "Uptime %", "p99", "Rate", "CPU/Mem"
    promql: str
    comparison: Literal["<", ">"]
    warning: Figure
    critical: Figure
    action: str  # Page | Ticket | Scale
    reason: str
    # the alert of `reliability rules` that implements the row (planner.slo.detection names them)
    rule: str = ""
    # what the row watches: an entry point, or the policies of a breaker row ("" : the system)
    scope: tuple[str, ...] = ()
    # the SLO whose burn-rate alerts implement the row (rule ErrorBudgetBurn), else ""
    slo: str = ""


@dataclass(frozen=True, slots=True)
class BurnRateAlert:
    """One multi-window multi-burn-rate alert condition."""

    severity: Literal["page", "ticket"]
    long_window: Figure  # seconds
    short_window: Figure  # seconds
    burn_rate: Figure
    budget_consumed: Figure  # percent of the period's budget when it fires
    error_ratio: Figure  # threshold on the error ratio (fraction)
    time_to_fire: Figure  # seconds until it fires during a 100 % outage


@dataclass(frozen=True, slots=True)
class DiagnosisQuery:
    """A PromQL query a responder runs, and what it tells them."""

    description: str
    promql: str


@dataclass(frozen=True, slots=True)
class Runbook:
    """What to do when one P1/P2 failure mode happens."""

    failure_mode_id: str
    slug: str  # file name stem: "fm-001-llm-primary-rate-limited"
    title: str
    component: str
    priority: Priority
    severity: str  # SEV1 | SEV2 | SEV3
    symptoms: tuple[str, ...]
    alert: str
    diagnosis: tuple[DiagnosisQuery, ...]
    mitigation: tuple[str, ...]
    recovery: tuple[str, ...]
    verification: tuple[str, ...]
    # the SLO whose ErrorBudgetBurn alert is `alert` (None: a breaker or a quality alert); the
    # rules link that SLO's alerts to this runbook (`runbook_url`, `failure_modes`)
    slo: str | None = None


@dataclass(frozen=True, slots=True)
class SeverityLevel:
    """Incident severity mapped to failure-mode priority and response."""

    severity: str  # SEV1 | SEV2 | SEV3
    priority: Priority
    description: str
    response: str  # page | ticket
    acknowledge_within: Figure  # seconds
    alerts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PostmortemSection:
    """One section of the post-mortem template."""

    heading: str
    prompts: tuple[str, ...]
    prefilled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PostmortemTemplate:
    """A blameless post-mortem template with the plan's figures pre-filled."""

    title: str
    sections: tuple[PostmortemSection, ...]


@dataclass(frozen=True, slots=True)
class MonitoringSection:
    """Signals, burn-rate alerts, runbooks, incident response and the post-mortem template."""

    signals: tuple[Signal, ...]
    burn_rate_alerts: tuple[BurnRateAlert, ...]
    runbooks: tuple[Runbook, ...]
    severities: tuple[SeverityLevel, ...]
    postmortem: PostmortemTemplate


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole reliability engineering plan."""

    header: Header
    current: Figure  # modeled availability, percent (the report's "Current")
    failure_modes: tuple[FailureMode, ...]
    risk_matrix: tuple[RiskCell, ...]  # impact H, M, L rows × probability L, M, H columns
    blast_radius: tuple[BlastRow, ...]
    spofs: tuple[SinglePointOfFailure, ...]
    availability: AvailabilitySection
    mechanisms: tuple[MechanismRow, ...]
    mechanism_table: Mapping[str, Any]  # the `mechanisms:` mapping resilience.load_plan loads
    redundancy: RedundancySection
    recovery: RecoverySection
    monitoring: MonitoringSection
    sla: SlaSection | None = None
    graph: DependencyGraph | None = None  # components and edges, for the report's pictures
