"""Durations and percentages: parsing the spec's notation and formatting figures for humans."""

from __future__ import annotations

import functools
import math

# The one duration grammar (ns … w, compound values such as 1m30s), shared with plan files,
# experiments and the runtime: re-exported here for the spec's fields.
from resilience.durations import parse_duration

__all__ = ["DAY", "format_duration", "format_percent", "format_spec_duration", "parse_duration"]

#: Seconds in a day, and the period conventions the plan labels explicitly.
DAY = 86400.0


@functools.lru_cache(maxsize=4096)
def format_duration(seconds: float) -> str:
    """Human form of a duration: "8h 45m 36s", "4m 19.2s", "11.83s", "667ms", "0.5ms".

    Below a second, whole milliseconds (one decimal under 10 ms); below a minute, up to two
    decimals — the precision of the mechanism table's settings, so a figure reads the same in a
    reason and in a table; above, to 0.1 s. Halves round up.
    """
    if math.isinf(seconds):
        return "unbounded" if seconds > 0 else "-unbounded"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 0.9995:
        ms = seconds * 1000
        if ms < 9.95:
            return f"{_half_up(ms, 1):g}ms"
        return f"{_half_up(ms, 0):.0f}ms"
    if seconds < 59.995:
        return f"{_half_up(seconds, 2):g}s"
    tenths = int(_half_up(seconds * 10, 0))
    days, rest = divmod(tenths, 864000)
    hours, rest = divmod(rest, 36000)
    minutes, rest = divmod(rest, 600)
    secs = rest / 10
    parts: list[str] = []
    if days:
        parts.append(f"{days}d")
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs:
        parts.append(f"{secs:g}s")
    return " ".join(parts)


def _half_up(value: float, digits: int) -> float:
    """`value` rounded half up to `digits` decimals (round() is half-even: 1.25 → 1.2)."""
    scale = 10.0**digits
    # the 1e-9 nudge absorbs binary representation error (1.005 is stored as 1.00499…)
    return math.floor(value * scale + 0.5 + 1e-9) / scale


@functools.lru_cache(maxsize=4096)
def format_spec_duration(seconds: float) -> str:
    """A duration in the spec's and the mechanism table's notation ("250ms", "2s", "90s", "15m")."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 120 or seconds % 60:
        return f"{seconds:g}s"
    if seconds < 7200 or seconds % 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def format_percent(percent: float, digits: int = 4) -> str:
    """A percentage with up to `digits` decimals and no trailing zeros: 99.9702, 99.99, 100."""
    text = f"{percent:.{digits}f}".rstrip("0").rstrip(".")
    return text
