"""Request criticality: which calls an overloaded limiter refuses first.

A request carries one of three classes, from the ``X-Request-Criticality`` header (server side)
or the `criticality_var` context variable (anywhere):

============= ================================================================================
class         under saturation
============= ================================================================================
``critical``  admitted up to the whole limit; refused only when every permit is taken
``default``   admitted while fewer than ``shares.default`` (0.9) × limit calls are in flight
``sheddable`` admitted while fewer than ``shares.sheddable`` (0.5) × limit calls are in flight
============= ================================================================================

So sheddable traffic absorbs the shedding first and critical traffic always finds the headroom
the other classes may not use (Netflix concurrency-limits' partitioned limiter, Google's
criticality). `AdaptiveLimiter` enforces the shares. Added in 0.2.0.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from resilience._errors import ConfigError

__all__ = [
    "CRITICALITY_HEADER",
    "Criticality",
    "Shares",
    "criticality",
    "criticality_var",
    "parse_criticality",
]

CRITICALITY_HEADER = "X-Request-Criticality"
"""The request header a server reads a request's criticality from."""


class Criticality(StrEnum):
    """How much a request matters when there is not room for all of them."""

    CRITICAL = "critical"
    DEFAULT = "default"
    SHEDDABLE = "sheddable"


criticality_var: ContextVar[Criticality] = ContextVar(
    "resilience_criticality", default=Criticality.DEFAULT
)
"""The criticality of the work the current task does (default: ``default``)."""


@contextlib.contextmanager
def criticality(value: Criticality | str) -> Iterator[Criticality]:
    """Run a block with `value` as the current criticality, then restore the previous one."""
    level = value if isinstance(value, Criticality) else parse_criticality(value, strict=True)
    token = criticality_var.set(level)
    try:
        yield level
    finally:
        criticality_var.reset(token)


def parse_criticality(value: str | None, *, strict: bool = False) -> Criticality:
    """The class a header value names (case-insensitive); missing or unknown gives ``default``.

    A client cannot promote itself by sending garbage: an unknown value is ``default``. With
    ``strict=True`` an unknown value raises `ConfigError` instead (for values from code or a plan).
    """
    if value is None:
        return Criticality.DEFAULT
    text = value.strip().lower()
    for level in Criticality:
        if level.value == text:
            return level
    if strict:
        raise ConfigError(
            f"criticality: expected one of critical, default, sheddable, got {value[:40]!r}"
        )
    return Criticality.DEFAULT


@dataclass(frozen=True, slots=True)
class Shares:
    """The fraction of the limit each class may fill; ``critical`` always gets the whole limit."""

    default: float = 0.9
    sheddable: float = 0.5

    def __post_init__(self) -> None:
        for name, share in (("default", self.default), ("sheddable", self.sheddable)):
            if (
                not isinstance(share, int | float)
                or isinstance(share, bool)
                or not math.isfinite(share)
                or not 0 < share <= 1
            ):
                raise ConfigError(f"Shares.{name}: expected a fraction in (0, 1], got {share!r}")
        if self.sheddable > self.default:
            raise ConfigError(
                f"Shares.sheddable ({self.sheddable:g}) must not exceed Shares.default "
                f"({self.default:g}): sheddable requests are refused first"
            )
