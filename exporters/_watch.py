"""Weak references to the live policies an exporter has bound to.

Scrape-time gauges (bulkhead in-flight and capacity, breaker state for readiness) read the
callables of a `PolicyInfo` when Prometheus scrapes or a probe asks, never on the call path. The
exporter must not keep a policy alive, and `PolicyInfo` (a slots dataclass) cannot be weakly
referenced, so each callable is referenced weakly instead: a bound method through `WeakMethod`,
a plain function or lambda through `weakref.ref`. A callable owned only by a dead policy therefore
disappears with it.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from resilience import PolicyInfo

R = TypeVar("R")

OPEN_STATES = frozenset({"open", "forced_open"})
"""Breaker states in which a critical policy makes the service not ready."""

BREAKER_STATES = ("closed", "open", "half_open", "disabled", "forced_open", "metrics_only")
"""Every state a breaker can report, in the order resilience4j lists them."""


class _Ref(Generic[R]):
    """A weak reference to a zero-argument callable (strong when it cannot be weakly referenced)."""

    __slots__ = ("_ref", "_strong")

    def __init__(self, fn: Callable[[], R]) -> None:
        self._strong: Callable[[], R] | None = None
        self._ref: Callable[[], Callable[[], R] | None]
        try:
            self._ref = weakref.WeakMethod(fn) if inspect.ismethod(fn) else weakref.ref(fn)
        except TypeError:  # builtins and C callables without weakref support
            self._strong = fn
            self._ref = self._get_strong

    def _get_strong(self) -> Callable[[], R] | None:
        return self._strong

    def get(self) -> Callable[[], R] | None:
        """The callable, or None once its owner was garbage-collected."""
        return self._ref()


@dataclass(frozen=True, slots=True)
class WatchedPolicy:
    """The live view of one bound policy: its name, flags and weakly held callables."""

    name: str
    mechanisms: tuple[str, ...]
    critical: bool
    breaker_state: _Ref[str] | None
    bulkhead_in_flight: _Ref[int] | None
    bulkhead_capacity: _Ref[int] | None

    @classmethod
    def of(cls, info: PolicyInfo) -> WatchedPolicy:
        """Take weak references to the live callables of `info`."""
        return cls(
            name=info.name,
            mechanisms=info.mechanisms,
            critical=info.critical,
            breaker_state=_Ref(info.breaker_state) if info.breaker_state else None,
            bulkhead_in_flight=_Ref(info.bulkhead_in_flight) if info.bulkhead_in_flight else None,
            bulkhead_capacity=_Ref(info.bulkhead_capacity) if info.bulkhead_capacity else None,
        )

    def alive(self) -> bool:
        """False once every callable this policy had is gone (the policy was collected)."""
        refs = [r for r in (self.breaker_state, self.bulkhead_in_flight, self.bulkhead_capacity)
                if r is not None]
        return not refs or any(r.get() is not None for r in refs)

    def state(self) -> str | None:
        """The breaker's current state, or None without a (live) breaker."""
        fn = self.breaker_state.get() if self.breaker_state else None
        return fn() if fn is not None else None

    def bulkhead(self) -> tuple[int, int] | None:
        """(in_flight, capacity) of the bulkhead, or None without a (live) bulkhead."""
        in_flight = self.bulkhead_in_flight.get() if self.bulkhead_in_flight else None
        capacity = self.bulkhead_capacity.get() if self.bulkhead_capacity else None
        if in_flight is None or capacity is None:
            return None
        return in_flight(), capacity()


class PolicyWatch:
    """The policies bound so far, by name; the latest binding of a name wins.

    A policy is rebound (same name) whenever a global hook is added, so keeping the latest binding
    per name gives one series per policy name, as Prometheus requires. Thread-safe: scrapes may
    run on another thread than the one that builds policies.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, WatchedPolicy] = {}

    def add(self, info: PolicyInfo) -> WatchedPolicy:
        """Record (or replace) the live view of `info`."""
        watched = WatchedPolicy.of(info)
        with self._lock:
            self._by_name[info.name] = watched
        return watched

    def __iter__(self) -> Iterator[WatchedPolicy]:
        """The live policies, sorted by name; forgets those that were garbage-collected."""
        with self._lock:
            dead = [name for name, w in self._by_name.items() if not w.alive()]
            for name in dead:
                del self._by_name[name]
            live = sorted(self._by_name.values(), key=lambda w: w.name)
        return iter(live)
