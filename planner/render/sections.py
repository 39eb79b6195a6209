"""What the report says, independent of how it is drawn: the plan as a list of blocks.

The text, markdown and HTML renderers each draw these blocks their own way, so the three formats
always carry the same sections, tables and figures. Section order follows the seed's OUTPUT
FORMAT; the sections the seed lacks (availability, redundancy) sit next to their closest kin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from planner.model import AvailabilitySection, MechanismRow, Plan
from planner.render import figures as fmt
from planner.render.blocks import (
    Block,
    Bullets,
    Diagram,
    Fold,
    Heading,
    Paragraph,
    Picture,
    Section,
    Table,
    Title,
)
from planner.render.blocks import table_block as _table
from planner.render.layers import item_text, layer_groups, layers_box, mechanism_label
from planner.render.layout import risk_matrix_box
from planner.render.operations import SLA_HOW_TO, SLA_PERIODS, monitoring, recovery, sla
from planner.render.pictures import (
    LayersPicture,
    availability_picture,
    graph_picture,
    heat_map,
)
from planner.render.status import below_target_tone, tone

__all__ = [
    "SECTIONS",
    "SLA_HOW_TO",
    "SLA_PERIODS",
    "Block",
    "Bullets",
    "Diagram",
    "Heading",
    "Paragraph",
    "Section",
    "Table",
    "Title",
    "document",
    "document_blocks",
    "report_keys",
]

#: Section names `render_plan(..., sections=...)` accepts, in report order.
SECTIONS = ("failures", "availability", "mechanisms", "recovery", "monitoring", "sla")

# -------------------------------------------------------------------------------------- header


def header(plan: Plan) -> list[Block]:
    """The seed's header box: system, tier, SLA target and the current availability."""
    head = plan.header
    # "Current" is modeled from the spec, or measured when `plan --prometheus` filled it in.
    if plan.current.formula.startswith("measured"):  # measured: Prometheus filled it in
        source = f"measured; modeled {fmt.percent(plan.availability.current.value)}"
    else:
        source = "modeled from the spec"
    below = ", below target" if plan.current.value < head.target.value else ""
    # the planned fallbacks may lift a figure below the target over it: say so in the same line
    planned = plan.availability.with_mechanisms.value
    measured = plan.current.formula.startswith("measured")
    later = (
        f"{', ' if measured else '; '}{fmt.percent(planned)} with the planned fallbacks"
        if fmt.percent(planned) != fmt.percent(plan.availability.current.value)
        else ""
    )
    fields = [
        ("System", head.system),
        ("Tier", head.tier),
        ("SLA Target", fmt.percent(head.target.value)),
        ("Current", f"{fmt.percent(plan.current.value)} ({source}{below}{later})"),
        ("SLO period", head.period_label),
    ]
    if head.users is not None:
        fields.append(("Users", f"{head.users:,}"))
    return [Title("RELIABILITY ENGINEERING PLAN", tuple(fields))]


# ------------------------------------------------------------------------------------ failures


def failures(plan: Plan) -> list[Block]:
    """Risk matrix, failure modes (with RPN), blast radius and single points of failure."""
    counts: dict[tuple[str, str], int] = {
        (cell.impact, cell.probability): cell.count for cell in plan.risk_matrix
    }
    critical = {(cell.impact, cell.probability) for cell in plan.risk_matrix if cell.critical}
    blocks: list[Block] = [
        Section("FAILURE MODE ANALYSIS"),
        Picture(
            "risk-matrix",
            _risk_alt(plan),
            heat_map(plan),
            tuple(risk_matrix_box(counts, critical)),
        ),
        Heading("Failure Modes:"),
        _table(
            ("ID", "Component", "Failure", "Impact", "Prob", "Priority", "RPN"),
            (
                (m.id, m.component, m.failure, m.impact, m.probability, m.priority, str(m.rpn))
                for m in plan.failure_modes
            ),
            (("", "", "", "", "", tone(m.priority), "") for m in plan.failure_modes),
        ),
        Paragraph("RPN = severity × occurrence × detection (1–10 each)."),
        *_uncontained(plan),
        Heading("Blast Radius:"),
        *_graph(plan),
        _table(
            ("Failure", "Affected Components", "Users Impacted", "With Mechanisms"),
            (
                (
                    row.failure,
                    ", ".join(row.affected) or fmt.NONE,
                    fmt.share(row.users_impacted.value),
                    _with_mechanisms(row.users_impacted_with.value, row.degraded_with),
                )
                for row in plan.blast_radius
            ),
        ),
    ]
    if plan.spofs:
        blocks += [
            Heading("Single Points of Failure:"),
            Bullets(
                tuple(
                    f"{s.component}: {s.reason} ({fmt.share(s.users_impacted.value)} of users)"
                    for s in plan.spofs
                )
            ),
        ]
    else:
        blocks += [Heading("Single Points of Failure:"), Paragraph("None.")]
    return blocks


def _risk_alt(plan: Plan) -> str:
    """The risk matrix in words: the modes per cell, critical cells first."""
    names = {"H": "high", "M": "medium", "L": "low"}
    cells = sorted(
        (c for c in plan.risk_matrix if c.count),
        key=lambda c: (not c.critical, "HML".index(c.impact), "HML".index(c.probability)),
    )
    parts = [
        f"{names[c.impact]} impact × {names[c.probability]} probability: {c.count}"
        + (" (critical)" if c.critical else "")
        for c in cells
    ]
    total = len(plan.failure_modes)
    return f"Risk matrix of {total} failure modes. " + ("; ".join(parts) or "No mode.") + "."


def _graph(plan: Plan) -> list[Block]:
    """The dependency graph coloured by blast radius (HTML and Mermaid; text has the table)."""
    picture = graph_picture(plan)
    if picture is None:
        return []
    hard = sum(1 for e in picture.edges if e.hard)
    worst = sorted(picture.nodes, key=lambda n: (-n.users_without, n.component))[:3]
    alt = (
        f"Dependency graph of {len(picture.nodes)} components and {len(picture.edges)} edges "
        f"({hard} hard, {len(picture.edges) - hard} soft), entry points on top. Largest blast "
        "radius: "
        + ", ".join(
            f"{n.component} {fmt.share(n.users_without)} of users without mechanisms, "
            f"{fmt.share(n.users_with)} with them"
            for n in worst
        )
        + "."
    )
    return [Picture("dependency-graph", alt, picture)]


def _uncontained(plan: Plan) -> list[Block]:
    """The P1 modes no runtime mechanism contains, each with the reason its mitigation states."""
    rows = [m for m in plan.failure_modes if m.priority == "P1" and not m.contained]
    if not rows:
        return []
    return [
        Heading("P1 Modes No Runtime Mechanism Contains:"),
        Bullets(tuple(f"{m.id} {m.component}: {m.mitigation}" for m in rows)),
    ]


def _with_mechanisms(users: float, degraded: Sequence[str]) -> str:
    text = fmt.share(users)
    return f"{text}; degraded: {', '.join(degraded)}" if degraded else text


# -------------------------------------------------------------------------------- availability


def availability(plan: Plan) -> list[Block]:
    """Downtime budgets per tier and period, modeled availability, and what caps it."""
    section = plan.availability
    # Periods down, tiers across: six periods side by side would not fit 100 columns.
    rows = section.downtime
    periods = [cell.period for cell in rows[0].cells] if rows else []
    blocks: list[Block] = [
        Section("AVAILABILITY"),
        Heading("Downtime Budget:"),
        _table(
            ("Period", *(f"{row.label} {fmt.percent(row.objective)}" for row in rows)),
            (
                (period, *(fmt.figure(row.cells[i].downtime) for row in rows))
                for i, period in enumerate(periods)
            ),
        ),
        Heading("Modeled Availability:"),
        Picture("availability", _availability_alt(section), availability_picture(plan)),
        _table(
            ("Entry Point", "Traffic", "Availability", "With Mechanisms"),
            (
                (
                    e.component,
                    fmt.share(e.traffic_share * 100),
                    fmt.percent(e.availability.value),
                    fmt.percent(e.availability_with.value),
                )
                for e in section.entry_points
            ),
        ),
        *([Paragraph(_weighting_line(section))] if len(section.entry_points) > 1 else []),
        Paragraph(_system_line(section)),
        _table(
            ("Component", "Source", "Per Replica", "Effective", "MTTR"),
            (
                (
                    c.component,
                    c.source,
                    fmt.percent(c.per_replica.value),
                    fmt.percent(c.effective.value),
                    fmt.figure(c.mttr),
                )
                for c in section.components
            ),
        ),
    ]
    if section.caps:
        blocks += [
            Heading("What Caps It (serial hard path, before fallbacks):"),
            _table(
                ("Component", "Highest SLO It Allows", "Below Target", "Entry Points"),
                (
                    (
                        cap.component,
                        fmt.percent(cap.max_slo.value),
                        "yes" if cap.below_target else "no",
                        ", ".join(cap.entry_points) or fmt.NONE,
                    )
                    for cap in section.caps
                ),
                (("", "", below_target_tone(cap.below_target), "") for cap in section.caps),
            ),
        ]
    return blocks


def _availability_alt(section: AvailabilitySection) -> str:
    """Availability per entry point in words, with the target."""
    parts = [
        f"{e.component} {fmt.percent(e.availability.value)} as specified, "
        f"{fmt.percent(e.availability_with.value)} with fallbacks"
        for e in section.entry_points
    ]
    return (
        f"Modeled availability per entry point against the target "
        f"{fmt.percent(section.target.value)}: " + "; ".join(parts) + "."
    )


def _system_line(section: AvailabilitySection) -> str:
    """The modeled figure against the target, before and (where it differs) after fallbacks."""
    target = section.target.value
    now, later = section.current.value, section.with_mechanisms.value

    def verdict(value: float) -> str:
        return "met" if value >= target else "not met"

    if fmt.percent(now) == fmt.percent(later):
        return (
            f"System: {fmt.percent(now)} modeled (no fallback changes it); target"
            f" {fmt.percent(target)} {verdict(now)}."
        )
    return (
        f"System: {fmt.percent(now)} as specified (target {fmt.percent(target)} {verdict(now)});"
        f" {fmt.percent(later)} with the planned fallbacks ({verdict(later)})."
    )


def _weighting_line(section: AvailabilitySection) -> str:
    """How the entry points make the system's figure (the spec's `entry_weighting`)."""
    if section.entry_weighting == "traffic":
        return (
            "The system figure is the entry points weighted by traffic (entry_weighting: traffic)."
        )
    return (
        "The system figure is the lowest entry point's: the target holds only if every entry"
        " meets it (entry_weighting: every_entry)."
    )


# ---------------------------------------------------------------------------------- mechanisms


def mechanisms(plan: Plan) -> list[Block]:
    """Layers box, the mechanism table with its reasons, redundancy and isolation proposals."""
    return list(_mechanism_blocks(plan))


def _mechanism_blocks(plan: Plan) -> Iterator[Block]:
    """`mechanisms`, a block at a time: a large plan has tens of thousands of policies."""
    yield Section("RESILIENCE MECHANISMS")
    yield Heading("Architecture:")
    yield _layers(plan)
    yield from _policies(plan)
    yield from _redundancy(plan)


def _policies(plan: Plan) -> Iterator[Block]:
    """One small table per policy (the seed's four columns), then why each setting is what
    it is."""
    by_policy: dict[str, list[MechanismRow]] = {}
    for row in plan.mechanisms:
        by_policy.setdefault(row.policy, []).append(row)
    headers = ("Mechanism", "Type", "Config", "Trigger")
    for policy, rows in by_policy.items():
        first = rows[0]
        route = (
            f"inbound requests to {first.target}"
            if first.inbound
            else f"{first.caller} → {first.target}"
        )
        # tuples built here, not by table_block: a large plan has tens of thousands of policies
        labels = [mechanism_label(r.mechanism) for r in rows]
        table = Table(
            headers,
            tuple(
                (label, r.type, r.config, r.trigger) for label, r in zip(labels, rows, strict=True)
            ),
        )
        reasons = tuple(f"{label}: {r.reason}" for label, r in zip(labels, rows, strict=True))
        yield Fold(Heading(f"Policy {policy} ({route}):"), (table, Bullets(reasons)))


def _redundancy(plan: Plan) -> list[Block]:
    """Redundancy and isolation proposals."""
    blocks: list[Block] = []
    redundancy = plan.redundancy
    if redundancy.proposals:
        blocks += [
            Heading("Redundancy:"),
            _table(
                ("Component", "Now", "Proposed", "Placement", "Component Avail.", "System After"),
                (
                    (
                        p.component,
                        f"{p.current_min_healthy}-of-{p.current_replicas}",
                        f"{p.proposed_min_healthy}-of-{p.proposed_replicas}",
                        ", ".join(p.placement) or fmt.NONE,
                        f"{fmt.percent(p.current.value)} → {fmt.percent(p.resulting.value)}",
                        fmt.percent(p.system_after.value),
                    )
                    for p in redundancy.proposals
                ),
            ),
            Bullets(tuple(p.reason for p in redundancy.proposals)),  # each names its component
            Paragraph(
                f"With every proposal applied: {fmt.percent(redundancy.achievable.value)} modeled"
                + (" with the planned fallbacks." if redundancy.covered_by_fallback else ".")
            ),
        ]
    if redundancy.covered_by_fallback:
        if not redundancy.proposals:
            blocks.append(Heading("Redundancy:"))
        blocks.append(
            Bullets(tuple(f"{c.component}: {c.reason}" for c in redundancy.covered_by_fallback))
        )
    if redundancy.isolation:
        blocks += [
            Heading("Isolation:"),
            Bullets(
                tuple(
                    f"{i.caller} → {i.target}: bulkhead of {i.max_concurrent:,} — {i.reason}"
                    for i in redundancy.isolation
                )
            ),
        ]
    return blocks


def _layers(plan: Plan) -> Picture:
    groups = layer_groups(plan)
    alt = "Resilience layers: " + "; ".join(
        f"{name} — {', '.join(item_text(i) for i in items)}" for name, items in groups
    )
    data = LayersPicture(tuple((name, tuple(items)) for name, items in groups))
    return Picture("resilience-layers", alt, data, tuple(layers_box(groups)))


_BUILDERS: dict[str, Callable[[Plan], Iterable[Block]]] = {
    "failures": failures,
    "availability": availability,
    "mechanisms": _mechanism_blocks,
    "recovery": recovery,
    "monitoring": monitoring,
    "sla": sla,
}


#: The `Plan` fields (and `report` keys of the JSON/YAML document) behind each section.
REPORT_KEYS = {
    "failures": ("failure_modes", "risk_matrix", "blast_radius", "spofs", "graph"),
    "availability": ("availability",),
    "mechanisms": ("mechanisms", "redundancy"),
    "recovery": ("recovery",),
    "monitoring": ("monitoring",),
    "sla": ("sla",),
}

#: Report keys every partial document keeps: who the plan is for and the modeled availability.
ALWAYS_KEYS = ("header", "current")


def _check_sections(sections: Sequence[str]) -> None:
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown report section(s) {unknown}; expected some of {SECTIONS}")


def report_keys(sections: Sequence[str]) -> set[str]:
    """The `report` keys a partial JSON/YAML document keeps for `sections`."""
    _check_sections(sections)
    return {*ALWAYS_KEYS, *(key for name in sections for key in REPORT_KEYS[name])}


def document(plan: Plan, sections: Sequence[str] | None = None) -> list[Block]:
    """The header, then `sections` (default: all of SECTIONS) in report order."""
    return list(document_blocks(plan, sections))


def document_blocks(plan: Plan, sections: Sequence[str] | None = None) -> Iterator[Block]:
    """`document`, made as it is read: a writer draws each block and lets it go before the
    next is made, so memory holds the plan and a section's small parts, not every block."""
    wanted = SECTIONS if sections is None else tuple(sections)
    _check_sections(wanted)  # now, not at the first block
    return _blocks(plan, wanted)


def _blocks(plan: Plan, wanted: Sequence[str]) -> Iterator[Block]:
    yield from header(plan)
    for name in SECTIONS:
        if name in wanted:
            yield from _BUILDERS[name](plan)
