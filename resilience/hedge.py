"""Hedge: when an attempt is slow, start another one; the first success wins.

For idempotent calls only. The primary attempt starts at once; if no attempt has finished after
`delay` seconds, a hedged attempt starts, and so on up to `max_hedges` extra attempts. Hedges are
for slowness only: a failed attempt never starts one (calling a failing dependency again is
Retry's job, under its budget, and our own rejections, `RejectedError`, would only be repeated).
A failure ends the call with that failure, unless other attempts are still running: then no
further hedge starts and the call waits for them. The first attempt to succeed wins: its result
is returned and the others are cancelled. When every attempt fails, the last failure is raised.

`delay` is seconds, or ``"p95"`` (any percentile ``"pNN"``): that percentile of the latency of the
attempts observed so far (the last `sample_size` that reached the dependency and finished,
success or failure; not our instant rejections, not cancelled losers). Until `min_samples`
attempts were observed, a percentile delay does not hedge: it only measures.

In a `Policy`, Hedge sits between Retry and CircuitBreaker, so every attempt (primary or hedge)
is recorded by the breaker, rate-limited, and gets its own attempt timeout. The losers are
cancelled, and a cancelled attempt is never recorded by the breaker (the cancellation contract),
so hedging is neutral to the breaker's failure rate.

Each hedged call runs its attempts as tasks (one per attempt): hedging costs a task per call.

A sync function makes one attempt (its latency still feeds a percentile delay): a hedge would
start a second thread that could not be cancelled when the first one won, so the duplicate call
would always run to its end.

Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from resilience import _clock
from resilience._core import Call, CallContext, Mechanism, Step, SyncStep
from resilience._errors import ConfigError, RejectedError
from resilience._events import Emitter, HedgeStarted, HedgeWon

T = TypeVar("T")

_PERCENTILE_RE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


class Hedge(Mechanism):
    """Start up to `max_hedges` extra attempts, one per `delay`; the first success wins.

    `delay`: seconds (0 = all attempts at once), or ``"pNN"``, a percentile of the observed
    attempt latency. `min_samples` and `sample_size` tune the percentile (ignored for a fixed
    delay).
    """

    mechanism = "hedge"

    def __init__(
        self,
        *,
        delay: float | str,
        max_hedges: int = 1,
        min_samples: int = 20,
        sample_size: int = 200,
        clock: _clock.Clock | None = None,
    ) -> None:
        super().__init__()
        self._clock = clock or _clock.monotonic
        self._samples: deque[float] = deque()  # given its maxlen (sample_size) by `_set`
        self._set(delay, max_hedges, min_samples, sample_size)

    def reconfigure(
        self,
        *,
        delay: float | str | None = None,
        max_hedges: int | None = None,
        min_samples: int | None = None,
        sample_size: int | None = None,
    ) -> None:
        """Change the settings of a live hedge, keeping its latency samples (the newest
        `sample_size` of them). A setting not given keeps its value; a bad one raises
        `ConfigError` and changes nothing. Added in 0.1.0."""
        self._set(
            self.delay if delay is None else delay,
            self.max_hedges if max_hedges is None else max_hedges,
            self.min_samples if min_samples is None else min_samples,
            self.sample_size if sample_size is None else sample_size,
        )

    def _set(self, delay: float | str, max_hedges: int, min_samples: int, sample_size: int) -> None:
        percentile: float | None = None
        if isinstance(delay, str):
            match = _PERCENTILE_RE.match(delay)
            if match is None or float(match.group(1)) <= 0:  # the pattern keeps it below 100
                raise ConfigError(
                    f"delay: expected seconds or a latency percentile such as 'p95', got {delay!r}"
                )
            percentile = float(match.group(1))
        elif (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not (math.isfinite(delay) and delay >= 0)
        ):
            raise ConfigError(f"delay: expected seconds ≥ 0 or 'p95', got {delay!r}")
        if isinstance(max_hedges, bool) or not isinstance(max_hedges, int) or max_hedges < 1:
            raise ConfigError(f"max_hedges: expected a whole number ≥ 1, got {max_hedges!r}")
        if min_samples < 1:
            raise ConfigError(f"min_samples: expected a whole number ≥ 1, got {min_samples!r}")
        if sample_size < min_samples:
            raise ConfigError(
                f"sample_size: expected ≥ min_samples ({min_samples}), got {sample_size!r}"
            )
        self.percentile = percentile
        self.delay = delay
        self.max_hedges = max_hedges
        self.min_samples = min_samples
        self.sample_size = sample_size
        if self._samples.maxlen != sample_size:
            self._samples = deque(self._samples, maxlen=sample_size)  # the newest ones stay
        # The percentile, recomputed once `_fresh` (samples added since) reaches ~10% of them.
        self._cached: float | None = None
        self._fresh = 0

    # ----------------------------------------------------------------------------- the delay

    def current_delay(self) -> float | None:
        """Seconds before the next hedge, or None while a percentile has too few samples."""
        if self.percentile is None:
            return float(self.delay)
        samples = self._samples
        if len(samples) < self.min_samples:
            return None
        # Sorting on every call would cost O(n log n) per call; refresh every ~10% new samples.
        if self._cached is None or self._fresh >= max(1, len(samples) // 10):
            ordered = sorted(samples)
            rank = math.ceil(self.percentile / 100 * len(ordered))  # nearest-rank percentile
            self._cached = ordered[max(0, rank - 1)]
            self._fresh = 0
        return self._cached

    def observe(self, seconds: float) -> None:
        """Record the latency of one finished attempt (used by a percentile delay)."""
        self._samples.append(seconds)
        self._fresh += 1

    # ------------------------------------------------------------------------------ as a layer

    def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
        """Run the call with hedged attempts (see the module docstring)."""
        return self._run(nxt, call, ctx)

    async def _attempt(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        start = self._clock()
        try:
            result = await nxt(call, ctx)
        except Exception as exc:
            # A cancelled attempt is not observed, nor one of our instant rejections: the delay
            # is learned from the dependency's latency only.
            if not isinstance(exc, RejectedError):
                self.observe(self._clock() - start)
            raise
        self.observe(self._clock() - start)
        return result

    async def _run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        delay = self.current_delay()
        if ctx.once or delay is None:
            # One attempt only: the body of an async with block, or a percentile still learning.
            return await self._attempt(nxt, call, ctx)
        loop = asyncio.get_running_loop()
        emitter = ctx.emitter
        index: dict[asyncio.Task[T], int] = {}
        pending: set[asyncio.Task[T]] = set()

        def start_attempt() -> None:
            n = len(index)
            task = loop.create_task(self._attempt(nxt, call, ctx))
            index[task] = n
            pending.add(task)
            if n and emitter.handlers:
                emitter.emit(HedgeStarted(ctx.policy, n))

        start_attempt()
        failure: BaseException | None = None
        try:
            while pending:
                # After a failure no hedge starts: the call waits for the attempts still running.
                can_hedge = failure is None and len(index) <= self.max_hedges
                done, _ = await asyncio.wait(
                    pending,
                    timeout=delay if can_hedge else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:  # the delay passed and nothing finished: hedge
                    start_attempt()
                    continue
                for task in sorted(done, key=index.__getitem__):
                    pending.discard(task)
                    if task.cancelled():
                        # Cancelled by someone else than us (we only cancel in `finally`).
                        failure = asyncio.CancelledError()
                        continue
                    exc = task.exception()
                    if exc is None:
                        if len(index) > 1:
                            _won(emitter, ctx.policy, index[task])
                        return task.result()
                    failure = exc
            assert failure is not None
            raise failure
        finally:
            for task in pending:
                task.cancel()
            if pending:
                # Let the losers unwind (release permits) before the caller goes on.
                await asyncio.wait(pending)

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run a sync call: one attempt, observed (see the module docstring)."""
        start = self._clock()
        try:
            result = nxt(call, ctx)
        except Exception as exc:
            if not isinstance(exc, RejectedError):
                self.observe(self._clock() - start)
            raise
        self.observe(self._clock() - start)
        return result

    def describe(self) -> str:
        """One line with every setting (and the current percentile delay, when there is one)."""
        if self.percentile is None:
            delay = f"{float(self.delay):g}s"
        else:
            current = self.current_delay()
            now = "learning" if current is None else f"now {current:.3g}s"
            delay = (
                f"{self.delay} ({now}; min_samples={self.min_samples}, "
                f"sample_size={self.sample_size})"
            )
        return f"Hedge(delay={delay}, max_hedges={self.max_hedges})"

    def __repr__(self) -> str:
        return self.describe()


def _won(emitter: Emitter, policy: str, hedge: int) -> None:
    if emitter.handlers:
        emitter.emit(HedgeWon(policy, hedge))
