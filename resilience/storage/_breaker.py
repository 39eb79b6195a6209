"""How a `CircuitBreaker` uses a `BreakerStorage`: the glue behind `CircuitBreaker(storage=...)`.

Two small declared seams, so neither side reads the other's private attributes:

- `LocalBreaker` is what the adapter may ask of the breaker (its settings, state, window,
  local decision, and the few state moves the fleet makes); `CircuitBreaker` implements it.
- `SharedBreakerAdapter`'s methods are what the breaker calls at its own seams (never on the
  closed-state call path): `state_changed` from every transition (a local trip is published to
  the fleet); `acquire` instead of the local decision when the breaker is not closed (half-open
  permits come from the fleet: exactly `half_open_calls` across all instances; if the storage is
  unavailable, or the fleet is closed because it never took this instance's trip, the local state
  machine decides); `release` / `record` for a fleet permit's call; `settings_changed` from
  `reconfigure` (e.g. a plan reload); `start` once, on the first async call of a breaker built
  outside a running loop, so even an instance that only ever succeeds hears about fleet trips.

The storage calls `shared_counts` (the local closed window) and `apply_shared` (adopt the fleet's
state) from its background sync. This module never imports `resilience.breaker`: states travel as
their string values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from resilience._circuit_open import CircuitOpenError
from resilience._core import CallContext
from resilience._errors import ConfigError
from resilience.storage import BreakerLink, BreakerSettings, BreakerStorage

# Manual states are this instance's operator decision: the fleet never overrides them.
_MANUAL = frozenset({"disabled", "forced_open", "metrics_only"})


class LocalBreaker(Protocol):
    """What a storage adapter may read and ask of the breaker it shares (`CircuitBreaker`)."""

    name: str
    failure_rate_threshold: float
    slow_call_rate_threshold: float
    minimum_calls: int
    half_open_calls: int
    max_wait_in_half_open: float
    open_duration: float | Callable[[int], float]

    @property
    def state(self) -> str:
        """The current state's value (closed, open, half_open, disabled, ...)."""

    @property
    def half_open_minimum(self) -> int:
        """How many half-open probes must finish before half-open decides."""

    @property
    def generation(self) -> int:
        """Bumped on every transition: what a permit granted now is recorded under."""

    def window_counts(self) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the current state's window."""

    def open_remaining(self) -> float:
        """Seconds until an open breaker may probe (≤ 0: it may; 0 when not open)."""

    def decide_locally(self, ctx: CallContext) -> int:
        """The breaker's own decision for one call: its generation, or raise `CircuitOpenError`."""

    def adopt(self, state: str, open_remaining: float | None = None) -> None:
        """Move to `state` (thread-safe); an open one probes after `open_remaining` seconds."""

    def rejection(self, ctx: CallContext, retry_after: float | None) -> CircuitOpenError:
        """The `CircuitOpenError` to raise for a refused call (emits `Rejected`)."""


class SharedBreakerAdapter:
    """Connects one `LocalBreaker` to a `BreakerStorage` (see the module docstring)."""

    __slots__ = ("_breaker", "_fleet_gen", "_settings", "link")

    def __init__(self, breaker: LocalBreaker, storage: BreakerStorage) -> None:
        if not isinstance(storage, BreakerStorage):
            raise ConfigError(
                f"CircuitBreaker.storage: expected a BreakerStorage such as "
                f"resilience.storage.RedisStorage, got {storage!r}"
            )
        self._breaker = breaker
        # The breaker's generation whose half-open permits were granted by the fleet.
        self._fleet_gen = -2
        self._settings = self._read_settings()
        self.link: BreakerLink = storage.attach(breaker.name, self._settings, self)

    @property
    def needs_start(self) -> bool:
        """True when built outside a running loop: the breaker calls `start` on its first
        async call (the storage's sync needs a loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        return False

    def start(self) -> None:
        """Start the storage's background sync on the running loop (idempotent)."""
        self.link.ensure_started()

    def _read_settings(self) -> BreakerSettings:
        breaker = self._breaker
        return BreakerSettings(
            failure_rate_threshold=breaker.failure_rate_threshold,
            slow_call_rate_threshold=breaker.slow_call_rate_threshold,  # >= as locally
            minimum_calls=breaker.minimum_calls,
            half_open_calls=breaker.half_open_calls,
            open_durations=BreakerSettings.durations_from(breaker.open_duration),
            max_wait_in_half_open=breaker.max_wait_in_half_open or None,
            # The breaker's own rule for when half-open decides, whatever it is.
            half_open_minimum=breaker.half_open_minimum,
        )

    def settings_changed(self) -> None:
        """Called by `CircuitBreaker.reconfigure`: the fleet decides with the new settings now."""
        settings = self._read_settings()
        if settings != self._settings:
            self._settings = settings
            self.link.update_settings(settings)

    # ------------------------------------------------------------------ SharedBreaker protocol

    def shared_counts(self) -> tuple[int, int, int]:
        """The local closed-state window (zeros in any other state)."""
        breaker = self._breaker
        if breaker.state != "closed":
            return (0, 0, 0)
        return breaker.window_counts()

    def apply_shared(self, state: str, open_remaining: float) -> None:
        """Move the breaker to the fleet's state; an open one probes after `open_remaining` s."""
        breaker = self._breaker
        if breaker.state in _MANUAL:
            return
        breaker.adopt(state, open_remaining if state == "open" else None)

    # ------------------------------------------------------------------ the breaker's seams

    def state_changed(self, from_state: str, to_state: str) -> None:
        """Called by the breaker for every change."""
        self.link.state_changed(str(from_state), str(to_state))

    async def acquire(self, ctx: CallContext) -> int:
        """Permission for one call while not closed: a fleet permit, or the local decision."""
        breaker = self._breaker
        state = breaker.state
        if state in _MANUAL or (state == "open" and breaker.open_remaining() > 0):
            return breaker.decide_locally(ctx)  # manual states and known-open: no round trip
        granted = await self._permit()
        if granted is None:
            # Storage unavailable, or a closed fleet with no half-open to share: local state.
            return breaker.decide_locally(ctx)
        # The reply may have moved the breaker (to closed, half_open or open) via apply_shared.
        state = breaker.state
        if state == "closed":
            return breaker.generation
        if granted:
            if state != "half_open":
                breaker.adopt("half_open")
            self._fleet_gen = breaker.generation
            return self._fleet_gen
        retry_after = breaker.open_remaining() if state == "open" else None
        raise breaker.rejection(ctx, retry_after if retry_after and retry_after > 0 else None)

    async def _permit(self) -> bool | None:
        """`link.acquire_permit()`, giving the permit back if the caller is cancelled meanwhile."""
        asking = asyncio.ensure_future(self.link.acquire_permit())
        try:
            return await asyncio.shield(asking)
        except asyncio.CancelledError:
            # Redis may grant the permit after the caller gave up: hand it straight back, or the
            # fleet would be one probe short until the half-open lease ran out.
            asking.add_done_callback(self._release_if_granted)
            raise

    def _release_if_granted(self, asking: asyncio.Future[bool | None]) -> None:
        if not asking.cancelled() and asking.exception() is None and asking.result():
            self.link.release_permit()

    def release(self, gen: int) -> bool:
        """A fleet permit's call was cancelled or ignored: the permit goes back to the fleet."""
        if gen != self._fleet_gen or gen != self._breaker.generation:
            return False
        self.link.release_permit()
        return True

    def record(self, gen: int, failed: bool, slow: bool) -> None:
        """A fleet permit's call finished: the fleet counts it toward closing or reopening."""
        if gen == self._fleet_gen:
            self.link.record(failed, slow)


def share(breaker: LocalBreaker, storage: Any) -> SharedBreakerAdapter:
    """Attach `breaker` to `storage` (called by `CircuitBreaker(storage=...)`)."""
    return SharedBreakerAdapter(breaker, storage)
