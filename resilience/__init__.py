"""reliability-os runtime: async resilience mechanisms configured from a reliability plan.

The names below are imported on first use (PEP 562): `import resilience.files` or
`resilience.config` (what the planner and `reliability validate` read) then costs only those
modules, not the mechanisms, pybreaker and the redis and OpenTelemetry clients it pulls in
(about 0.5 s of a command's start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resilience._circuit_open import CircuitOpenError
    from resilience._core import remaining_time
    from resilience._errors import (
        AttemptTimeoutError,
        BulkheadFullError,
        ConfigError,
        DeadlineExceededError,
        LimitExceededError,
        RateLimitedError,
        RejectedError,
        ResilienceError,
    )
    from resilience._events import (
        CallFinished,
        CallOutcome,
        ChaosInjected,
        Event,
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
        remove_hook,
    )
    from resilience.adaptive import AIMD, AdaptiveLimiter, Gradient2, Vegas
    from resilience.breaker import BreakerState, CircuitBreaker
    from resilience.bulkhead import Bulkhead
    from resilience.fallback import Fallback
    from resilience.hedge import Hedge
    from resilience.keyed import HostEjectedError, KeyedBreaker, OutlierDetector
    from resilience.names import register
    from resilience.plan import PlanError, PlanPolicy, PlanRegistry, load_plan
    from resilience.policy import Policy
    from resilience.ratelimiter import RateLimiter
    from resilience.retry import FullJitterBackoff, Retry, RetryBudget
    from resilience.shedding import Criticality, criticality
    from resilience.timeout import Timeout

#: Each public name → the module that defines it.
_WHERE: dict[str, str] = {
    "CircuitOpenError": "resilience._circuit_open",
    "remaining_time": "resilience._core",
    "AttemptTimeoutError": "resilience._errors",
    "BulkheadFullError": "resilience._errors",
    "ConfigError": "resilience._errors",
    "DeadlineExceededError": "resilience._errors",
    "LimitExceededError": "resilience._errors",
    "RateLimitedError": "resilience._errors",
    "RejectedError": "resilience._errors",
    "ResilienceError": "resilience._errors",
    "CallFinished": "resilience._events",
    "CallOutcome": "resilience._events",
    "ChaosInjected": "resilience._events",
    "Event": "resilience._events",
    "FallbackUsed": "resilience._events",
    "HedgeStarted": "resilience._events",
    "HedgeWon": "resilience._events",
    "Hook": "resilience._events",
    "Outcome": "resilience._events",
    "PolicyInfo": "resilience._events",
    "Rejected": "resilience._events",
    "RetryScheduled": "resilience._events",
    "StateChanged": "resilience._events",
    "StorageError": "resilience._events",
    "TimedOut": "resilience._events",
    "TimeoutKind": "resilience._events",
    "add_hook": "resilience._events",
    "remove_hook": "resilience._events",
    "AIMD": "resilience.adaptive",
    "AdaptiveLimiter": "resilience.adaptive",
    "Gradient2": "resilience.adaptive",
    "Vegas": "resilience.adaptive",
    "BreakerState": "resilience.breaker",
    "CircuitBreaker": "resilience.breaker",
    "Bulkhead": "resilience.bulkhead",
    "Fallback": "resilience.fallback",
    "Hedge": "resilience.hedge",
    "HostEjectedError": "resilience.keyed",
    "KeyedBreaker": "resilience.keyed",
    "OutlierDetector": "resilience.keyed",
    "register": "resilience.names",
    "PlanError": "resilience.plan",
    "PlanPolicy": "resilience.plan",
    "PlanRegistry": "resilience.plan",
    "load_plan": "resilience.plan",
    "Policy": "resilience.policy",
    "RateLimiter": "resilience.ratelimiter",
    "FullJitterBackoff": "resilience.retry",
    "Retry": "resilience.retry",
    "RetryBudget": "resilience.retry",
    "Criticality": "resilience.shedding",
    "criticality": "resilience.shedding",
    "Timeout": "resilience.timeout",
}

__all__ = [
    "AIMD",
    "AdaptiveLimiter",
    "AttemptTimeoutError",
    "BreakerState",
    "Bulkhead",
    "BulkheadFullError",
    "CallFinished",
    "CallOutcome",
    "ChaosInjected",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "Criticality",
    "DeadlineExceededError",
    "Event",
    "Fallback",
    "FallbackUsed",
    "FullJitterBackoff",
    "Gradient2",
    "Hedge",
    "HedgeStarted",
    "HedgeWon",
    "Hook",
    "HostEjectedError",
    "KeyedBreaker",
    "LimitExceededError",
    "Outcome",
    "OutlierDetector",
    "PlanError",
    "PlanPolicy",
    "PlanRegistry",
    "Policy",
    "PolicyInfo",
    "RateLimitedError",
    "RateLimiter",
    "Rejected",
    "RejectedError",
    "ResilienceError",
    "Retry",
    "RetryBudget",
    "RetryScheduled",
    "StateChanged",
    "StorageError",
    "TimedOut",
    "Timeout",
    "TimeoutKind",
    "Vegas",
    "add_hook",
    "criticality",
    "load_plan",
    "register",
    "remaining_time",
    "remove_hook",
]


if not TYPE_CHECKING:  # to type checkers the names are the imports above

    def __getattr__(name: str) -> Any:
        """Import a public name's module on first use; later uses find the name bound here."""
        where = _WHERE.get(name)
        if where is None:
            raise AttributeError(f"module 'resilience' has no attribute {name!r}")
        value = getattr(importlib.import_module(where), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
