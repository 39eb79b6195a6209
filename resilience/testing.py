"""Helpers for testing code that uses resilience: virtual time and testing mode.

`VirtualTimeLoop` is an asyncio event loop whose clock stands still while work is ready and jumps
straight to the next timer when the loop would otherwise wait, so `asyncio.sleep(60)`,
`asyncio.timeout`, backoff and breaker open durations take no real time. Real sockets still work:
they are polled without blocking, and the loop blocks for real only when no timer is pending.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

from resilience._core import testing_mode
from resilience._errors import ConfigError


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


class _TestingSwitch:
    """Returned by `set_testing`; as a context manager it restores the previous mode on exit."""

    def __init__(self, previous: tuple[bool, int, bool]) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        testing_mode.active, testing_mode.attempts, testing_mode.cap = self._previous


def set_testing(testing: bool, *, attempts: int = 1, cap: bool = False) -> _TestingSwitch:
    """Switch testing mode for your own test suite: retries make `attempts` attempts, no sleeps.

    With ``cap=True`` a retry makes ``min(attempts, max_attempts)`` attempts instead. Works as a
    plain call (``set_testing(True)``) or as a context manager that restores the previous mode
    (``with set_testing(True, attempts=2): ...``), like stamina's. Added in 0.1.0.
    """
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise ConfigError(f"set_testing attempts: expected an integer >= 1, got {attempts!r}")
    previous = (testing_mode.active, testing_mode.attempts, testing_mode.cap)
    testing_mode.active, testing_mode.attempts, testing_mode.cap = bool(testing), attempts, cap
    return _TestingSwitch(previous)


def is_testing() -> bool:
    """True while testing mode is on."""
    return testing_mode.active
