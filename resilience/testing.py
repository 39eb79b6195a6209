"""Helpers for testing code that uses resilience: virtual time.

`VirtualTimeLoop` is an asyncio event loop whose clock stands still while work is ready and jumps
straight to the next timer when the loop would otherwise wait, so `asyncio.sleep(60)`,
`asyncio.timeout`, backoff and breaker open durations take no real time. Real sockets still work:
they are polled without blocking, and the loop blocks for real only when no timer is pending.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # Nothing scheduled: only real I/O can wake the loop, so wait for it for real.
            return super().select(None)
        assert self.loop is not None
        self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock that jumps ahead whenever the loop is idle.

    Added in 0.1.0.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        """Virtual seconds."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` (never backwards)."""
        if seconds > 0:
            self._virtual_now += seconds


def virtual_time_loop_factory(**kwargs: Any) -> VirtualTimeLoop:
    """A loop factory for `asyncio.Runner` / pytest-asyncio."""
    return VirtualTimeLoop(**kwargs)
