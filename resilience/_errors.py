"""Typed errors raised by the resilience mechanisms.

Rejections by our own mechanisms (`CircuitOpenError`, `BulkheadFullError`, `RateLimitedError`) are
not the dependency's fault: breakers ignore them and `Retry` does not retry them by default.
`CircuitOpenError` lives in resilience/_circuit_open.py: it subclasses pybreaker's error, and
pybreaker imports redis (and redis OpenTelemetry) when installed, which what reads a plan or a spec
(`resilience.config`, `resilience.files`, the planner) has no use for.
"""

from __future__ import annotations


class ResilienceError(Exception):
    """Base class of every error this package raises on purpose."""

    policy: str

    def __init__(self, message: str, *, policy: str = "") -> None:
        super().__init__(message)
        self.policy = policy


class RejectedError(ResilienceError):
    """A call refused by one of our own mechanisms before it reached the dependency."""

    mechanism: str = ""

    def __init__(self, message: str, *, policy: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, policy=policy)
        self.retry_after = retry_after


class BulkheadFullError(RejectedError):
    """No bulkhead slot freed up within `max_wait`."""

    mechanism = "bulkhead"


class RateLimitedError(RejectedError):
    """The rate limiter had no token within `max_wait`; `retry_after` says when one will be."""

    mechanism = "rate_limiter"


class LimitExceededError(RejectedError):
    """The adaptive concurrency limit (or, for a lower criticality, its share of it) is taken.

    `criticality` is the refused request's class; `retry_after` is a hint in seconds (a server
    sends it as ``Retry-After``). Added in 0.2.0.
    """

    mechanism = "adaptive_limiter"

    def __init__(
        self,
        message: str,
        *,
        policy: str = "",
        retry_after: float | None = None,
        criticality: str = "default",
    ) -> None:
        super().__init__(message, policy=policy, retry_after=retry_after)
        self.criticality = criticality


class AttemptTimeoutError(ResilienceError, TimeoutError):
    """One attempt took longer than its per-attempt `Timeout`."""

    def __init__(self, message: str, *, policy: str = "", timeout: float = 0.0) -> None:
        super().__init__(message, policy=policy)
        self.timeout = timeout


class DeadlineExceededError(ResilienceError, TimeoutError):
    """The policy's total deadline (all attempts and backoff) ran out."""

    def __init__(self, message: str, *, policy: str = "", deadline: float = 0.0) -> None:
        super().__init__(message, policy=policy)
        self.deadline = deadline


class ConfigError(ResilienceError, ValueError):
    """A plan file or mapping is invalid; the message names the file, the field and the fix."""
