"""Performance helpers shared by the analysis and the serializer."""

from __future__ import annotations

from resilience.perf import no_cyclic_gc

__all__ = ["fsum_partials", "no_cyclic_gc"]


def fsum_partials(values: list[float]) -> list[float]:
    """Non-overlapping floats whose exact sum is the exact sum of `values` (Shewchuk), so that
    `fsum(partials + more)` is the correctly rounded sum of `values + more`."""
    partials: list[float] = []
    for x in values:
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]
    return partials
