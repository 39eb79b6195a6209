"""The analysis of a system spec: `build_plan(spec)` runs every stage, in the order below.

The build order is the data path: the graph of the spec → the modelled components (availability)
→ blast radius → mechanisms → failure modes → recovery → redundancy → monitoring. Each stage
reads what earlier stages computed and never re-derives it. Same spec → same plan: every
collection is built in sorted order, nothing depends on time or randomness.
`planner.document.plan_to_dict` turns the plan into the JSON/YAML document.
"""

from __future__ import annotations

from planner.analysis import (
    availability,
    blast,
    failures,
    mechanisms,
    monitoring,
    recovery,
    redundancy,
)
from planner.analysis.graph import Graph
from planner.model import Figure, Header, Plan
from planner.perf import no_cyclic_gc
from planner.spec import SystemSpec
from planner.units import DAY


def build_plan(spec: SystemSpec) -> Plan:
    """Run every analysis of the spec and assemble the plan."""
    with no_cyclic_gc():
        return _build(spec)


def _build(spec: SystemSpec) -> Plan:
    graph = Graph(spec)
    modeled = availability.model(graph)
    avail = availability.analyse(graph, modeled)
    radius = blast.analyse(graph)
    mech = mechanisms.derive(graph)
    fmea = failures.analyse(graph, modeled, radius, mech)
    recov = recovery.plan(graph, modeled, radius, mech)
    days = availability.PERIOD_DAYS[spec.slo_period]
    header = Header(
        system=spec.system,
        description=spec.description,
        tier=spec.tier_label,
        target=avail.target,
        period=spec.slo_period,
        period_label=availability.PERIOD_LABELS[spec.slo_period],
        period_seconds=Figure(days * DAY, "s", "period_days × 86400", {"period_days": days}),
        users=spec.users,
        components=len(spec.components),
    )
    return Plan(
        header=header,
        current=avail.current,
        failure_modes=fmea.modes,
        risk_matrix=fmea.matrix,
        blast_radius=radius.rows,
        spofs=radius.spofs,
        availability=avail,
        mechanisms=mech.rows,
        mechanism_table=mech.table,
        redundancy=redundancy.design(graph, modeled, mech),
        recovery=recov,
        monitoring=monitoring.plan(graph, fmea, mech, recov),
        sla=None,
    )
