"""Time and sleeping, injectable so that tests run in virtual time.

By default time is the running event loop's clock (`loop.time()`, monotonic) and sleeping is
`asyncio.sleep`; under `resilience.testing.VirtualTimeLoop` both are virtual with no injection.
Outside a running loop (sync callables on threads) time is `time.monotonic()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
"""A function returning monotonic seconds."""

Sleeper = Callable[[float], Awaitable[None]]
"""An async function that sleeps for the given seconds."""

_get_running_loop = asyncio.get_running_loop
_monotonic = time.monotonic


def monotonic() -> float:
    """Seconds on the running loop's clock, or `time.monotonic()` when no loop runs."""
    try:
        return _get_running_loop().time()
    except RuntimeError:
        return _monotonic()


async def sleep(seconds: float) -> None:
    """Default sleeper: `asyncio.sleep`."""
    await asyncio.sleep(seconds)
