"""Judging a probe's result against its tolerance (Chaos Toolkit's rules, plus `target`)."""

from __future__ import annotations

import math
import re
from typing import Any

from chaos.experiment import RangeTolerance, RegexTolerance, Tolerance

_MISSING = object()


def pick(value: Any, target: str | None) -> Any:
    """The part of a result a tolerance judges.

    With `target`, the dotted path into a mapping (``latency.p99``). Without it, a mapping that has
    a ``status`` is judged by its status (Chaos Toolkit's rule); anything else as it is.
    """
    if target is None:
        if isinstance(value, dict) and "status" in value:
            return value["status"]
        return value
    for part in target.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def within(tolerance: Tolerance, result: Any) -> tuple[bool, Any]:
    """(whether `result` is within `tolerance`, the value that was judged)."""
    target = tolerance.target if isinstance(tolerance, RangeTolerance | RegexTolerance) else None
    value = pick(result, target)
    if value is _MISSING:
        return False, None
    if isinstance(tolerance, RangeTolerance):
        number = _number(value)
        low, high = tolerance.range
        return number is not None and low <= number <= high, value
    if isinstance(tolerance, RegexTolerance):
        return value is not None and re.search(tolerance.pattern, str(value)) is not None, value
    if isinstance(tolerance, list):
        bounds = [_number(b) for b in tolerance]
        if len(tolerance) == 2 and None not in bounds:
            got = _number(value)
            lo, hi = bounds
            return got is not None and lo is not None and hi is not None and lo <= got <= hi, value
        return value in tolerance, value
    if isinstance(tolerance, bool) or isinstance(value, bool):
        # Strict: True is not 1 here, as in Chaos Toolkit.
        return type(value) is type(tolerance) and value == tolerance, value
    return value == tolerance, value


def describe(tolerance: Tolerance) -> str:
    """The tolerance as a short phrase: "error_ratio within [0, 0.001]"."""
    if isinstance(tolerance, RangeTolerance):
        low, high = tolerance.range
        what = f"{tolerance.target} " if tolerance.target else ""
        return f"{what}within [{low:g}, {high:g}]"
    if isinstance(tolerance, RegexTolerance):
        what = f"{tolerance.target} " if tolerance.target else ""
        return f"{what}matching /{tolerance.pattern}/"
    if isinstance(tolerance, list):
        if len(tolerance) == 2 and all(_number(b) is not None for b in tolerance):
            return f"within [{tolerance[0]}, {tolerance[1]}]"
        return f"one of {tolerance}"
    return f"equal to {tolerance!r}"
