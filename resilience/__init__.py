"""reliability-os runtime: async resilience mechanisms configured from a reliability plan."""

from resilience._core import remaining_time
from resilience._errors import (
    AttemptTimeoutError,
    BulkheadFullError,
    CircuitOpenError,
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
