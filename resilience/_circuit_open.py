"""`CircuitOpenError`, apart from resilience/_errors.py because it subclasses pybreaker's error:
importing pybreaker imports redis (and through it OpenTelemetry) when they are installed, about
0.4 s that only the breaker needs."""

from __future__ import annotations

import pybreaker

from resilience._errors import RejectedError

__all__ = ["CircuitOpenError"]


class CircuitOpenError(RejectedError, pybreaker.CircuitBreakerError):
    """The circuit breaker refused the call (open, forced open, or half-open permits taken).

    Subclasses `pybreaker.CircuitBreakerError`, so code written against pybreaker keeps working.
    """

    mechanism = "circuit_breaker"

    def __init__(
        self,
        message: str,
        *,
        policy: str = "",
        state: str = "open",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, policy=policy, retry_after=retry_after)
        self.state = state
