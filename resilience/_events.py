"""Typed events and the hooks that receive them.

Every mechanism reports what it did as one small frozen event. Hooks (exporters, loggers, your own
code) receive them. A hook is either a plain callable taking an event, or an object with
``bind(policy: PolicyInfo) -> handler | None``: `bind` runs once when a policy is built (or when the
hook is added), so per-policy work such as binding metric label children happens off the hot path.
A hook that raises never breaks the call: the error is logged once per hook and swallowed.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeAlias, runtime_checkable

_log = logging.getLogger("resilience.hooks")


class CallOutcome(StrEnum):
    """The final outcome of one call through a policy, as the caller saw it."""

    SUCCESS = "success"
    FAILURE = "failure"
    REJECTED = "rejected"
    FALLBACK = "fallback"


class Outcome(StrEnum):
    """How a circuit breaker classifies one attempt."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A call through a policy finished (not emitted for cancelled calls).

    ``attempts`` is how many attempts the call's `Retry` made: 1 when it was not retried.
    """

    policy: str
    outcome: CallOutcome
    duration: float
    exception: BaseException | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """Attempt `attempt` failed and attempt `attempt + 1` will start after `wait` seconds."""

    policy: str
    attempt: int
    wait: float
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class StateChanged:
    """A circuit breaker moved from one state to another."""

    policy: str
    from_state: str
    to_state: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """One of our mechanisms refused a call or a retry.

    `mechanism` is one of circuit_breaker, bulkhead, rate_limiter, retry_budget,
    adaptive_limiter, load_shedder, outlier_detection.
    """

    policy: str
    mechanism: str
    retry_after: float | None = None


class TimeoutKind(StrEnum):
    """Which timeout fired: the per-attempt `Timeout` or the policy's total `deadline`.

    The same words as the plan file's `timeout:` / `deadline:` and the `kind` label of
    ``resilience_timeouts_total``. (`deadline` was `total` before 0.1.0.)
    """

    ATTEMPT = "attempt"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class TimedOut:
    """An attempt timeout (`kind="attempt"`) or the total deadline (`kind="deadline"`) fired."""

    policy: str
    kind: TimeoutKind
    timeout: float


@dataclass(frozen=True, slots=True)
class FallbackUsed:
    """The fallback handler served the call instead of the dependency."""

    policy: str
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class HedgeStarted:
    """A hedged attempt number `hedge` (1 = first extra attempt) started."""

    policy: str
    hedge: int


@dataclass(frozen=True, slots=True)
class HedgeWon:
    """Attempt `hedge` (0 = the primary) produced the result; the others were cancelled."""

    policy: str
    hedge: int


@dataclass(frozen=True, slots=True)
class ChaosInjected:
    """A chaos strategy injected a fault of kind `fault` (fault, latency, outcome, behaviour)."""

    policy: str
    fault: str


@dataclass(frozen=True, slots=True)
class StorageError:
    """A shared-state backend (e.g. Redis) failed; the mechanism fell back to local state.

    `operation` is what was attempted (sync, trip, acquire, release, record, reserve, connect);
    `error` is the exception's class name (never its text: it would be an unbounded label).
    """

    policy: str
    backend: str
    operation: str
    error: str


Event: TypeAlias = (
    CallFinished
    | RetryScheduled
    | StateChanged
    | Rejected
    | TimedOut
    | FallbackUsed
    | HedgeStarted
    | HedgeWon
    | ChaosInjected
    | StorageError
)

EventHandler: TypeAlias = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """What a hook may know about a policy when it binds to it.

    The callables read live values, so gauges can be computed at scrape time at no cost per call.
    """

    name: str
    mechanisms: tuple[str, ...] = ()
    breaker_state: Callable[[], str] | None = None
    bulkhead_in_flight: Callable[[], int] | None = None
    bulkhead_capacity: Callable[[], int] | None = None
    critical: bool = False
    storage: str | None = None
    """Set to the backend's name (``"redis"``) when these are a shared-state storage's events
    about `name` (`StorageError`), not a policy's calls: exporters count them apart."""
    adaptive_limit: Callable[[], int] | None = None


@runtime_checkable
class BindingHook(Protocol):
    """A hook that prepares per-policy state once, when a policy is built."""

    def bind(self, policy: PolicyInfo) -> EventHandler | None:
        """Return the handler for this policy's events, or None to ignore the policy."""


Hook: TypeAlias = BindingHook | EventHandler

_global_hooks: list[Hook] = []
_emitters: weakref.WeakSet[Emitter] = weakref.WeakSet()


def _bind(hook: Hook, info: PolicyInfo) -> EventHandler | None:
    if isinstance(hook, BindingHook):
        try:
            return hook.bind(info)
        except Exception:
            _log.exception("resilience hook %r failed to bind to policy %r", hook, info.name)
            return None
    return hook


class Emitter:
    """Delivers one policy's events to its bound handlers (global hooks first, then its own)."""

    __slots__ = ("__weakref__", "_failed", "_local", "handlers", "info")

    def __init__(self, info: PolicyInfo, hooks: Iterable[Hook] = ()) -> None:
        self.info = info
        self._local: tuple[Hook, ...] = tuple(hooks)
        self._failed: set[int] = set()
        self.handlers: tuple[EventHandler, ...] = ()
        self.rebind()
        _emitters.add(self)

    def rebind(self, info: PolicyInfo | None = None) -> None:
        """(Re)bind every hook, e.g. after a hook was added or the policy was reconfigured."""
        if info is not None:
            self.info = info
        bound = (_bind(h, self.info) for h in (*_global_hooks, *self._local))
        self.handlers = tuple(h for h in bound if h is not None)

    def emit(self, event: Event) -> None:
        """Deliver `event`; a raising handler is logged (once) and never breaks the call."""
        for handler in self.handlers:
            try:
                handler(event)
            except Exception:
                key = id(handler)
                if key not in self._failed:
                    self._failed.add(key)
                    _log.exception("resilience hook %r raised on %r", handler, event)


def add_hook(hook: Hook) -> None:
    """Register `hook` for the events of every policy, existing and future."""
    _global_hooks.append(hook)
    for emitter in list(_emitters):
        emitter.rebind()


def remove_hook(hook: Hook) -> None:
    """Unregister a hook added with `add_hook` (no error when it is not registered)."""
    if hook in _global_hooks:
        _global_hooks.remove(hook)
        for emitter in list(_emitters):
            emitter.rebind()


def global_hooks() -> tuple[Hook, ...]:
    """The hooks registered with `add_hook`, in order."""
    return tuple(_global_hooks)
