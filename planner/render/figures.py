"""How the report writes numbers: percentages, durations and `Figure`s, the same in every format."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from planner.model import Figure, significant
from planner.units import format_duration, format_percent

#: Written where a table cell has no value (no target given, nothing measured).
NONE = "—"


def _default_digits(value: float) -> int:
    if value >= 90 or value == 0:
        return 4
    return max(1, 2 - math.floor(math.log10(abs(value))))


def percent(value: float, digits: int | None = None) -> str:
    """`99.9523%`, `53.3%`, `0.144%`; never rounds an availability below 100 up to "100%".

    By default availabilities (≥ 90) keep four decimals, so the nines stay visible; smaller
    percentages keep three significant digits.
    """
    value = significant(value)  # as the plan document writes it: no binary rounding noise
    if digits is None and abs(value) >= 1000:
        # A budget spent many times over: the digits after the point say nothing.
        return f"{value:,.0f}%"
    if digits is None:
        digits = _default_digits(value)
    text = format_percent(value, digits)
    while value < 100 and text == "100" and digits < 12:
        digits += 1
        text = format_percent(value, digits)
    return f"{text}%"


def share(value: float) -> str:
    """A share of users or budget, to one decimal: `80%`, `12.5%`, `0%`."""
    return f"{format_percent(value, 1)}%"


def minutes(value: float) -> str:
    """Minutes as the seed writes the error budget, to 0.01 min: `4.32`, `43.2`, `1,440`."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def duration(seconds: float) -> str:
    """`4m 30s`, `250ms`, `0s`."""
    return format_duration(seconds)


def figure(fig: Figure | None) -> str:
    """A Figure in its unit: seconds as a duration, percent with %, counts and ratios plainly."""
    if fig is None:
        return NONE
    unit = fig.unit.strip()
    value = significant(fig.value)
    if math.isnan(value):
        return NONE
    if math.isinf(value):
        return "unbounded" if value > 0 else "-unbounded"
    if unit in ("s", "seconds", "second"):
        return duration(value)
    if unit in ("%", "percent"):
        return percent(value)
    if unit in ("min", "minutes"):
        return f"{minutes(value)} min"
    if unit in ("ratio", "fraction"):
        return f"{value:.6g}"
    if unit in ("x", "×", "burn rate"):
        return f"{value:g}×"
    text = f"{value:.6g}" if not float(value).is_integer() else f"{int(value)}"
    return f"{text} {unit}" if unit and unit not in ("1", "count") else text


def threshold(comparison: str, fig: Figure) -> str:
    """A monitoring threshold as the seed writes it: `<99.95%`, `>300ms`."""
    return f"{comparison}{figure(fig)}"


def iso_time(ts: float) -> str:
    """Unix seconds as the report writes times: `2026-05-20T00:00:00Z`."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
