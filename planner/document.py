"""The one plan → plain-data serializer: `plan_to_dict(plan)` is the JSON/YAML plan document.

The document's `mechanisms:` is exactly what `resilience.load_plan` loads; `report:` carries every
section with each derived figure as `{value, unit, formula, inputs}`. `to_plain` serializes any
part of a plan the same way (the `sla --format json` output uses it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from planner.model import Figure, Plan, significant
from planner.perf import no_cyclic_gc

__all__ = ["plan_to_dict", "to_plain"]


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_plain(value: Any) -> Any:
    """A plan value as plain data: Figure → {value, unit, formula, inputs}; ±inf → "unbounded"."""
    cls = type(value)
    if cls is str or cls is int or cls is bool or value is None:
        return value
    if cls is float:
        if math.isinf(value):
            return "unbounded" if value > 0 else "-unbounded"
        return None if math.isnan(value) else significant(value)
    if cls is Figure:
        return {
            "value": to_plain(value.value),
            "unit": value.unit,
            "formula": value.formula,
            "inputs": {k: to_plain(v) for k, v in value.inputs.items()},
        }
    if cls is tuple or cls is list:
        return [to_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_plain(getattr(value, name)) for name in _fields(cls)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan document: version, system, tier, slo, mechanisms (load_plan's table) and report.

    Infinite figures (an RPO without backups, an alert that can never fire) become "unbounded".
    """
    with no_cyclic_gc():
        return _document(plan)


def _document(plan: Plan) -> dict[str, Any]:
    tier = plan.header.tier if plan.header.tier != "custom" else None
    doc: dict[str, Any] = {"version": 1, "system": plan.header.system}
    if tier is not None:
        doc["tier"] = tier
    doc["slo"] = plan.header.target.value
    doc["mechanisms"] = to_plain(plan.mechanism_table)
    report = {
        f.name: to_plain(getattr(plan, f.name))
        for f in dataclasses.fields(plan)
        if f.name != "mechanism_table"
    }
    doc["report"] = report
    return doc
