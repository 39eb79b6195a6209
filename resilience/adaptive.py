"""`AdaptiveLimiter`: a concurrency limit that follows the dependency's measured latency.

A static bulkhead is a guess; under overload it either admits too much (latency grows without
bound) or too little. `AdaptiveLimiter` measures each call's round-trip time and lets an
algorithm from Netflix concurrency-limits move the limit (Little's law: the right concurrency is
throughput × no-load latency):

============ ================================================================== ===================
algorithm    moves the limit                                                    parameters (default)
============ ================================================================== ===================
`Vegas`      estimates the queue ``limit × (1 − rtt_noload / rtt)``; grows      ``alpha`` 3,
             while it is under ``alpha·log10(limit)``, shrinks over             ``beta`` 6,
             ``beta·log10(limit)``; ``rtt_noload`` is the minimum RTT,          ``probe_multiplier``
             re-measured every ``probe_multiplier × limit`` samples at low      30, ``smoothing`` 1
             load only (no ratchet upwards, upstream issue #165)
`Gradient2`  ``gradient = clamp(tolerance × long_rtt / short_rtt, 0.5, 1)``,    ``tolerance`` 1.1,
             ``limit ← limit × gradient (+ queue_size when gradient is 1)``,    ``queue_size`` 4,
             smoothed; the long RTT never rises while the limit binds, so a     ``long_window`` 600,
             queue cannot raise its own baseline (the upstream creep, PR #134)  ``short_window`` 10,
                                                                                ``smoothing`` 0.2
`AIMD`       ``limit × backoff_ratio`` on a drop or an RTT over                 ``backoff_ratio``
             ``latency_threshold``, else ``+1`` while at least half is used     0.9,
                                                                                ``latency_threshold``
                                                                                5 s
============ ================================================================== ===================

The algorithm sees one sample per `sample_window` calls (default 20): their mean RTT, the peak
in-flight count and whether any was dropped, as Netflix's ``WindowedLimit`` does. Every
algorithm leaves the limit unchanged while fewer than half of it is in use (app-limited: a
quiet service learns nothing about capacity). The limit stays within ``[min_limit, max_limit]``;
give it the bulkhead you would have planned as `max_limit` (`resize` moves it live). Gradient2's
``tolerance`` defaults to 1.1, not Netflix's 1.5: with the long RTT held while the limit binds,
the limit settles where latency is ``tolerance`` × the no-load RTT, and 1.1 keeps that within
20 % of the knee (tests/resilience/test_adaptive.py). A call that raises an exception in
`drop_on` (default `TimeoutError`) is a congestion signal; another exception gives no sample (a
fast failure says nothing about capacity); a cancelled call gives its permit back and no sample.

Requests carry a `resilience.shedding.Criticality`; ``critical`` ones may fill the whole limit,
``default`` and ``sheddable`` ones only their `Shares` of it, so sheddable traffic is refused
first. A refusal is `LimitExceededError` with a ``retry_after`` hint and a `Rejected` event
(mechanism ``adaptive_limiter``, or ``load_shedder`` when a lower class was shed below the full
limit). `limit` is a live readout exported as the ``resilience_adaptive_limit`` gauge.

Works in a `Policy` (``adaptive_limiter=``, just outside the attempt timeout, so each attempt is
measured and a timed-out one is a drop), alone as a decorator or ``async with``, for sync
functions, and by hand for servers and simulations:
``if limiter.try_acquire(level): ... limiter.release(rtt)``. Added in 0.2.0.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from resilience import _clock
from resilience._core import Call, CallContext, Mechanism, Step, SyncStep
from resilience._errors import ConfigError, LimitExceededError
from resilience._events import PolicyInfo, Rejected
from resilience._limit_algorithms import AIMD as AIMD
from resilience._limit_algorithms import ALGORITHMS, AlgorithmName, LimitAlgorithm, positive
from resilience._limit_algorithms import Gradient2 as Gradient2
from resilience._limit_algorithms import Vegas as Vegas
from resilience.shedding import Criticality, Shares, criticality_var

T = TypeVar("T")

_CRITICAL = Criticality.CRITICAL
_DEFAULT = Criticality.DEFAULT
_get_running_loop = asyncio.get_running_loop
_BASE_LOOP_TIME = asyncio.BaseEventLoop.time
_SHEDDABLE = Criticality.SHEDDABLE
_get_criticality = criticality_var.get


class AdaptiveLimiter(Mechanism):
    """A concurrency limit moved by `algorithm` within ``[min_limit, max_limit]`` (see the module
    docstring); requests below ``critical`` may use only their `shares` of it. Added in 0.2.0."""

    mechanism = "adaptive_limiter"

    def __init__(
        self,
        *,
        algorithm: AlgorithmName | LimitAlgorithm = "vegas",
        initial_limit: int = 20,
        min_limit: int = 1,
        max_limit: int = 1000,
        shares: Shares | None = None,
        drop_on: tuple[type[BaseException], ...] = (TimeoutError,),
        retry_after: float = 1.0,
        sample_window: int = 20,
    ) -> None:
        super().__init__()
        if isinstance(algorithm, str):
            if algorithm not in ALGORITHMS:
                raise ConfigError(
                    "AdaptiveLimiter.algorithm: expected one of vegas, gradient2, aimd, got "
                    f"{algorithm[:40]!r}"
                )
            algorithm = ALGORITHMS[algorithm]()
        self.algorithm: LimitAlgorithm = algorithm
        for field, value in (
            ("initial_limit", initial_limit),
            ("min_limit", min_limit),
            ("max_limit", max_limit),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    f"AdaptiveLimiter.{field}: expected an integer >= 1, got {value!r}"
                )
        if min_limit > max_limit:
            raise ConfigError(
                f"AdaptiveLimiter.min_limit ({min_limit}) must not exceed max_limit ({max_limit})"
            )
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.shares = shares or Shares()
        self.drop_on = drop_on
        self.retry_after = positive("AdaptiveLimiter", "retry_after", retry_after)
        if (
            not isinstance(sample_window, int)
            or isinstance(sample_window, bool)
            or sample_window < 1
        ):
            raise ConfigError(
                f"AdaptiveLimiter.sample_window: expected an integer >= 1, got {sample_window!r}"
            )
        self.sample_window = sample_window
        self._n = 0
        self._rtt_sum = 0.0
        self._peak = 0
        self._dropped = False
        self._saturated = False
        self._loop: object = None
        self._loop_clock: Callable[[], float] = time.monotonic
        self._in_flight = 0
        self._lock = threading.Lock()
        self._set_limit(float(min(max(initial_limit, min_limit), max_limit)))

    # -- the limit -------------------------------------------------------------------------

    def _set_limit(self, value: float) -> None:
        value = min(max(value, float(self.min_limit)), float(self.max_limit))
        self._limit = value
        whole = max(1, int(value))
        self._admit_critical = whole
        self._admit_default = max(1, int(value * self.shares.default))
        self._admit_sheddable = max(1, int(value * self.shares.sheddable))

    @property
    def limit(self) -> int:
        """The current limit (calls admitted at once for ``critical`` requests)."""
        return self._admit_critical

    @property
    def estimated_limit(self) -> float:
        """The algorithm's current estimate, before rounding down to `limit`."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Calls holding a permit right now."""
        return self._in_flight

    def resize(self, max_limit: int) -> None:
        """Move the upper bound (a reloaded plan's bulkhead); the current limit is clamped to it."""
        if not isinstance(max_limit, int) or isinstance(max_limit, bool) or max_limit < 1:
            raise ConfigError(
                f"AdaptiveLimiter.max_limit: expected an integer >= 1, got {max_limit!r}"
            )
        self.max_limit = max_limit
        self.min_limit = min(self.min_limit, max_limit)
        self._set_limit(self._limit)

    def describe(self) -> str:
        """Every setting as one line of text."""
        return (
            f"AdaptiveLimiter({self.algorithm.describe()}, min_limit={self.min_limit}, "
            f"max_limit={self.max_limit}, shares=(default={self.shares.default:g}, "
            f"sheddable={self.shares.sheddable:g}))"
        )

    def standalone_info(self, name: str) -> PolicyInfo:
        """A standalone limiter's `PolicyInfo`, with the live limit gauge."""
        return PolicyInfo(
            name=name, mechanisms=(self.mechanism,), adaptive_limit=lambda: self.limit
        )

    # -- by hand ---------------------------------------------------------------------------

    def try_acquire(self, level: Criticality | None = None) -> bool:
        """Take a permit for a request of `level` (default: the current `criticality_var`)."""
        if level is None:
            level = _get_criticality()
        admit = (
            self._admit_critical
            if level is _CRITICAL
            else self._admit_sheddable
            if level is _SHEDDABLE
            else self._admit_default
        )
        if self._in_flight >= admit:
            self._saturated = True
            return False
        self._in_flight += 1
        return True

    def release(self, rtt: float | None, *, dropped: bool = False) -> None:
        """Give a permit back; `rtt` seconds is a sample (None: no sample, e.g. cancelled)."""
        in_flight = self._in_flight
        self._in_flight = in_flight - 1
        if rtt is not None:
            self._sample(rtt, in_flight, dropped)

    def rejection(self, policy: str, level: Criticality | None = None) -> LimitExceededError:
        """The error (and, through the policy's emitter, the event) for a refused request."""
        if level is None:
            level = _get_criticality()
        shed = self._in_flight < self._admit_critical
        return LimitExceededError(
            f"{'load shed' if shed else 'concurrency limit reached'}: {self._in_flight} calls "
            f"in flight, limit {self.limit}, request criticality {level.value}",
            policy=policy,
            retry_after=self.retry_after,
            criticality=level.value,
        )

    def _reject(self, ctx: CallContext, level: Criticality) -> LimitExceededError:
        error = self.rejection(ctx.policy, level)
        if ctx.emitter.handlers:
            shed = self._in_flight < self._admit_critical
            ctx.emitter.emit(
                Rejected(ctx.policy, "load_shedder" if shed else self.mechanism, self.retry_after)
            )
        return error

    # -- as a layer ------------------------------------------------------------------------

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run one call under the limit, measuring its RTT."""
        # The admission test and the sample are inlined (not `try_acquire` / `_sample`): they
        # are this layer's whole cost on a successful call, measured in
        # benchmarks/limiter_overhead.py.
        level = _get_criticality()
        in_flight = self._in_flight
        if in_flight >= (
            self._admit_default
            if level is _DEFAULT
            else self._admit_critical
            if level is _CRITICAL
            else self._admit_sheddable
        ):
            self._saturated = True
            raise self._reject(ctx, level)
        in_flight += 1
        self._in_flight = in_flight
        loop = _get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            # asyncio's own loop.time() is a Python frame around time.monotonic(): call the C
            # function directly when the loop does not override it (VirtualTimeLoop does).
            self._loop_clock = time.monotonic if type(loop).time is _BASE_LOOP_TIME else loop.time
        clock = self._loop_clock
        start = clock()
        try:
            result = await nxt(call, ctx)
        except Exception as exc:
            self._in_flight -= 1
            if isinstance(exc, self.drop_on):
                self._sample(clock() - start, in_flight, True)
            raise
        except BaseException:
            self._in_flight -= 1
            raise
        self._in_flight -= 1
        self._rtt_sum += clock() - start
        if in_flight > self._peak:
            self._peak = in_flight
        n = self._n + 1
        if n < self.sample_window:
            self._n = n
        else:
            self._window_done(n)
        return result

    def _sample(self, rtt: float, in_flight: int, dropped: bool) -> None:
        # Samples are batched (Netflix WindowedLimit): one call's RTT is mostly noise, and a limit
        # moved per call swings with it. The algorithm sees the window's mean RTT, its peak
        # in-flight count and whether any call in it was dropped.
        n = self._n + 1
        self._rtt_sum += rtt
        if in_flight > self._peak:
            self._peak = in_flight
        if dropped:
            self._dropped = True
        if n < self.sample_window:
            self._n = n
            return
        self._window_done(n)

    def _window_done(self, n: int) -> None:
        mean = self._rtt_sum / n
        peak, drop, saturated = self._peak, self._dropped, self._saturated
        self._n, self._rtt_sum, self._peak, self._dropped = 0, 0.0, 0, False
        self._saturated = False
        self._set_limit(self.algorithm.update(self._limit, mean, peak, drop, saturated))

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run one sync call under the limit (thread-safe)."""
        level = _get_criticality()
        with self._lock:
            if not self.try_acquire(level):
                raise self._reject(ctx, level)
            in_flight = self._in_flight
        start = _clock.monotonic()
        rtt: float | None = None
        dropped = False
        try:
            result = nxt(call, ctx)
            rtt = _clock.monotonic() - start
            return result
        except Exception as exc:
            if isinstance(exc, self.drop_on):
                rtt, dropped = _clock.monotonic() - start, True
            raise
        finally:
            with self._lock:
                self._in_flight -= 1
                if rtt is not None:
                    self._sample(rtt, in_flight, dropped)
