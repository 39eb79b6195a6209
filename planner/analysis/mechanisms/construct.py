"""Constructors of the mechanisms' rows and figures, for the ~6 rows and ~5 figures of each edge.

`MechanismRow` and `Figure` are frozen, slotted dataclasses: their generated `__init__` sets each
field with `object.__setattr__`, a generic attribute lookup per field that made constructing a
row cost about twice what setting its slots directly does. `new_row` and `new_figure` build the same
instances (equal, the same type, still frozen) by setting each slot through its descriptor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from planner.model import Figure, MechanismRow

__all__ = ["new_figure", "new_row", "slot_constructor"]

T = TypeVar("T")


def slot_constructor(cls: type[T]) -> Callable[..., T]:
    """`make(*values)`: an instance of the frozen, slotted dataclass `cls` with its fields set to
    `values` (every field, in order), as `cls(*values)` makes it, without the frozen `__init__`."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    assert not {"_new", "_cls", "obj"} & set(names), names
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = ""
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = cls.__dict__[name].__set__  # the slot's member descriptor
        body += f"    _set{i}(obj, {name})\n"
    exec(f"def make({', '.join(names)}):\n    obj = _new(_cls)\n{body}    return obj\n", namespace)
    make: Callable[..., T] = namespace["make"]
    return make


_ROW = slot_constructor(MechanismRow)
_FIGURE = slot_constructor(Figure)


def new_row(
    policy: str,
    caller: str,
    target: str,
    mechanism: str,
    kind: str,
    config: str,
    trigger: str,
    reason: str,
    figures: Mapping[str, Figure],
    inbound: bool = False,
) -> MechanismRow:
    """`MechanismRow(...)`, built faster (`kind` is the row's `type`)."""
    return _ROW(policy, caller, target, mechanism, kind, config, trigger, reason, figures, inbound)


def new_figure(
    value: float, unit: str, formula: str, inputs: Mapping[str, float | int | str]
) -> Figure:
    """`Figure(value, unit, formula, inputs)`, built faster."""
    return _FIGURE(value, unit, formula, inputs)
