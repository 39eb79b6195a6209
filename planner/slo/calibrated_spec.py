"""The calibrated spec: the user's file with the drifted figures replaced, comments and layout kept.

ruamel.yaml's round-trip mode keeps comments, key order, flow mappings and quoting; only the
values that drifted change (`latency.p50`, `latency.p99`, `availability` of a dependency). The
result is validated as a spec before it is written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from planner.errors import PlannerError
from planner.slo.calibrate import Calibration, DependencyMeasure
from planner.units import format_spec_duration

__all__ = ["Change", "calibrated_text", "changes"]


@dataclass(frozen=True, slots=True)
class Change:
    """One figure of the spec the measurements replace."""

    component: str
    field: str  # "latency.p99" | "latency.p50" | "availability"
    declared: float
    measured: float
    text: str  # the value as written into the spec


def _significant(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}")


def _duration_text(seconds: float) -> str:
    return format_spec_duration(_significant(seconds))


def changes(calibration: Calibration) -> tuple[Change, ...]:
    """The drifted figures, in dependency order: what the calibrated spec writes."""
    out: list[Change] = []
    for dep in calibration.dependencies:
        out.extend(_of(dep))
    return tuple(out)


def _of(dep: DependencyMeasure) -> list[Change]:
    out = []
    if dep.p99_drift and dep.p99 is not None and dep.declared_p99 is not None:
        out.append(
            Change(dep.target, "latency.p99", dep.declared_p99, dep.p99, _duration_text(dep.p99))
        )
    p99 = _significant(dep.p99) if out and dep.p99 is not None else dep.declared_p99
    # the spec refuses p50 > p99: a p50 past the p99 kept is not written
    p50_fits = dep.p50 is not None and (p99 is None or _significant(dep.p50) <= p99)
    if dep.p50_drift and p50_fits and dep.p50 is not None and dep.declared_p50 is not None:
        out.append(
            Change(dep.target, "latency.p50", dep.declared_p50, dep.p50, _duration_text(dep.p50))
        )
    avail = dep.availability
    if dep.availability_drift and avail is not None and dep.declared_availability is not None:
        # no failure in n calls bounds the availability below only: 1 − 3/n (the rule of
        # three, 95 %) is what the data supports, never more
        bound = 100.0 * (1.0 - 3.0 / dep.calls) if dep.failure_ratio == 0.0 else avail
        measured = math.floor(bound * 1e4) / 1e4 if dep.failure_ratio == 0.0 else round(bound, 4)
        out.append(
            Change(dep.target, "availability", dep.declared_availability, measured, f"{measured:g}")
        )
    return out


#: A scalar as it stands in the source: quoted, or plain up to a separator or a comment.
_SCALAR = re.compile(
    r"\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*'|[^,}\]\s#][^,}\]#\n]*?(?=\s*(?:[,}\]\n#]|$))"
)


def calibrated_text(source: str, text: str, found: tuple[Change, ...]) -> str:
    """`text` (the spec at `source`) with every change applied in place: only the changed
    scalars are rewritten, so every other byte (comments, layout, quoting) stays as it was."""
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise PlannerError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not hasattr(doc, "get"):
        return text
    components = {c.get("name"): c for c in doc.get("components") or [] if hasattr(c, "get")}
    edits: list[tuple[int, int, str]] = []  # (line, column, new text) of a scalar value
    for change in found:
        node = components.get(change.component)
        if change.field == "availability":
            owner, key = node, "availability"
        else:
            owner, key = node.get("latency") if node is not None else None, change.field[8:]
        if owner is None or key not in owner or not hasattr(owner, "lc"):
            continue  # declared otherwise (MTBF/MTTR, no p50): the table says it, the file keeps it
        line, column = owner.lc.value(key)
        edits.append((line, column, change.text))
    lines = text.splitlines(keepends=True)
    for line, column, new in sorted(edits, reverse=True):
        found_scalar = _SCALAR.match(lines[line], column)
        if found_scalar is None:
            continue
        lines[line] = lines[line][:column] + new + lines[line][found_scalar.end() :]
    return "".join(lines)
