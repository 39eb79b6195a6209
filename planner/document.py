"""The one plan → plain-data serializer: `plan_to_dict(plan)` is the JSON/YAML plan document.

The document's `mechanisms:` is exactly what `resilience.load_plan` loads; `report:` carries every
section with each derived figure as `{value, unit, formula, inputs}`. `to_plain` serializes any
part of a plan the same way (the `sla --format json` output uses it).

How a figure's derivation is written (`derivations`):

- `full`: each figure carries its formula text and its inputs.
- `refs` (what the CLI writes): each figure carries its inputs and `formula`, the index of its
  text in `report.formulas` (a list, each text once): a plan has ~120 distinct formulas and
  hundreds of thousands of figures. Every figure stays traceable: `formulas[formula]` + inputs.
  Each fact is stated once: the prose that renders figures (reason lines, mitigations, the
  runbooks' text) and what repeats another field are left out (`planner.refs` says what).
- `none`: each figure is `{value, unit}` only.

`document(plan, ...)` is the same document with its large parts left lazy (`LazyMap`,
`LazyList`, converted item by item when written), so the writers in `planner.render.stream` can
write a 100,000-component plan without holding the whole plain document in memory.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.figure import DERIVATIONS
from planner.model import Figure, Plan, significant
from planner.perf import no_cyclic_gc
from planner.refs import SLIM

__all__ = [
    "DERIVATIONS",
    "Deferred",
    "LazyList",
    "LazyMap",
    "Plain",
    "Section",
    "document",
    "materialize",
    "plan_to_dict",
    "to_plain",
]

_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


class Plain:
    """Plan values → plain data, figures written as `derivations` says (see the module doc)."""

    def __init__(self, derivations: str = "full") -> None:
        if derivations not in DERIVATIONS:
            raise ValueError(f"derivations: expected one of {', '.join(DERIVATIONS)}")
        self.derivations = derivations
        #: formula text → its index in `report.formulas` (refs), in order of first use
        self.formulas: dict[str, int] = {}
        #: item type → what of it the document writes (refs: each fact once, `planner.refs`)
        self.slim = SLIM if derivations == "refs" else {}

    def __call__(self, value: Any) -> Any:
        """A plan value as plain data: ±inf → "unbounded", nan → None, floats rounded."""
        cls = type(value)
        if cls is str or cls is int or cls is bool or value is None:
            return value
        if cls is float:
            if math.isinf(value):
                return "unbounded" if value > 0 else "-unbounded"
            return None if math.isnan(value) else significant(value)
        if cls is Figure:
            return self._figure(value)
        if cls is tuple or cls is list:
            return [self(v) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            slim = self.slim.get(cls)
            if slim is not None:
                return {name: self(v) for name, v in slim(value).items()}
            return {name: self(getattr(value, name)) for name in _fields(cls)}
        if isinstance(value, Mapping):
            return {str(k): self(v) for k, v in value.items()}
        return value

    def _figure(self, fig: Figure) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self(fig.value), "unit": fig.unit}
        if self.derivations == "none":
            return out
        if self.derivations == "refs":
            index = self.formulas.get(fig.formula)
            if index is None:
                index = self.formulas[fig.formula] = len(self.formulas)
            out["formula"] = index
        else:
            out["formula"] = fig.formula
        out["inputs"] = {k: self(v) for k, v in fig.inputs.items()}
        return out


def to_plain(value: Any) -> Any:
    """A plan value as plain data: Figure → {value, unit, formula, inputs}; ±inf → "unbounded"."""
    return _FULL(value)


_FULL = Plain("full")


@dataclass(frozen=True, slots=True)
class LazyList:
    """A list written item by item: `convert(item)` for each of `items`."""

    items: Sequence[Any]
    convert: Callable[[Any], Any]

    def __iter__(self) -> Iterator[Any]:
        return (self.convert(item) for item in self.items)


@dataclass(frozen=True, slots=True)
class LazyMap:
    """A mapping whose values are made when written (each a plain value or another lazy one)."""

    keys: Sequence[str]
    make: Callable[[str], Any]

    def items(self) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs, each value made as it is reached."""
        return ((key, self.make(key)) for key in self.keys)


@dataclass(frozen=True, slots=True)
class Deferred:
    """A value made only when the writer reaches it (the formulas table, once all is written)."""

    make: Callable[[], Any]


class Section(dict[str, Any]):
    """A mapping of the document that may hold lazy values (the document and its report)."""


def _lazy(value: Any, plain: Plain, depth: int) -> Any:
    """`value` as plain data, its lists and dataclass fields `depth` levels down left lazy."""
    if depth > 0 and type(value) in (tuple, list) and value:
        return LazyList(value, plain)
    if depth > 0 and type(value) is not Figure and dataclasses.is_dataclass(value):
        fields = _fields(type(value))
        return LazyMap(fields, lambda name: _lazy(getattr(value, name), plain, depth - 1))
    return plain(value)


def document(
    plan: Plan, derivations: str = "full", report_keys: Collection[str] | None = None
) -> dict[str, Any]:
    """The plan document with its large parts lazy; `report_keys` keeps only those report
    sections and leaves `mechanisms` out (a partial report, not a plan file)."""
    plain = Plain(derivations)
    tier = plan.header.tier if plan.header.tier != "custom" else None
    doc = Section(version=1, system=plan.header.system)
    if tier is not None:
        doc["tier"] = tier
    doc["slo"] = plan.header.target.value
    if report_keys is None:
        table = plan.mechanism_table
        doc["mechanisms"] = LazyMap(tuple(table), lambda name: plain(table[name])) if table else {}
    names = [
        f.name
        for f in dataclasses.fields(plan)
        if f.name != "mechanism_table" and (report_keys is None or f.name in report_keys)
    ]
    report = Section({name: _lazy(getattr(plan, name), plain, 2) for name in names})
    if derivations == "refs":
        report["formulas"] = Deferred(lambda: list(plain.formulas))
    doc["report"] = report
    return doc


def materialize(value: Any) -> Any:
    """A document from `document` with every lazy part made: plain dicts and lists."""
    if isinstance(value, LazyList):
        return list(value)  # its items are plain
    if isinstance(value, LazyMap):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, Deferred):
        return materialize(value.make())
    if isinstance(value, Section):
        return {k: materialize(v) for k, v in value.items()}
    return value  # plain data already


def plan_to_dict(plan: Plan, derivations: str = "full") -> dict[str, Any]:
    """The plan document: version, system, tier, slo, mechanisms (load_plan's table) and report.

    Infinite figures (an RPO without backups, an alert that can never fire) become "unbounded".
    """
    with no_cyclic_gc():
        result: dict[str, Any] = materialize(document(plan, derivations))
        return result
