"""The data each picture of the report is drawn from, taken from the plan (never re-derived).

One small frozen type per picture; `planner.render.svg` draws them for the HTML page and
`planner.render.markdown` draws the dependency graph as Mermaid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from planner.model import Plan, SlaSection
from planner.render import figures as fmt

__all__ = [
    "AvailabilityPicture",
    "BudgetPicture",
    "BurnPicture",
    "EntryBar",
    "FlowPicture",
    "GraphPicture",
    "HeatCell",
    "HeatMap",
    "LayersPicture",
    "ModeRef",
    "PictureEdge",
    "PictureNode",
    "availability_picture",
    "budget_left",
    "budget_picture",
    "burn_picture",
    "flow_picture",
    "graph_picture",
    "heat_map",
]

IMPACT_ROWS = ("H", "M", "L")
PROBABILITY_COLUMNS = ("L", "M", "H")


@dataclass(frozen=True)
class ModeRef:
    """A failure mode as a heat-map cell lists it."""

    id: str
    component: str
    failure: str
    priority: str


@dataclass(frozen=True)
class HeatCell:
    """One cell of the risk matrix: its levels, whether it is critical, and its modes."""

    impact: str
    probability: str
    critical: bool
    modes: tuple[ModeRef, ...]

    @property
    def count(self) -> int:
        """How many failure modes fall in the cell."""
        return len(self.modes)

    @property
    def priority(self) -> str:
        """The highest priority among the cell's modes ("" when empty)."""
        return min((m.priority for m in self.modes), default="")


@dataclass(frozen=True)
class HeatMap:
    """The 3 × 3 risk matrix, impact rows H, M, L × probability columns L, M, H."""

    cells: tuple[HeatCell, ...]


def heat_map(plan: Plan) -> HeatMap:
    """The plan's risk matrix with each cell's modes (ids from `RiskCell.ids`)."""
    by_id = {m.id: m for m in plan.failure_modes}
    by_cell = {(c.impact, c.probability): c for c in plan.risk_matrix}
    cells = []
    for impact in IMPACT_ROWS:
        for probability in PROBABILITY_COLUMNS:
            cell = by_cell.get((impact, probability))  # type: ignore[arg-type]
            ids = cell.ids if cell is not None else ()
            modes = tuple(
                ModeRef(i, by_id[i].component, by_id[i].failure, by_id[i].priority)
                for i in ids
                if i in by_id
            )
            critical = cell.critical if cell is not None else False
            cells.append(HeatCell(impact, probability, critical, modes))
    return HeatMap(tuple(cells))


@dataclass(frozen=True)
class PictureNode:
    """A component with the share of users its failure takes down, without and with mechanisms."""

    component: str
    kind: str
    entry_point: bool
    replicas: int
    users_without: float  # percent
    users_with: float  # percent
    degraded_with: tuple[str, ...]  # callers that serve a degraded answer with the mechanisms


@dataclass(frozen=True)
class PictureEdge:
    """A dependency edge; `fallback` is what the caller falls back to ("" for none)."""

    caller: str
    target: str
    hard: bool
    fallback: str
    fallback_component: bool


@dataclass(frozen=True)
class GraphPicture:
    """The dependency graph coloured by blast radius."""

    nodes: tuple[PictureNode, ...]
    edges: tuple[PictureEdge, ...]


def graph_picture(plan: Plan) -> GraphPicture | None:
    """The plan's dependency graph with each component's own blast radius; None without a graph."""
    if plan.graph is None:
        return None
    blast = {row.source: row for row in plan.blast_radius if row.scope == "component"}
    nodes = []
    for node in plan.graph.nodes:
        row = blast.get(node.component)
        nodes.append(
            PictureNode(
                component=node.component,
                kind=node.kind,
                entry_point=node.entry_point,
                replicas=node.replicas,
                users_without=row.users_impacted.value if row is not None else 0.0,
                users_with=row.users_impacted_with.value if row is not None else 0.0,
                degraded_with=row.degraded_with if row is not None else (),
            )
        )
    edges = tuple(
        PictureEdge(e.caller, e.target, e.hard, e.fallback or "", e.fallback_component)
        for e in plan.graph.edges
    )
    return GraphPicture(tuple(nodes), edges)


@dataclass(frozen=True)
class EntryBar:
    """One entry point's modeled availability, with what caps it."""

    component: str
    traffic_share: float  # 0–1
    availability: float  # percent
    availability_with: float  # percent
    caps: tuple[tuple[str, float, bool], ...]  # (component, highest SLO it allows, below target)


@dataclass(frozen=True)
class AvailabilityPicture:
    """Availability per entry point against the target."""

    target: float
    system: float
    system_with: float
    entries: tuple[EntryBar, ...]


def availability_picture(plan: Plan) -> AvailabilityPicture:
    """Entry points' availability as specified and with the planned fallbacks, and their caps."""
    section = plan.availability
    entries = tuple(
        EntryBar(
            e.component,
            e.traffic_share,
            e.availability.value,
            e.availability_with.value,
            tuple(
                (c.component, c.max_slo.value, c.below_target)
                for c in section.caps
                if e.component in c.entry_points
            ),
        )
        for e in section.entry_points
    )
    return AvailabilityPicture(
        section.target.value, section.current.value, section.with_mechanisms.value, entries
    )


@dataclass(frozen=True)
class FlowPicture:
    """The failover plan's steps, in order: (step, action, detail)."""

    steps: tuple[tuple[str, str, str], ...]


def flow_picture(plan: Plan) -> FlowPicture:
    """The failover plan as a flow."""
    return FlowPicture(tuple((f.step, f.action, f.detail) for f in plan.recovery.failover))


@dataclass(frozen=True)
class LayersPicture:
    """The resilience layers in order: (name, items); an item is (label, values, separator)."""

    groups: tuple[tuple[str, tuple[tuple[str, tuple[str, ...], str], ...]], ...]


@dataclass(frozen=True)
class BurnPicture:
    """The error budget as measured: budget used per period, and the burn rate per window
    against the burn rates the plan's alerts fire at."""

    periods: tuple[tuple[str, float | None, str], ...]  # (period, budget used %, status)
    burn_rates: tuple[tuple[str, float], ...]  # (window, burn rate ×)
    alert_rates: tuple[tuple[str, float], ...]  # (severity + long window, burn rate ×)
    remaining_minutes: float | None


def burn_picture(plan: Plan) -> BurnPicture | None:
    """The measured error-budget burn; None until the SLA is measured."""
    sla = plan.sla
    if sla is None:
        return None
    from planner.render import figures as fmt

    periods = tuple(
        (row.period, None if row.budget_used is None else row.budget_used.value, row.status)
        for row in sla.rows
    )
    rates = tuple((window, fig.value) for window, fig in sla.burn_rates.items())
    alerts = tuple(
        (f"{a.severity} ({fmt.figure(a.long_window)})", a.burn_rate.value)
        for a in plan.monitoring.burn_rate_alerts
    )
    left = sla.budget_remaining_minutes
    return BurnPicture(periods, rates, alerts, None if left is None else left.value)


@dataclass(frozen=True)
class BudgetPicture:
    """The error budget left over the budget period: (unix time, percent left) points, the
    last one the measurement, and the even burn from (start, 100 %) to (end, 0 %)."""

    period: str
    start: float
    end: float
    step_s: int
    points: tuple[tuple[float, float], ...]
    status: str  # the period row's status: OK | Risk | Breached

    def ideal(self, t: float) -> float:
        """Percent an even burn leaves at `t`."""
        length = self.end - self.start
        return 100.0 * (1.0 - (t - self.start) / length) if length > 0 else 0.0

    @property
    def now(self) -> tuple[float, float]:
        """The last point: the measurement."""
        return self.points[-1]

    def summary(self) -> str:
        """The figures in one sentence: first point, now, lowest, and what an even burn leaves."""
        (t0, first), (t1, left) = self.points[0], self.now
        low_t, low = min(self.points, key=lambda p: p[1])
        text = (
            f"Error budget left in {self.period.lower()}, counted from {fmt.iso_time(self.start)} "
            f"every {fmt.duration(self.step_s)}: {budget_left(first)} at {fmt.iso_time(t0)}, "
            f"{budget_left(left)} now ({fmt.iso_time(t1)})"
        )
        if low < left:
            text += f", lowest {budget_left(low)} at {fmt.iso_time(low_t)}"
        if self.end > t1:
            even = (
                f"an even burn would leave {budget_left(self.ideal(t1))} now and spend the last of "
                f"it at {fmt.iso_time(self.end)}"
            )
        else:  # a rolling window: an even burn spends its whole budget over the window
            even = f"an even burn would have spent all of it by {fmt.iso_time(self.end)}"
        return f"{text}; {even}."

    def sparkline(self, width: int = 48) -> str:
        """The points as block characters, 0 %…100 % (lower when overspent), at most `width`
        of them evenly picked, the last always the measurement."""
        values = [v for _t, v in self.points]
        if len(values) > width:
            values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
        lo = min(0.0, *values)
        span = 100.0 - lo  # lo ≤ 0 and no point is above 100 %
        top = len(_BLOCKS) - 1
        return "".join(_BLOCKS[max(0, min(top, round((v - lo) / span * top)))] for v in values)


_BLOCKS = "▁▂▃▄▅▆▇█"


def budget_left(percent: float) -> str:
    """A share of the budget to one decimal, never 100 % while some of it is spent."""
    return fmt.percent(percent, 1)


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def budget_picture(sla: SlaSection | None) -> BudgetPicture | None:
    """The measured budget over the period; None until measured, or without data in it."""
    series = sla.budget_series if sla is not None else None
    if sla is None or series is None or not series.points:
        return None
    status = next((r.status for r in sla.rows if r.period == series.period), "")
    return BudgetPicture(
        series.period,
        _unix(series.start),
        _unix(series.end),
        series.step_s,
        tuple((_unix(p.at), p.remaining.value) for p in series.points),
        status,
    )
