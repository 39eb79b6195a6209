"""`Retry` and `RetryBudget`: our own retry loop, with tenacity's wait strategies as vocabulary.

The loop catches `Exception` only, so no predicate ever sees `asyncio.CancelledError` and a
cancellation is never retried or swallowed (tenacity#529). A retry nested inside another retry's
call makes one attempt per outer attempt, so attempts never multiply: the outer loop marks the
call's context (a context variable), which child tasks copy — hedged attempts, `gather` and
`TaskGroup` children, `asyncio.to_thread` — and the mark goes inactive when the outer loop ends,
so a background task that outlives the call retries on its own again.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import tenacity
from tenacity.wait import wait_base

from resilience import _clock
from resilience._core import (
    Call,
    CallContext,
    Mechanism,
    Step,
    SyncStep,
    deadline_var,
    refuse_in_event_loop,
    testing_mode,
)
from resilience._errors import ConfigError, RejectedError
from resilience._events import Rejected, RetryScheduled
from resilience._matching import ExceptionFilter, ExceptionSpec

T = TypeVar("T")

_NO_RETRY = -1.0


_retrying: ContextVar[CallContext | None] = ContextVar("resilience_retrying", default=None)
"""The call of the innermost retry loop running (its `CallContext`, as the mark "already inside a
retry"); the loop clears its ``retrying`` when it ends, so child tasks that keep a copy of this
variable see the mark go inactive. The context itself is the mark: no allocation per call."""


class FullJitterBackoff(wait_base):
    """Full-jitter exponential backoff: attempt n waits uniformly in [0, min(max, initial·m^(n−1))].

    The AWS "full jitter" schedule: retries of many clients spread out instead of arriving in
    waves. A tenacity wait strategy, so it combines with tenacity's (``+``). Added in 0.1.0.
    """

    def __init__(
        self,
        initial: float = 0.1,
        max: float = 10.0,
        multiplier: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not (initial > 0 and max >= initial and multiplier >= 1):
            raise ConfigError(
                "FullJitterBackoff: expected initial > 0, max >= initial and multiplier >= 1, got "
                f"initial={initial!r}, max={max!r}, multiplier={multiplier!r}"
            )
        self.initial = float(initial)
        self.max = float(max)
        self.multiplier = float(multiplier)
        self._uniform = (rng or random.Random()).uniform

    def cap(self, attempt: int) -> float:
        """The upper bound of the wait after attempt number `attempt`."""
        try:
            ceiling = self.initial * self.multiplier ** (attempt - 1)
        except OverflowError:
            return self.max
        return min(self.max, ceiling)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return float(self._uniform(0.0, self.cap(retry_state.attempt_number)))

    def __repr__(self) -> str:
        return (
            f"FullJitterBackoff(initial={self.initial:g}, max={self.max:g}, "
            f"multiplier={self.multiplier:g})"
        )


class RetryBudget:
    """Caps retries to a share of calls, so retries never multiply an outage.

    Over the last `ttl` seconds, retries may not exceed ``ratio × calls + min_per_second × ttl``
    (Finagle's RetryBudget; Envoy's retry budget has the same ratio of 20% and floor of 3). Share
    one budget between the policies of one dependency. Counting is approximate under threads (no
    lock, by design). Added in 0.1.0.
    """

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 3.0,
        *,
        ttl: int = 10,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not (isinstance(ratio, int | float) and 0 <= ratio <= 1):
            raise ConfigError(f"RetryBudget.ratio: expected a number in [0, 1], got {ratio!r}")
        if not (isinstance(min_per_second, int | float) and min_per_second >= 0):
            raise ConfigError(
                f"RetryBudget.min_per_second: expected a number >= 0, got {min_per_second!r}"
            )
        if not (isinstance(ttl, int) and ttl >= 1):
            raise ConfigError(f"RetryBudget.ttl: expected whole seconds >= 1, got {ttl!r}")
        self.ratio = float(ratio)
        self.min_per_second = float(min_per_second)
        self.ttl = ttl
        self._clock = clock or _clock.monotonic
        self._calls = [0] * ttl
        self._retries = [0] * ttl
        self._latest = -1
        self.calls = 0
        self.retries = 0

    def _advance(self, now: float) -> int:
        second = int(now // 1)
        latest = self._latest
        if second > latest:
            if latest < 0 or second - latest >= self.ttl:
                self._calls = [0] * self.ttl
                self._retries = [0] * self.ttl
                self.calls = self.retries = 0
            else:
                for s in range(latest + 1, second + 1):
                    i = s % self.ttl
                    self.calls -= self._calls[i]
                    self.retries -= self._retries[i]
                    self._calls[i] = self._retries[i] = 0
            self._latest = second
        return self._latest % self.ttl

    def record_call(self) -> None:
        """Count one call (its first attempt)."""
        i = self._advance(self._clock())
        self._calls[i] += 1
        self.calls += 1

    def try_retry(self) -> bool:
        """Take permission for one retry, or False when the budget is spent."""
        i = self._advance(self._clock())
        if self.retries + 1 > self.ratio * self.calls + self.min_per_second * self.ttl:
            return False
        self._retries[i] += 1
        self.retries += 1
        return True

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio:g}, min_per_second={self.min_per_second:g}, "
            f"ttl={self.ttl})"
        )


RetryOn = ExceptionSpec


class Retry(Mechanism):
    """Retry failed attempts: `max_attempts` counts the first call.

    `wait` is a tenacity wait strategy (``tenacity.wait_exponential_jitter(...)``), any callable
    taking a `tenacity.RetryCallState`, or seconds; the default is `FullJitterBackoff()` (full
    jitter, 0.1 s doubling, capped at 10 s). `retry_on` is exception classes or a predicate of the
    exception; `retry_if_result` a predicate of the result. A `retry_after` attribute (seconds) on
    the exception or result is honoured: the wait is at least the hint, capped at
    `max_retry_after`. Never sleeps past the caller's deadline (it gives up instead), never retries
    `CancelledError`, and retries our own rejections (`CircuitOpenError`, `BulkheadFullError`,
    `RateLimitedError`) only when `retry_on` names them. Sync functions are accepted (thread-safe).
    Inside another retry's call (any policy, child tasks included) it makes one attempt, so
    attempts never multiply; `retry_when_nested=True` makes it retry there too. Added in 0.1.0.
    """

    mechanism = "retry"

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        wait: Any = None,
        retry_on: RetryOn = (Exception,),
        retry_if_result: Callable[[Any], bool] | None = None,
        max_retry_after: float = 60.0,
        budget: RetryBudget | None = None,
        retry_when_nested: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(retry_when_nested, bool):
            raise ConfigError(
                f"Retry.retry_when_nested: expected true or false, got {retry_when_nested!r}"
            )
        self.retry_when_nested = retry_when_nested
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
            raise ConfigError(f"Retry.max_attempts: expected an integer >= 1, got {max_attempts!r}")
        self.max_attempts = max_attempts
        if wait is None:
            wait = FullJitterBackoff()
        elif isinstance(wait, int | float) and not isinstance(wait, bool):
            if not (math.isfinite(wait) and wait >= 0):
                raise ConfigError(f"Retry.wait: expected seconds >= 0, got {wait!r}")
            wait = tenacity.wait_fixed(wait)
        elif not callable(wait):
            raise ConfigError(
                f"Retry.wait: expected a tenacity wait strategy or seconds, got {wait!r}"
            )
        self.wait: Callable[[tenacity.RetryCallState], float] = wait
        self._retry_on = ExceptionFilter(retry_on, "Retry.retry_on")
        self.retry_on = self._retry_on.spec
        # Our own rejections are retried only when retry_on names them (a predicate never does).
        self._rejections = tuple(
            t for t in self._retry_on.types or () if issubclass(t, RejectedError)
        )
        self.retry_if_result = retry_if_result
        if not (isinstance(max_retry_after, int | float) and max_retry_after >= 0):
            raise ConfigError(
                f"Retry.max_retry_after: expected seconds >= 0, got {max_retry_after!r}"
            )
        self.max_retry_after = float(max_retry_after)
        self.budget = budget
        self._owner = tenacity.Retrying()  # only to satisfy RetryCallState; never runs

    def describe(self) -> str:
        """Every setting as one line of text."""
        return (
            f"Retry(max_attempts={self.max_attempts}, wait={_wait_text(self.wait)}, "
            f"retry_on={self._retry_on.describe()}, "
            f"retry_if_result={'set' if self.retry_if_result else 'None'}, "
            f"max_retry_after={self.max_retry_after:g}, budget={self.budget!r}"
            f"{', retry_when_nested=True' if self.retry_when_nested else ''})"
        )

    # ------------------------------------------------------------------ the decision

    def _attempts(self) -> int:
        mode = testing_mode
        if not mode.active:
            return self.max_attempts
        return min(mode.attempts, self.max_attempts) if mode.cap else mode.attempts

    def _wants(self, exc: Exception) -> bool:
        if isinstance(exc, RejectedError):
            return bool(self._rejections) and isinstance(exc, self._rejections)
        return self._retry_on(exc)

    def _next_wait(
        self,
        attempt: int,
        exc: Exception | None,
        result: Any,
        start: float,
        now: float,
        ctx: CallContext,
    ) -> float:
        """Seconds to wait before attempt `attempt + 1`, or `_NO_RETRY`."""
        if attempt >= self._attempts():
            return _NO_RETRY
        if exc is not None and not self._wants(exc):
            return _NO_RETRY
        state = tenacity.RetryCallState(self._owner, None, ctx.args, ctx.kwargs)
        state.start_time = start
        state.attempt_number = attempt
        outcome = tenacity.Future(attempt)
        if exc is not None:
            outcome.set_exception(exc)
        else:
            outcome.set_result(result)
        state.outcome = outcome
        state.outcome_timestamp = now
        wait = float(self.wait(state))
        hint = getattr(exc if exc is not None else result, "retry_after", None)
        if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0:
            wait = max(wait, float(hint))
        wait = min(max(wait, 0.0), self.max_retry_after)
        if testing_mode.active:
            wait = 0.0
        deadline = deadline_var.get()
        if deadline is not None and now + wait >= deadline:
            return _NO_RETRY  # the attempt after this sleep could not finish in time
        budget = self.budget
        if budget is not None and not budget.try_retry():
            if ctx.emitter.handlers:
                ctx.emitter.emit(Rejected(ctx.policy, "retry_budget", None))
            return _NO_RETRY
        if ctx.emitter.handlers:
            ctx.emitter.emit(RetryScheduled(ctx.policy, attempt, wait, exc))
        return wait

    # ------------------------------------------------------------------ the loops

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run a call, retrying failed attempts."""
        outer = _retrying.get()
        if ctx.once or (outer is not None and outer.retrying and not self.retry_when_nested):
            return await nxt(call, ctx)  # an async with body, or nested in an outer retry
        if self.budget is not None:
            self.budget.record_call()
        ctx.retrying = True
        token = _retrying.set(ctx)
        try:
            attempt = 1
            start: float | None = None  # read on the first failure: success costs no clock read
            while True:
                try:
                    result = await nxt(call, ctx)
                except Exception as exc:
                    now = _clock.monotonic()
                    if start is None:
                        start = now
                    wait = self._next_wait(attempt, exc, None, start, now, ctx)
                    if wait < 0:
                        raise
                else:
                    check = self.retry_if_result
                    if check is None or not check(result):
                        return result
                    now = _clock.monotonic()
                    if start is None:
                        start = now
                    wait = self._next_wait(attempt, None, result, start, now, ctx)
                    if wait < 0:
                        return result
                await asyncio.sleep(wait)
                attempt += 1
                ctx.attempt = attempt
        finally:
            ctx.retrying = outer is ctx  # still inside that loop: a Retry nested in the same call
            _retrying.reset(token)

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run a sync call, retrying failed attempts (sleeps the calling thread). Refused on a
        thread running an event loop, where the sleeps would stall every task of the loop."""
        if self.max_attempts > 1:
            refuse_in_event_loop(self)
        outer = _retrying.get()
        if ctx.once or (outer is not None and outer.retrying and not self.retry_when_nested):
            return nxt(call, ctx)
        if self.budget is not None:
            self.budget.record_call()
        ctx.retrying = True
        token = _retrying.set(ctx)
        try:
            attempt = 1
            start = time.monotonic()
            while True:
                try:
                    result = nxt(call, ctx)
                except Exception as exc:
                    wait = self._next_wait(attempt, exc, None, start, time.monotonic(), ctx)
                    if wait < 0:
                        raise
                else:
                    check = self.retry_if_result
                    if check is None or not check(result):
                        return result
                    wait = self._next_wait(attempt, None, result, start, time.monotonic(), ctx)
                    if wait < 0:
                        return result
                if wait > 0:
                    time.sleep(wait)
                attempt += 1
                ctx.attempt = attempt
        finally:
            ctx.retrying = outer is ctx  # still inside that loop: a Retry nested in the same call
            _retrying.reset(token)


def _wait_text(wait: object) -> str:
    """A readable wait strategy: tenacity's objects have no repr of their settings."""
    text = repr(wait)
    if " object at 0x" not in text:
        return text
    settings = ", ".join(f"{k}={v!r}" for k, v in vars(wait).items() if not k.startswith("_"))
    return f"{type(wait).__name__}({settings})"
