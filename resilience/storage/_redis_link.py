"""One circuit breaker's link to a `RedisStorage`: its half of the fleet's breaker protocol.

`RedisBreakerLink` implements `resilience.storage.BreakerLink` for one breaker: it turns the
breaker's seams (a local trip, a half-open permit, a probe's outcome, the periodic sync of its
window) into runs of ``breaker.lua`` and hands the fleet's answer back to the breaker
(`SharedBreaker.apply_shared`). It reaches its storage only through `LinkHost`, the few things
a `RedisStorage` offers its links.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol

from resilience.storage import BreakerSettings, SharedBreaker, SharedView

__all__ = ["LinkHost", "RedisBreakerLink"]

_ZERO = ("0", "0", "0")


class LinkHost(Protocol):
    """What a breaker link uses of its storage (implemented by `RedisStorage`)."""

    instance_id: str
    sync_interval: float
    key_ttl: float

    async def run_script(
        self, script: str, operation: str, policy: str, args: tuple[str, ...]
    ) -> Any:
        """Run one Lua script on `policy`'s key; None when Redis is down, slow or failing."""

    def ensure_sync(self) -> None:
        """Start the background sync if it is not running."""

    def wake_sync(self) -> None:
        """Run the next sync now."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background."""

    def detach(self, link: RedisBreakerLink) -> None:
        """Stop syncing `link`."""


class RedisBreakerLink:
    """One breaker's connection to a `RedisStorage` (see `resilience.storage.BreakerLink`)."""

    __slots__ = (
        "_breaker",
        "_permit_generation",
        "_settings_args",
        "_storage",
        "_trip_pending",
        "_trips",
        "applying",
        "generation",
        "name",
    )

    def __init__(
        self, storage: LinkHost, name: str, settings: BreakerSettings, breaker: SharedBreaker
    ) -> None:
        self._storage = storage
        self.name = name
        self._breaker = breaker
        self._settings_args: tuple[str, ...] = ()
        self.update_settings(settings)
        self.generation = 0
        """The fleet generation the breaker's local state belongs to (0: not synced yet)."""
        self.applying = False
        # A local trip not yet acknowledged by Redis: the number of that trip (0: none). It stays
        # pending through failed publishes, until Redis takes it or the breaker leaves open.
        self._trip_pending = 0
        self._trips = 0
        self._permit_generation = 0

    def update_settings(self, settings: BreakerSettings) -> None:
        """Use new thresholds from now on (e.g. after a plan reload)."""
        storage = self._storage
        lease = settings.max_wait_in_half_open or max(30.0, 10 * storage.sync_interval)
        self._settings_args = (
            repr(float(settings.failure_rate_threshold)),
            repr(float(settings.slow_call_rate_threshold)),
            str(int(settings.minimum_calls)),
            str(int(settings.half_open_calls)),
            ",".join(repr(float(d)) for d in settings.open_durations),
            repr(3 * storage.sync_interval),
            repr(float(lease)),
            repr(storage.key_ttl),
            str(int(settings.half_open_minimum or settings.half_open_calls)),
        )

    def __repr__(self) -> str:
        return f"<breaker link {self.name!r} gen={self.generation} via {self._storage!r}>"

    async def _call(
        self, operation: str, generation: int, counts: tuple[str, str, str] = _ZERO
    ) -> tuple[SharedView, bool] | None:
        args = (
            operation,
            self._storage.instance_id,
            str(generation),
            *counts,
            *self._settings_args,
        )
        reply = await self._storage.run_script("breaker", operation, self.name, args)
        if reply is None:
            return None
        state = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        view = SharedView(
            state=state,
            generation=int(reply[1]),
            open_remaining=float(reply[2]),
            open_count=int(reply[3]),
            calls=int(reply[4]),
            failures=int(reply[5]),
            slow=int(reply[6]),
        )
        self._apply(view)
        return view, bool(int(reply[7]))

    def _apply(self, view: SharedView) -> None:
        # Generations only grow (a key Redis lost restarts at the server's time in ms, above any
        # older one), so an older one is a reply that overtook a newer one: ignore it.
        if view.generation <= self.generation:
            return
        first = self.generation == 0
        self.generation = view.generation
        if first and view.state == "closed":
            return  # nothing to adopt: keep the window counted so far
        # The fleet moved on: a trip still pending belongs to a generation that is gone, and
        # the breaker now takes the fleet's state.
        self._trip_pending = 0
        self.applying = True
        try:
            self._breaker.apply_shared(view.state, view.open_remaining)
        finally:
            self.applying = False

    async def sync(self) -> SharedView | None:
        """Publish a pending trip, then merge this instance's window with the fleet's.

        A trip stays pending until Redis answered it (a publish lost in a blip is retried at the
        next sync): otherwise the fleet would stay closed while this instance stays open.
        """
        trip = self._trip_pending
        if trip:
            if await self._call("trip", self.generation) is None:
                return None  # unavailable: retried next time
            if self._trip_pending == trip:
                self._trip_pending = 0
        calls, failures, slow = self._breaker.shared_counts()
        result = await self._call("sync", self.generation, (str(calls), str(failures), str(slow)))
        return None if result is None else result[0]

    # --------------------------------------------------------------------- BreakerLink protocol

    def ensure_started(self) -> None:
        """Start the storage's background sync on the running loop if needed."""
        self._storage.ensure_sync()

    def state_changed(self, from_state: str, to_state: str) -> None:
        """A local trip (closed/half_open → open) is published to the fleet at once."""
        if self.applying:
            return  # the storage itself caused this change
        if to_state != "open":
            # The breaker left open by itself (e.g. a local half-open while Redis was away):
            # a trip not yet published no longer describes this instance.
            self._trip_pending = 0
        elif from_state in ("closed", "half_open"):
            self._trips += 1
            self._trip_pending = self._trips
            self._storage.ensure_sync()
            self._storage.wake_sync()

    async def acquire_permit(self) -> bool | None:
        """One of the fleet's `half_open_calls` permits.

        None when the breaker must decide locally: the storage is unavailable, or the fleet is
        closed (it never took this instance's trip, so it has no half-open episode to share; the
        instance runs its own half-open rather than waiting for a permit that never comes).
        """
        self._storage.ensure_sync()
        result = await self._call("acquire", self.generation)
        if result is None:
            return None
        view, granted = result
        if granted:
            self._permit_generation = view.generation
        elif view.state == "closed":
            return None
        return granted

    def release_permit(self) -> None:
        """Give a permit back (its call was cancelled or ignored)."""
        self._storage.spawn(self._call("release", self._permit_generation))

    def record(self, failed: bool, slow: bool) -> None:
        """Record a probe's outcome; the fleet closes or reopens after the last one."""
        counts = ("1", "1" if failed else "0", "1" if slow else "0")
        self._storage.spawn(self._call("record", self._permit_generation, counts))

    def close(self) -> None:
        """Stop sharing this breaker."""
        self._storage.detach(self)
