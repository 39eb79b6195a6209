"""How a `CircuitBreaker` uses a `BreakerStorage`: the glue behind `CircuitBreaker(storage=...)`.

The breaker calls this adapter at its seams (never on the closed-state call path):

- `state_changed` from `_transition`: a local trip is published to the fleet;
- `acquire` instead of `_acquire` when the breaker is not closed: half-open permits come from the
  fleet (exactly `half_open_calls` across all instances); if the storage is unavailable, or the
  fleet is closed (it never took this instance's trip), the breaker's own local `_acquire`
  decides;
- `release` / `record` from `_release` / `_record`: a fleet permit's outcome goes to the fleet,
  which closes or reopens the breaker everywhere;
- `settings_changed` from `reconfigure` (e.g. a plan reload): the fleet's decisions use the new
  thresholds from the next storage call on.

The storage calls `shared_counts` (the local closed window) and `apply_shared` (adopt the fleet's
state) from its background sync.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from resilience._core import CallContext
from resilience.storage import BreakerLink, BreakerSettings, BreakerStorage

if TYPE_CHECKING:
    from resilience.breaker import CircuitBreaker

# Manual states are this instance's operator decision: the fleet never overrides them.
_MANUAL = frozenset({"disabled", "forced_open", "metrics_only"})


class SharedBreakerAdapter:
    """Connects one `CircuitBreaker` to a `BreakerStorage` (see the module docstring)."""

    __slots__ = ("_breaker", "_fleet_gen", "_settings", "link")

    def __init__(self, breaker: CircuitBreaker, storage: BreakerStorage) -> None:
        if not isinstance(storage, BreakerStorage):
            from resilience._errors import ConfigError

            raise ConfigError(
                f"CircuitBreaker.storage: expected a BreakerStorage such as "
                f"resilience.storage.RedisStorage, got {storage!r}"
            )
        self._breaker = breaker
        # The breaker's local generation whose half-open permits were granted by the fleet.
        self._fleet_gen = -2
        self._settings = self._read_settings()
        self.link: BreakerLink = storage.attach(breaker.name, self._settings, self)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._start_on_first_call()

    def _start_on_first_call(self) -> None:
        """Built outside a loop (e.g. a plan loaded at import): start the sync on the first call.

        The breaker reads its clock once per call; until the first call on a running loop, that
        clock is this one-shot function, which starts the storage's sync and puts the breaker's
        own clock back. So even an instance that only ever succeeds hears about fleet trips, and
        no call after the first pays anything.
        """
        breaker = self._breaker
        clock, loop_clock = breaker._clock, breaker._loop_clock

        def first_call_clock() -> float:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return clock()  # a sync caller on a thread: wait for an async one
            breaker._clock, breaker._loop_clock = clock, loop_clock
            self.link.ensure_started()
            return clock()

        breaker._clock, breaker._loop_clock = first_call_clock, False

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
        from resilience.breaker import BreakerState

        breaker = self._breaker
        if breaker.state in _MANUAL:
            return
        with breaker._lock:  # threads running sync callables hold it while they decide
            now = breaker._clock()
            breaker._transition(BreakerState(state), now)
            if state == "open":
                breaker._open_until = now + open_remaining

    # ------------------------------------------------------------------ the breaker's seams

    def state_changed(self, from_state: str, to_state: str) -> None:
        """Called by `_transition` for every change."""
        self.link.state_changed(str(from_state), str(to_state))

    async def acquire(self, now: float, ctx: CallContext) -> int:
        """Permission for one call while not closed: a fleet permit, or the local decision."""
        breaker = self._breaker
        state = breaker.state
        if state in _MANUAL or (state == "open" and now < breaker._open_until):
            return breaker._acquire(now, ctx)  # manual states and known-open: no round trip
        granted = await self._permit()
        if granted is None:
            # Storage unavailable, or a closed fleet with no half-open to share: local state.
            return breaker._acquire(breaker._clock(), ctx)
        # The reply may have moved the breaker (to closed, half_open or open) via apply_shared.
        state = breaker.state
        if state == "closed":
            return breaker._gen
        now = breaker._clock()
        if granted:
            if state != "half_open":
                from resilience.breaker import BreakerState

                breaker._transition(BreakerState.HALF_OPEN, now)
            self._fleet_gen = breaker._gen
            return breaker._gen
        retry_after = breaker._open_until - now if state == "open" else None
        raise breaker._reject(ctx, retry_after if retry_after and retry_after > 0 else None)

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
        if gen != self._fleet_gen or gen != self._breaker._gen:
            return False
        self.link.release_permit()
        return True

    def record(self, gen: int, failed: bool, slow: bool) -> None:
        """A fleet permit's call finished: the fleet counts it toward closing or reopening."""
        if gen == self._fleet_gen:
            self.link.record(failed, slow)


def share(breaker: CircuitBreaker, storage: Any) -> SharedBreakerAdapter:
    """Attach `breaker` to `storage` (called by `CircuitBreaker(storage=...)`)."""
    return SharedBreakerAdapter(breaker, storage)
