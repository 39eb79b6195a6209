"""What acts on a `CircuitBreaker`'s state from outside a call: its effective state and manual
control, the seam its shared storage talks through (`LocalBreaker` in
resilience/storage/_breaker.py), and the timed transitions (`automatic_half_open`, a failure's
`retry_after` hint opening it). A mixin, so breaker.py keeps the settings, the state machine and
the call path; the state it reads is declared here and set by `CircuitBreaker.__init__`."""

from __future__ import annotations

import threading
from asyncio import _get_running_loop as _running_loop
from collections.abc import Callable
from typing import TYPE_CHECKING

from resilience._breaker_settings import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    METRICS_ONLY,
    OPEN,
    BreakerState,
    SettingsAttributes,
)
from resilience._circuit_open import CircuitOpenError
from resilience._core import CallContext

if TYPE_CHECKING:
    from resilience.storage._breaker import SharedBreakerAdapter

__all__ = ["BreakerSeam"]


class BreakerSeam(SettingsAttributes):
    """Effective state, manual control, the storage seam and the timed transitions of
    `CircuitBreaker` (see the module)."""

    # The breaker's state, set by its constructor.
    _state: BreakerState
    _gen: int
    _open_until: float
    _clock: Callable[[], float]
    _clock_injected: bool
    _loop_clock: bool
    _start_pending: bool
    _lock: threading.RLock
    _shared: SharedBreakerAdapter | None
    # Its state machine (methods of `CircuitBreaker`).
    _transition: Callable[[BreakerState, float], None]
    _acquire: Callable[[float, CallContext], int]
    _reject: Callable[[CallContext, float | None], CircuitOpenError]
    _half_open_expired: Callable[[float], bool]

    @property
    def effective_state(self) -> BreakerState:
        """The state the next call would find: open past its `open_duration` reads half_open.

        Read-only (no transition, no event), for readiness and gauges: with no traffic (a load
        balancer took the replica out) `state` would stay open forever. Added in 0.1.0.
        """
        state = self._state
        if state is OPEN and self._clock() >= self._open_until:
            return HALF_OPEN
        if state is HALF_OPEN and self._half_open_expired(self._clock()):
            return OPEN
        return state

    # ------------------------------------------------------------------ manual control

    def force_open(self) -> None:
        """Reject every call until `reset()` (or another manual state)."""
        self._transition(FORCED_OPEN, self._clock())

    def disable(self) -> None:
        """Let every call through and record nothing."""
        self._transition(DISABLED, self._clock())

    def metrics_only(self) -> None:
        """Let every call through and record outcomes, but never trip."""
        self._transition(METRICS_ONLY, self._clock())

    def reset(self) -> None:
        """Back to closed with an empty window."""
        self._transition(CLOSED, self._clock())

    # ------------------------------------------------------------------ the storage seam

    @property
    def generation(self) -> int:
        """Bumped on every transition: outcomes count only in the generation they started in."""
        return self._gen

    def open_remaining(self) -> float:
        """Seconds until an open breaker may probe (≤ 0: it may now); 0 when not open."""
        if self._state is not OPEN:
            return 0.0
        return self._open_until - self._clock()

    def decide_locally(self, ctx: CallContext) -> int:
        """This breaker's own decision for a call while not closed: its generation, or raise."""
        return self._acquire(self._clock(), ctx)

    def adopt(self, state: str, open_remaining: float | None = None) -> None:
        """Move to `state` as the fleet decided (open: probe after `open_remaining` s)."""
        target = BreakerState(state)
        with self._lock:  # threads running sync callables hold it while they decide
            now = self._clock()
            self._transition(target, now)
            if target is OPEN and open_remaining is not None:
                self._open_until = now + open_remaining

    def rejection(self, ctx: CallContext, retry_after: float | None) -> CircuitOpenError:
        """The error for a call the fleet refused (emits `Rejected`)."""
        return self._reject(ctx, retry_after)

    def _start_shared(self) -> None:
        """First async call of a shared breaker built outside a loop: start the storage's sync."""
        self._start_pending = False
        self._loop_clock = not self._clock_injected
        if self._shared is not None:
            self._shared.start()

    def _schedule(self, now: float) -> None:
        """Arm the timer of `automatic_half_open` for the current open or half-open period."""
        if self._state is OPEN:
            delay = self._open_until - now
        elif self.max_wait_in_half_open > 0:
            delay = self.max_wait_in_half_open
        else:
            return
        gen = self._gen
        loop = _running_loop()
        if loop is not None:
            loop.call_later(max(0.0, delay), self._scheduled, gen)
        else:  # a sync caller's thread: no loop to time it
            timer = threading.Timer(max(0.0, delay), self._scheduled, (gen,))
            timer.daemon = True
            timer.start()

    def _scheduled(self, gen: int) -> None:
        """The timer of `_schedule`: move on unless the state changed (or was extended) since."""
        with self._lock:
            if gen != self._gen:
                return
            now = self._clock()
            if self._state is OPEN and now >= self._open_until - 1e-6:
                self._transition(HALF_OPEN, now)
            elif self._state is HALF_OPEN and self._half_open_expired(now + 1e-6):
                self._transition(OPEN, now)

    def _open_for(self, gen: int, exc: Exception, now: float) -> None:
        """A failure's `retry_after` hint opens the breaker that long (`max_retry_after`)."""
        hint = getattr(exc, "retry_after", None)
        if not isinstance(hint, int | float) or isinstance(hint, bool) or not hint > 0:
            return
        state = self._state
        until = now + min(float(hint), self.max_retry_after)
        if state is not OPEN:
            if gen != self._gen or state not in (CLOSED, HALF_OPEN):
                return  # a call of another period, or a manual state: not the hint's business
            self._transition(OPEN, now)
            # the hint opened it: open for the hint, not for `open_duration` (a 10 s
            # Retry-After is 10 s open, even with a 60 s open duration)
            self._open_until = now
        if until > self._open_until:
            self._open_until = until
            if self.automatic_half_open:
                self._schedule(now)
