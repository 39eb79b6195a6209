"""The one duration grammar of reliability-os: plan files, system specs, experiments and the CLI.

A duration is seconds as a number (``2.5``) or a string of one or more ``<number><unit>`` parts,
largest unit first, each unit at most once, Prometheus / Go style::

    "250ms"   "2s"   "1.5m"   "1m30s"   "1h 30m"   "300us"   "1d"   "2w"   "2.5"

Units: ``ns``, ``us`` (or ``µs``, ``μs``), ``ms``, ``s``, ``m``, ``h``, ``d`` (24 h), ``w`` (7 d);
a bare number is seconds. Durations are never negative, never infinite, and a string is at most
`MAX_LENGTH` characters (a parser of files written by others is bounded). `format_duration`
writes the compact form that `parse_duration` reads back (``format_duration(90) == "1m30s"``).

`Duration` and `PositiveDuration` are the pydantic field types every schema uses (seconds as a
float, read from either form). Added in 0.1.0.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Final, TypeAlias

from pydantic import BeforeValidator, Field, WithJsonSchema

__all__ = [
    "MAX_LENGTH",
    "PATTERN",
    "UNITS",
    "Duration",
    "PositiveDuration",
    "format_duration",
    "parse_duration",
]

UNITS: Final[dict[str, float]] = {
    "w": 604800.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC greek mu (Go accepts both)
    "ns": 1e-9,
}
"""Seconds per unit."""

MAX_LENGTH: Final = 64
"""The longest duration string accepted (``"1w1d1h1m1s1ms1us1ns"`` is 19)."""

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h|d|w)"
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})\s*")
_BARE = re.compile(rf"^{_NUMBER}$")
PATTERN: Final = rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*{_UNIT}\s*)+)$"
"""The grammar as one regular expression (for JSON Schema); `parse_duration` also checks the
units' order."""

# Each unit's rank, largest first; µs and μs rank as us.
_RANK = {unit: rank for rank, unit in enumerate(("w", "d", "h", "m", "s", "ms", "us", "ns"))}
_RANK["µs"] = _RANK["μs"] = _RANK["us"]

EXAMPLES: Final = "'250ms', '2s', '1m30s', '1d'"
_FORMS = f"seconds (2.5) or a number with a unit (ns, us, ms, s, m, h, d, w), e.g. {EXAMPLES}"


def _refuse(value: object, why: str = "") -> ValueError:
    shown = repr(value) if not isinstance(value, str) or len(value) <= MAX_LENGTH else "a string"
    return ValueError(f"expected a duration{why}: {_FORMS}, got {shown}")


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string (see the module docstring).

    Raises `ValueError` (one sentence saying what is expected) for anything else: booleans,
    negative or infinite numbers, unknown units, units out of order or repeated, strings longer
    than `MAX_LENGTH`.
    """
    if isinstance(value, bool):
        raise _refuse(value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        if len(value) > MAX_LENGTH:
            raise _refuse(value, f" of at most {MAX_LENGTH} characters")
        seconds = _parse_text(value)
    else:
        raise _refuse(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise _refuse(value, " (finite, not negative)")
    return seconds


def _parse_text(value: str) -> float:
    text = value.strip()
    if _BARE.match(text):
        return float(text)
    seconds = 0.0
    position = 0
    last_rank = -1
    while position < len(text):
        part = _PART.match(text, position)
        if part is None:
            raise _refuse(value)
        number, unit = part.groups()
        rank = _RANK[unit]
        if rank <= last_rank:
            raise _refuse(value, " (units largest first, each once)")
        last_rank = rank
        seconds += float(number) * UNITS[unit]
        position = part.end()
    if last_rank < 0:
        raise _refuse(value)
    return seconds


_FORMAT_UNITS = (
    ("w", 604800 * 10**9),
    ("d", 86400 * 10**9),
    ("h", 3600 * 10**9),
    ("m", 60 * 10**9),
    ("s", 10**9),
    ("ms", 10**6),
    ("us", 10**3),
    ("ns", 1),
)


def format_duration(seconds: float) -> str:
    """The compact form of `seconds` (to the nanosecond): ``"1m30s"``, ``"250ms"``, ``"0s"``.

    `parse_duration` reads it back. Raises `ValueError` for a negative or infinite value.
    """
    if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a finite duration in seconds ≥ 0, got {seconds!r}")
    left = round(seconds * 1e9)
    parts: list[str] = []
    for unit, size in _FORMAT_UNITS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": PATTERN, "maxLength": MAX_LENGTH},
    ],
    "description": f"seconds, or a number with a unit (ns, us, ms, s, m, h, d, w): {EXAMPLES}",
}

Duration: TypeAlias = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_SCHEMA)]
"""Seconds, ≥ 0, read from a number or a duration string."""

PositiveDuration: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0),
    WithJsonSchema({**_SCHEMA, "description": f"seconds (> 0), or {EXAMPLES}"}),
]
"""Seconds, > 0."""
