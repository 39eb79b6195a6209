"""RateLimiter: a token bucket with an explicit burst, usable alone or in a `Policy`.

The bucket holds at most `burst` tokens and refills at `rate_per_second` tokens per second; it
starts full. A call takes one token. When none is left, a caller may *reserve* the next one if it
will be there within `max_wait` seconds (the bucket goes into debt and the caller sleeps until its
token exists, so waiting callers are served in arrival order); otherwise the call is refused with
`RateLimitedError`, whose `retry_after` says when a token will be available. A caller cancelled
while it waits gives its reserved token back, and in a `Policy` with a `deadline` a caller whose
token would come after the deadline is refused at once instead of waiting in vain.

Over any interval of `t` seconds the limiter admits at most `burst + rate_per_second × t` calls.
`reconfigure` changes the rate, burst or wait of a live limiter (a plan reload) keeping its tokens
and the callers already waiting. Sync functions are accepted (thread-safe: the bucket is taken
under a lock and the calling thread sleeps for a reserved token).

Added in 0.1.0.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, Protocol, TypeVar

from resilience import _clock
from resilience._core import (
    Call,
    CallContext,
    Mechanism,
    Step,
    SyncStep,
    refuse_in_event_loop,
    remaining_time,
)
from resilience._errors import ConfigError, RateLimitedError
from resilience._events import Emitter, Rejected

T = TypeVar("T")

# Float refills drift by a few ulps; a token that is "almost" there is there.
_EPSILON = 1e-9


class RateLimiterStorage(Protocol):
    """A shared token bucket (e.g. Redis) used instead of the in-process one.

    `reserve` takes one token of the bucket `key` and returns `(True, wait)` when the caller may go
    after `wait` seconds (0 = now), or `(False, retry_after)` when no token is there within
    `max_wait`. Tokens reserved by a caller that is then cancelled are not given back.
    """

    async def reserve(
        self, key: str, *, rate_per_second: float, burst: int, max_wait: float
    ) -> tuple[bool, float]:
        """Take one token or say when one will be available."""


class RateLimiter(Mechanism):
    """Token bucket: at most `burst` calls at once, `rate_per_second` calls per second sustained.

    `burst` defaults to one second's worth of calls (at least 1). `max_wait` is how long a caller
    may wait for a token before `RateLimitedError` (0 = refuse at once). `storage` shares the bucket
    between processes (see `RateLimiterStorage`); `key` names the shared bucket (default: the
    policy name). Works as a decorator of coroutine functions, as `async with`, and as a layer of
    `Policy(rate_limiter=...)`.
    """

    mechanism = "rate_limiter"

    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int | None = None,
        max_wait: float = 0.0,
        storage: RateLimiterStorage | None = None,
        key: str | None = None,
        clock: _clock.Clock | None = None,
        sleep: _clock.Sleeper | None = None,
    ) -> None:
        rate_per_second, burst, max_wait = _checked(rate_per_second, burst, max_wait)
        super().__init__()
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.max_wait = max_wait
        self.storage = storage
        self.key = key
        self._clock = clock or _clock.monotonic
        self._sleep = sleep or _clock.sleep
        self._tokens = float(burst)
        self._last: float | None = None
        self._lock = threading.Lock()  # sync (threaded) callers only; the async path is lock-free

    def reconfigure(
        self,
        *,
        rate_per_second: float | None = None,
        burst: int | None = None,
        max_wait: float | None = None,
    ) -> None:
        """Change the limits of a live limiter, keeping its tokens (as resilience4j's
        `changeLimitForPeriod`): the bucket is refilled at the old rate up to now, then refills at
        the new one; a lower `burst` caps the tokens held, a higher one lets them grow (it does
        not add any). Callers already waiting for a reserved token keep their reservation. A
        setting not given keeps its value; a bad one raises `ConfigError` and changes nothing.
        Added in 0.1.0.
        """
        new_rate, new_burst, new_wait = _checked(
            self.rate_per_second if rate_per_second is None else rate_per_second,
            self.burst if burst is None else burst,
            self.max_wait if max_wait is None else max_wait,
        )
        with self._lock:
            self._refill(self._clock())
            self.rate_per_second, self.burst, self.max_wait = new_rate, new_burst, new_wait
            self._tokens = min(float(new_burst), self._tokens)

    # ------------------------------------------------------------------------------ the bucket

    @property
    def available(self) -> float:
        """Tokens in the bucket now (negative while callers wait for reserved tokens)."""
        now = self._clock()
        self._refill(now)
        return self._tokens

    def _refill(self, now: float) -> None:
        last = self._last
        if last is None:
            self._last = now
            return
        if now > last:
            self._tokens = min(
                float(self.burst), self._tokens + (now - last) * self.rate_per_second
            )
            self._last = now

    def reserve(self, emitter: Emitter | None = None) -> float:
        """Take one token now or reserve the next one; return the seconds to wait before using it.

        Raises `RateLimitedError` (with `retry_after`) when the token would take longer than
        `max_wait` (reported to `emitter`, or to the bound policies' emitters when None).
        Synchronous and cheap: the in-process decision needs no lock on one event loop.
        """
        now = self._clock()
        self._refill(now)
        tokens = self._tokens
        if tokens >= 1.0 - _EPSILON:
            self._tokens = tokens - 1.0
            return 0.0
        wait = (1.0 - tokens) / self.rate_per_second
        if wait <= self.max_wait + _EPSILON:
            self._tokens = tokens - 1.0
            return wait
        self._reject(wait, emitter)

    def refund(self) -> None:
        """Give back one token reserved by a caller that did not use it (e.g. it was cancelled)."""
        self._refill(self._clock())
        self._tokens = min(float(self.burst), self._tokens + 1.0)

    def _reject(self, retry_after: float, emitter: Emitter | None) -> NoReturn:
        # Each policy's hooks hear the rejection under that policy's name (a limiter shared by
        # policies is bound to each); the error names the caller's policy.
        for target in (emitter,) if emitter is not None else self._emitters:
            if target.handlers:
                target.emit(Rejected(target.info.name, "rate_limiter", retry_after))
        policy = self._policy if emitter is None else emitter.info.name
        raise RateLimitedError(
            f"rate limiter of {policy or 'call'!r}: no token within {self.max_wait:g}s "
            f"({self.rate_per_second:g}/s, burst {self.burst}); next in {retry_after:.3f}s",
            policy=policy,
            retry_after=retry_after,
        )

    async def acquire(self, emitter: Emitter | None = None) -> None:
        """Wait for a token (at most `max_wait`) or raise `RateLimitedError`."""
        if self.storage is not None:
            granted, seconds = await self.storage.reserve(
                self.key or self._policy,
                rate_per_second=self.rate_per_second,
                burst=self.burst,
                max_wait=self.max_wait,
            )
            if not granted:
                self._reject(seconds, emitter)
            if seconds > 0:
                await self._sleep(seconds)
            return
        wait = self.reserve(emitter)
        if wait > 0:
            try:
                await self._sleep(wait)
            except BaseException:
                # Cancelled while waiting: the reserved token was never used, so it goes back.
                self.refund()
                raise

    # ----------------------------------------------------------------------------- as a layer

    def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
        """Take a token, then run the inner layers (see `resilience._core.Layer`)."""
        return self._run(nxt, call, ctx)

    async def _run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        if self.storage is None:
            wait = self.reserve(ctx.emitter)
            if wait > 0:
                left = remaining_time()
                if left is not None and wait > left:
                    # The caller's deadline ends before the token exists: refuse now, don't wait.
                    self.refund()
                    self._reject(wait, ctx.emitter)
                try:
                    await self._sleep(wait)
                except BaseException:
                    self.refund()
                    raise
        else:
            await self.acquire(ctx.emitter)
        return await nxt(call, ctx)

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Take a token (sleeping the calling thread for a reserved one), then run the inner
        layers. With a `max_wait`, refused on a thread running an event loop."""
        if self.storage is not None:
            raise TypeError(
                f"{self.describe()} shares its bucket through an async storage; decorate an "
                "async def to use it"
            )
        if self.max_wait > 0:
            refuse_in_event_loop(self)
        with self._lock:
            wait = self.reserve(ctx.emitter)
            if wait > 0:
                left = remaining_time()
                if left is not None and wait > left:
                    self.refund()
                    self._reject(wait, ctx.emitter)
        if wait > 0:
            try:
                time.sleep(wait)
            except BaseException:
                with self._lock:
                    self.refund()
                raise
        return nxt(call, ctx)

    def describe(self) -> str:
        """One line with every setting."""
        shared = f", shared via {type(self.storage).__name__}" if self.storage else ""
        return (
            f"RateLimiter(rate_per_second={self.rate_per_second:g}, burst={self.burst}, "
            f"max_wait={self.max_wait:g}s{shared})"
        )

    def __repr__(self) -> str:
        return self.describe()


def _checked(
    rate_per_second: float, burst: int | None, max_wait: float
) -> tuple[float, int, float]:
    """The limiter's settings validated (`burst` None: one second's worth, at least 1)."""
    if not (
        isinstance(rate_per_second, int | float)
        and not isinstance(rate_per_second, bool)
        and math.isfinite(rate_per_second)
        and rate_per_second > 0
    ):
        raise ConfigError(
            f"rate_per_second: expected calls per second > 0, got {rate_per_second!r}"
        )
    if burst is None:
        burst = max(1, math.ceil(rate_per_second))
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ConfigError(f"burst: expected a whole number of calls ≥ 1, got {burst!r}")
    if (
        not isinstance(max_wait, int | float)
        or isinstance(max_wait, bool)
        or not math.isfinite(max_wait)
        or max_wait < 0
    ):
        raise ConfigError(f"max_wait: expected seconds ≥ 0, got {max_wait!r}")
    return float(rate_per_second), burst, float(max_wait)
