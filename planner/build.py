"""`build_plan(spec)` runs every analysis; `plan_to_dict(plan)` gives the JSON/YAML document.

The document's `mechanisms:` is exactly what `resilience.load_plan` loads; `report:` carries every
section with each derived figure as `{value, unit, formula, inputs}`. Same spec → same plan:
every collection is built in sorted order, nothing depends on time or randomness.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from planner import availability, blast, failures, mechanisms, monitoring, recovery, redundancy
from planner.graph import Graph
from planner.model import Figure, Header, Plan
from planner.spec import SystemSpec
from planner.units import DAY


def build_plan(spec: SystemSpec) -> Plan:
    """Run every analysis of the spec and assemble the plan."""
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


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        if math.isinf(value):
            return "unbounded" if value > 0 else "-unbounded"
        if math.isnan(value):
            return None
        return value
    if isinstance(value, Figure):
        return {
            "value": _plain(value.value),
            "unit": value.unit,
            "formula": value.formula,
            "inputs": {k: _plain(v) for k, v in value.inputs.items()},
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan document: version, system, tier, slo, mechanisms (load_plan's table) and report.

    Infinite figures (an RPO without backups, an alert that can never fire) become "unbounded".
    """
    tier = plan.header.tier if plan.header.tier != "custom" else None
    doc: dict[str, Any] = {"version": 1, "system": plan.header.system}
    if tier is not None:
        doc["tier"] = tier
    doc["slo"] = plan.header.target.value
    doc["mechanisms"] = _plain(plan.mechanism_table)
    report = {
        f.name: _plain(getattr(plan, f.name))
        for f in dataclasses.fields(plan)
        if f.name != "mechanism_table"
    }
    doc["report"] = report
    return doc
