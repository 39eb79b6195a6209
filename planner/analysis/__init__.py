"""The analysis of a system spec: `build_plan(spec)` runs every stage, in the order below.

The build order (`_build`) is the data path: the graph of the spec with each component's facts
→ the alert set (SLO period, burn-rate alerts, time to page) → mechanisms (what the plan does on
each edge) → availability → blast radius → failure modes → recovery → redundancy → monitoring.
Each stage reads what earlier stages computed and never re-derives it. Same spec → same plan: every
collection is built in sorted order, nothing depends on time or randomness.
`planner.document.plan_to_dict` turns the plan into the JSON/YAML document.
"""

from __future__ import annotations

from collections.abc import Callable

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
from planner.analysis.monitoring.alerts import derive as derive_alerts
from planner.analysis.topology import dependency_graph
from planner.model import Figure, Header, Plan
from planner.perf import no_cyclic_gc
from planner.spec import SystemSpec

#: The stages `build_plan` reports to its `progress` callback, in order, each once it is done.
STAGES = (
    "graph",
    "mechanisms",
    "availability",
    "blast radius",
    "failure modes",
    "recovery",
    "redundancy",
    "monitoring",
)


def _quiet(stage: str) -> None:
    """No progress report."""


def build_plan(spec: SystemSpec, progress: Callable[[str], None] | None = None) -> Plan:
    """Run every analysis of the spec and assemble the plan; `progress(stage)` is called as
    each of STAGES is done (the CLI's progress bar)."""
    with no_cyclic_gc():
        return _build(spec, progress or _quiet)


def _build(spec: SystemSpec, done: Callable[[str], None]) -> Plan:
    graph = Graph(spec)  # with each component's facts, resolved once
    alerts = derive_alerts(spec)  # the SLO period, burn-rate alerts and time to page
    done("graph")
    mech = mechanisms.derive(graph)  # what the plan does on each edge
    done("mechanisms")
    modeled = availability.model(graph)
    avail = availability.analyse(graph, modeled, mech)
    done("availability")
    radius = blast.analyse(mech)
    done("blast radius")
    fmea = failures.analyse(graph, modeled, radius, mech)
    done("failure modes")
    recov = recovery.plan(graph, radius, mech, alerts)
    done("recovery")
    period = alerts.period
    header = Header(
        system=spec.system,
        description=spec.description,
        tier=spec.tier_label,
        target=avail.target,
        period=spec.slo_period,
        period_label=period.label,
        period_seconds=Figure(
            period.seconds, "s", "period_days × 86400", {"period_days": period.days}
        ),
        users=spec.users,
        components=len(spec.components),
    )
    redundant = redundancy.design(graph, modeled, mech)
    done("redundancy")
    monitored = monitoring.plan(graph, fmea, mech, recov, alerts)
    done("monitoring")
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
        redundancy=redundant,
        recovery=recov,
        monitoring=monitored,
        sla=None,
        graph=dependency_graph(graph),
    )
