"""The public face of resilience's events: event types, hooks and what a hook knows of a policy.

Every mechanism reports what it did as one small frozen event (`CallFinished`, `RetryScheduled`,
`StateChanged`, `Rejected`, `TimedOut`, `FallbackUsed`, `HedgeStarted`, `HedgeWon`,
`ChaosInjected`, `StorageError`). A *hook* receives them: a plain callable taking an `Event`, or a
`BindingHook` whose ``bind(PolicyInfo)`` runs once per policy and returns the handler for that
policy's events (the place to bind metric label children, off the hot path). `add_hook` registers
a hook for every policy; `Policy(..., hooks=[...])` for one. An `Emitter` delivers one policy's
events to its bound handlers; a layer of your own emits through ``ctx.emitter`` (see
`resilience.layers`).

Exporters (`exporters.prometheus`, `exporters.opentelemetry`, `exporters.logging`) are hooks built
on this module only. Added in 0.1.0.
"""

from __future__ import annotations

from resilience._events import (
    BindingHook,
    CallFinished,
    CallOutcome,
    ChaosInjected,
    Emitter,
    Event,
    EventHandler,
    FallbackUsed,
    HedgeStarted,
    HedgeWon,
    Hook,
    Outcome,
    PolicyInfo,
    Rejected,
    RetryScheduled,
    StateChanged,
    StorageError,
    TimedOut,
    TimeoutKind,
    add_hook,
    global_hooks,
    remove_hook,
)

__all__ = [
    "BindingHook",
    "CallFinished",
    "CallOutcome",
    "ChaosInjected",
    "Emitter",
    "Event",
    "EventHandler",
    "FallbackUsed",
    "HedgeStarted",
    "HedgeWon",
    "Hook",
    "Outcome",
    "PolicyInfo",
    "Rejected",
    "RetryScheduled",
    "StateChanged",
    "StorageError",
    "TimedOut",
    "TimeoutKind",
    "add_hook",
    "global_hooks",
    "remove_hook",
]
