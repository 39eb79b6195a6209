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
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from resilience import PolicyInfo

R = TypeVar("R")

_log = logging.getLogger("exporters")

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
    adaptive_limit: _Ref[int] | None = None

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
            adaptive_limit=_Ref(info.adaptive_limit) if info.adaptive_limit else None,
        )

    def _refs(self) -> tuple[_Ref[str] | _Ref[int] | None, ...]:
        return (
            self.breaker_state,
            self.bulkhead_in_flight,
            self.bulkhead_capacity,
            self.adaptive_limit,
        )

    def same_callables(self, other: WatchedPolicy) -> bool:
        """True when both views read the very same callables (the same policy bound again)."""
        return all(
            (a is None and b is None)
            or (a is not None and b is not None and a.get() is not None and a.get() == b.get())
            for a, b in zip(self._refs(), other._refs(), strict=True)
        )

    def alive(self) -> bool:
        """False once every callable this policy had is gone (the policy was collected)."""
        refs = [r for r in self._refs() if r is not None]
        return not refs or any(r.get() is not None for r in refs)

    def state(self) -> str | None:
        """The breaker's current state, or None without a (live, working) breaker readout."""
        fn = self.breaker_state.get() if self.breaker_state else None
        if fn is None:
            return None
        try:
            return str(fn())
        except Exception:  # a broken readout must not break /metrics or /readyz
            _log.warning("breaker state readout of policy %r raised", self.name, exc_info=True)
            return None

    def bulkhead(self) -> tuple[int, int] | None:
        """(in_flight, capacity) of the bulkhead, or None without a (live, working) readout."""
        in_flight = self.bulkhead_in_flight.get() if self.bulkhead_in_flight else None
        capacity = self.bulkhead_capacity.get() if self.bulkhead_capacity else None
        if in_flight is None or capacity is None:
            return None
        try:
            return int(in_flight()), int(capacity())
        except Exception:  # a broken readout must not break /metrics
            _log.warning("bulkhead readout of policy %r raised", self.name, exc_info=True)
            return None

    def limit(self) -> int | None:
        """The adaptive limiter's current limit, or None without a (live, working) readout."""
        fn = self.adaptive_limit.get() if self.adaptive_limit else None
        if fn is None:
            return None
        try:
            return int(fn())
        except Exception:  # a broken readout must not break /metrics
            _log.warning("adaptive limit readout of policy %r raised", self.name, exc_info=True)
            return None


@dataclass(frozen=True, slots=True)
class PolicyView:
    """What the gauges of one policy name show now."""

    name: str
    state: str | None
    bulkhead: tuple[int, int] | None
    adaptive_limit: int | None = None


class PolicyWatch:
    """The live policies bound so far, grouped by name.

    One name can be bound more than once: a policy is bound again whenever a global hook is added,
    it may be rebuilt (plan reload), and a breaker's own emitter carries the breaker's name, which
    often is the policy's. Prometheus needs one series per name, so `views` reads, per name, the
    breaker state and the bulkhead of the most recently bound *live* binding that has them.
    `last_state` holds the breaker state seen in events, for breakers without a live readout.
    Thread-safe: scrapes may run on another thread than the one that builds policies.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, list[WatchedPolicy]] = {}
        self.last_state: dict[str, str] = {}

    def add(self, info: PolicyInfo) -> WatchedPolicy:
        """Record the live view of `info`.

        A rebinding of the same callables replaces the old view *in its place*: adding a global
        hook re-binds every emitter in no particular order, and that must not make an older
        binding (e.g. a breaker's own emitter) look more recent than the policy built after it.
        """
        watched = WatchedPolicy.of(info)
        with self._lock:
            entries = [w for w in self._by_name.get(info.name, ()) if w.alive()]
            for i, w in enumerate(entries):
                if w.same_callables(watched):
                    entries[i] = watched
                    break
            else:
                entries.append(watched)
            self._by_name[info.name] = entries
        return watched

    def _live(self) -> dict[str, list[WatchedPolicy]]:
        with self._lock:
            for name in list(self._by_name):
                live = [w for w in self._by_name[name] if w.alive()]
                if live:
                    self._by_name[name] = live
                else:
                    del self._by_name[name]
            return {name: list(entries) for name, entries in sorted(self._by_name.items())}

    def views(self) -> Iterator[PolicyView]:
        """One view per live policy name, sorted by name."""
        for name, entries in self._live().items():
            state = next(
                (s for w in reversed(entries) if (s := w.state()) is not None),
                self.last_state.get(name),
            )
            bulkhead = next((b for w in reversed(entries) if (b := w.bulkhead()) is not None), None)
            limit = next((n for w in reversed(entries) if (n := w.limit()) is not None), None)
            yield PolicyView(name, state, bulkhead, limit)

    def critical(self) -> Iterator[PolicyView]:
        """The views of the names bound at least once as ``critical``."""
        for name, entries in self._live().items():
            if any(w.critical for w in entries):
                state = next((s for w in reversed(entries) if (s := w.state()) is not None), None)
                yield PolicyView(name, state, None)
