"""`Figure`: a derived number with its unit, formula and inputs, the unit of every plan figure.
Re-exported by `planner.model`."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DERIVATIONS", "SIGNIFICANT_DIGITS", "Figure", "figure_key", "significant"]


#: How the plan document writes a figure's derivation (`planner.document`); the first is the
#: CLI's default: compact (each distinct figure once, in `report.figures`; records as tables),
#: refs (inputs + the formula's index in `report.formulas`), full, none.
DERIVATIONS = ("compact", "refs", "full", "none")

#: Significant digits a derived float keeps: far beyond any input's precision, and short enough
#: that binary rounding noise (0.010000000000005116, 99.99749999999999) never reaches the plan.
SIGNIFICANT_DIGITS = 12


def significant(value: float) -> float:
    """`value` rounded to SIGNIFICANT_DIGITS significant digits (inf and nan unchanged)."""
    if not math.isfinite(value) or value == 0.0:
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True, slots=True, init=False)
class Figure:
    """A derived number with its unit, the formula that produced it and that formula's inputs.

    Floats are kept as computed; the plan document rounds them to `SIGNIFICANT_DIGITS` when it is
    written (`planner.document.plan_to_dict`), so no output shows binary rounding noise and building
    a large plan does not pay for rounding hundreds of thousands of figures."""

    value: float
    unit: str
    formula: str
    inputs: Mapping[str, float | int | str] = field(default_factory=dict)

    def __init__(
        self,
        value: float,
        unit: str,
        formula: str,
        inputs: Mapping[str, float | int | str] | None = None,
    ) -> None:
        # A plan makes about 40 figures per component. The frozen dataclass's own __init__ goes
        # through object.__setattr__ once per field; the slots' setters take half the time
        # (measured: 0.74 µs a figure instead of 1.46 µs). Still frozen: assignment raises.
        _set_value(self, value)
        _set_unit(self, unit)
        _set_formula(self, formula)
        _set_inputs(self, {} if inputs is None else inputs)


def _slot_setter(name: str) -> Callable[[Figure, Any], None]:
    """The setter of one of Figure's slots (its member descriptor's `__set__`)."""
    setter: Callable[[Figure, Any], None] = vars(Figure)[name].__set__
    return setter


_set_value = _slot_setter("value")
_set_unit = _slot_setter("unit")
_set_formula = _slot_setter("formula")
_set_inputs = _slot_setter("inputs")


#: Types whose equal values write the same text, but for ±0.0 (`figure_key` tells them apart).
_SCALARS = frozenset({str, int, float, bool, type(None)})

#: Types of (value, unit, formula, *inputs) → whether all are scalars (a few dozen such tuples).
_PLAIN_TYPES: dict[tuple[type, ...], bool] = {}


def figure_key(fig: Figure) -> Hashable | None:
    """What decides a figure's text: equal keys, equal text; None if its parts are not scalars.

    Types are part of the key (1, 1.0 and True are equal, not written alike), and so is the
    sign of each zero (0.0 == -0.0)."""
    inputs = fig.inputs
    parts = (fig.value, fig.unit, fig.formula, *inputs.values())
    types = tuple(map(type, parts))
    scalar = _PLAIN_TYPES.get(types)
    if scalar is None:
        scalar = _PLAIN_TYPES[types] = _SCALARS.issuperset(types)
    if not scalar:
        return None
    if 0.0 in parts:
        signs = tuple(math.copysign(1.0, p) if type(p) is float and not p else 0.0 for p in parts)
        return (tuple(inputs), parts, types, signs)
    return (tuple(inputs), parts, types)
