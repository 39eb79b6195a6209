"""`Figure`: a derived number with its unit, formula and inputs, the unit of every plan figure.
Re-exported by `planner.model`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DERIVATIONS", "SIGNIFICANT_DIGITS", "Figure", "significant"]


#: How the plan document writes a figure's derivation (`planner.document`); the first is the
#: CLI's default: refs (inputs + the formula's index in `report.formulas`), full, none.
DERIVATIONS = ("refs", "full", "none")

#: Significant digits a derived float keeps: far beyond any input's precision, and short enough
#: that binary rounding noise (0.010000000000005116, 99.99749999999999) never reaches the plan.
SIGNIFICANT_DIGITS = 12


def significant(value: float) -> float:
    """`value` rounded to SIGNIFICANT_DIGITS significant digits (inf and nan unchanged)."""
    if not math.isfinite(value) or value == 0.0:
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True, slots=True)
class Figure:
    """A derived number with its unit, the formula that produced it and that formula's inputs.

    Floats are kept as computed; the plan document rounds them to `SIGNIFICANT_DIGITS` when it is
    written (`planner.document.plan_to_dict`), so no output shows binary rounding noise and building
    a large plan does not pay for rounding hundreds of thousands of figures."""

    value: float
    unit: str
    formula: str
    inputs: Mapping[str, float | int | str] = field(default_factory=dict)
