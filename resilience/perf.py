"""Pausing the cyclic garbage collector while many small objects are made at once.

Loading a large plan (`resilience.load_plan`) and planning one (`planner`) make millions of
small objects and few or no reference cycles; the collector's repeated full-heap scans cost more
than the work itself. Reference counting still frees everything meanwhile.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["no_cyclic_gc"]


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block; its previous state is restored after.

    Planning a 10,000-component system allocates about a million small objects and no reference
    cycles; the collector's repeated full-heap scans cost more than the planning itself (measured:
    7.1 s CPU with it, 3.1 s without). Reference counting still frees everything; the collector's
    previous state is restored on the way out.

    On the way out the objects made meanwhile are moved to the oldest generation (`gc.freeze`
    then `gc.unfreeze`, two list splices): left in the youngest, the first collection after
    re-enabling would scan all of them at once (measured: 1.5 s of a 10,000-component plan).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
