"""Shared state across instances: the contracts a storage backend keeps, and `RedisStorage`.

A service that runs as many processes wants one circuit breaker per dependency, not one per
process, and one rate limit per provider account. A *storage* shares that state. The default is no
storage (state lives in the process); `RedisStorage` (extra ``redis``) shares it through Redis with
atomic Lua scripts::

    from resilience.storage import RedisStorage

    shared = RedisStorage("redis://cache:6379/0", namespace="checkout", sync_interval=1.0)
    breaker = CircuitBreaker("payments", storage=shared)
    limiter = RateLimiter(rate_per_second=50, storage=shared)

How a breaker and a storage divide the work (the contract below):

- Closed state: the breaker keeps its own window and its successful calls never touch the storage.
  Every `sync_interval` the storage reads the window's counts (`SharedBreaker.shared_counts`),
  merges them with the other instances' and tells the breaker the fleet's state
  (`SharedBreaker.apply_shared`). A trip in any instance, or a fleet-wide failure rate over the
  threshold, opens every instance within one interval.
- Half-open: permits are granted by the storage, exactly `half_open_calls` across the fleet
  (`BreakerLink.acquire_permit`), the outcomes are recorded there (`BreakerLink.record`), and
  the storage decides close or reopen. A fleet that is closed while an instance is open past its
  open duration (the instance's trip never reached it) grants nothing: that instance runs its own
  half-open, so it never stays open for good.
- A local trip stays pending until the storage acknowledges it: one lost in a blip is published
  at the next sync.
- Storage unreachable or slow: every link method answers "unavailable" (None) at once and the
  breaker uses its local state; errors are emitted as `StorageError` events (exported as
  ``resilience_storage_errors_total``) and the backend reconnects with backoff. A caller never sees
  a storage error.

`import resilience.storage` works without the ``redis`` package; only using `RedisStorage` needs
it. Added in 0.1.0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from resilience.storage.redis import RedisStorage

__all__ = [
    "BreakerLink",
    "BreakerSettings",
    "BreakerStorage",
    "RateLimiterStorage",
    "RedisStorage",
    "SharedBreaker",
    "SharedView",
]


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """What the fleet-wide decisions need to know about a breaker (same meaning as its options).

    `open_durations` lists the open duration (seconds) for the 1st, 2nd, ... consecutive open; the
    last one repeats. A slow-call threshold above 1 switches slow-call tripping off.
    `half_open_minimum` is how many probes must finish before half-open closes or reopens
    (default: `half_open_calls`).
    """

    failure_rate_threshold: float
    minimum_calls: int
    half_open_calls: int
    open_durations: tuple[float, ...]
    slow_call_rate_threshold: float = 2.0
    max_wait_in_half_open: float | None = None
    half_open_minimum: int | None = None

    @staticmethod
    def durations_from(
        open_duration: float | Callable[[int], float], n: int = 16
    ) -> tuple[float, ...]:
        """`open_durations` from a breaker's `open_duration` (seconds or f(consecutive_opens))."""
        if callable(open_duration):
            return tuple(float(open_duration(i)) for i in range(1, n + 1))
        return (float(open_duration),)


@dataclass(frozen=True, slots=True)
class SharedView:
    """The fleet's breaker state as the storage last saw it.

    `generation` increases with every fleet-wide transition; `open_remaining` is seconds until an
    open breaker may probe again (measured on the storage's clock, so hosts need not agree on
    theirs); `calls`, `failures`, `slow` are the fleet's merged window (sync only, else 0).
    """

    state: str
    generation: int
    open_remaining: float
    open_count: int
    calls: int = 0
    failures: int = 0
    slow: int = 0


@runtime_checkable
class SharedBreaker(Protocol):
    """What a circuit breaker exposes to a storage (implemented by its storage adapter)."""

    def shared_counts(self) -> tuple[int, int, int]:
        """The local window: (calls, failures, slow calls) since the last transition."""

    def apply_shared(self, state: str, open_remaining: float) -> None:
        """Adopt the fleet's state: `closed`, `open` (probe after `open_remaining` s), `half_open`.

        Resets the local window when the state changes, as any transition does.
        """


@runtime_checkable
class BreakerLink(Protocol):
    """One breaker's connection to a storage, returned by `BreakerStorage.attach`.

    Every method is safe to call when the storage is down: the async ones answer None
    ("unavailable, decide locally") and the sync ones never block.
    """

    def ensure_started(self) -> None:
        """Start the storage's background sync on the running loop if it is not running yet."""

    def state_changed(self, from_state: str, to_state: str) -> None:
        """The breaker changed state by itself (e.g. its own window tripped): tell the fleet."""

    async def acquire_permit(self) -> bool | None:
        """A fleet-wide half-open permit: True granted, False refused, None decide locally.

        None means the storage is unavailable, or the fleet is closed while this breaker is not
        (its trip never reached the fleet): the breaker then runs its own half-open.
        """

    def release_permit(self) -> None:
        """Give back a permit whose call neither succeeded nor failed (cancelled, ignored)."""

    def record(self, failed: bool, slow: bool) -> None:
        """Record the outcome of a call made with a fleet permit; the fleet decides what next."""

    def update_settings(self, settings: BreakerSettings) -> None:
        """Use new thresholds from now on (e.g. after a plan reload)."""

    def close(self) -> None:
        """Detach the breaker from the storage."""


@runtime_checkable
class BreakerStorage(Protocol):
    """A backend that shares circuit-breaker state between processes."""

    def attach(self, name: str, settings: BreakerSettings, breaker: SharedBreaker) -> BreakerLink:
        """Share the breaker `name`'s state; `breaker` is read and updated by the storage."""


@runtime_checkable
class RateLimiterStorage(Protocol):
    """A shared token bucket (the same contract as `resilience.ratelimiter.RateLimiterStorage`)."""

    async def reserve(
        self, key: str, *, rate_per_second: float, burst: int, max_wait: float
    ) -> tuple[bool, float]:
        """Take one token: `(True, wait)` go after `wait` s, or `(False, retry_after)` refused."""


def __getattr__(name: str) -> Any:
    # RedisStorage needs the optional `redis` package: import it only when asked for.
    if name == "RedisStorage":
        from resilience.storage.redis import RedisStorage

        return RedisStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
