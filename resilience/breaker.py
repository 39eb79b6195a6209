"""`CircuitBreaker`: a failure-rate and slow-call-rate breaker with resilience4j semantics.

States: closed (every call passes and is recorded in a sliding window), open (calls are rejected
with `CircuitOpenError` until `open_duration` has passed; the next call then moves it to half_open),
half_open (exactly `half_open_calls` probes pass; their rates close or re-open it), and the manual
states disabled (pass, record nothing), forced_open (reject everything) and metrics_only (pass and
record, never trip).

Outcomes: an exception matching `ignore_on`, or one of our own rejections (`RejectedError`), is
IGNORED; one matching `record_on` is a FAILURE; any other exception, and any result, is a SUCCESS
unless `failure_if_result(result)` is true (or raises: a FAILURE, and its error propagates). A
call that takes longer than `slow_call_duration` is also SLOW. Cancellation (and every
non-`Exception` `BaseException`) records nothing and gives a half-open permit back.

Shared state (`storage=`): the breaker implements the `LocalBreaker` seam of its storage adapter
(resilience/storage/_breaker.py) and calls the adapter from `_transition`, `_release`, `_record`,
`reconfigure` and, while not closed, instead of its local decision; `storage=None` costs nothing.
"""

from __future__ import annotations

import threading
from asyncio import get_running_loop as _get_running_loop
from collections.abc import Callable
from typing import Any, TypeVar, Unpack

from resilience import _clock
from resilience._breaker_seam import BreakerSeam
from resilience._breaker_settings import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    METRICS_ONLY,
    OPEN,
    RECONFIGURABLE,
    BreakerState,
    CircuitBreakerSettings,
    ExceptionTypes,
    check_reconfigurable,
    checked,
    describe_settings,
    positive_int,
)
from resilience._circuit_open import CircuitOpenError
from resilience._core import Call, CallContext, Mechanism, Step, SyncStep
from resilience._errors import ConfigError, RejectedError
from resilience._events import Emitter, PolicyInfo, Rejected, StateChanged
from resilience._window import CountWindow, TimeWindow
from resilience.storage._breaker import SharedBreakerAdapter, share

__all__ = [
    "CLOSED",
    "DISABLED",
    "FORCED_OPEN",
    "HALF_OPEN",
    "METRICS_ONLY",
    "OPEN",
    "RECONFIGURABLE",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerSettings",
]

T = TypeVar("T")


_NO_RECORD = -1  # the "generation" handed out when nothing is to be recorded (disabled)


class CircuitBreaker(Mechanism, BreakerSeam):
    """Stop calling a dependency whose failure rate or slow-call rate crossed a threshold.

    Rates are compared with ``>=`` once the window holds `minimum_calls` outcomes (for a count
    window, at most `window_size`); `window_type` is ``"count"`` (the last `window_size` calls) or
    ``"time"`` (the last `window_size` seconds). `open_duration` is seconds or a function of the
    number of consecutive opens (1 for the first), e.g. ``lambda n: min(60, 5 * 2 ** (n - 1))``.
    `max_wait_in_half_open` (0 = no limit) re-opens a half-open breaker whose probes did not
    finish in time. `automatic_half_open` moves an open breaker to half_open on a timer when its
    open duration ends (and a half-open one back to open when `max_wait_in_half_open` ends), as
    resilience4j's ``automaticTransitionFromOpenToHalfOpenEnabled``, instead of on the next
    call: the state, its events and gauges change on time even without traffic.
    `max_retry_after` (0 = off) lets the dependency open the breaker: a recorded failure whose
    exception carries a `retry_after` hint in seconds (an HTTP 429 or 503 with ``Retry-After``,
    see `resilience.integrations.aiohttp.HTTPStatusFailure`) opens it at once for that long, at
    most `max_retry_after` seconds (not for `open_duration`); a hint on a breaker already open
    only lengthens its open time. Usable as a decorator (coroutine or sync functions,
    thread-safe), as ``async with``, and as `Policy(circuit_breaker=...)`. Added in 0.1.0.
    """

    mechanism = "circuit_breaker"

    def __init__(
        self,
        name: str,
        *,
        failure_rate_threshold: float = 0.5,
        slow_call_rate_threshold: float = 1.0,
        slow_call_duration: float = 60.0,
        minimum_calls: int = 100,
        window_type: str = "count",
        window_size: int = 100,
        half_open_calls: int = 10,
        max_wait_in_half_open: float = 0.0,
        open_duration: float | Callable[[int], float] = 60.0,
        record_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        ignore_on: type[BaseException] | tuple[type[BaseException], ...] = (),
        failure_if_result: Callable[[Any], bool] | None = None,
        automatic_half_open: bool = False,
        max_retry_after: float = 0.0,
        clock: Callable[[], float] | None = None,
        storage: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(name, str) or not name:
            raise ConfigError(f"CircuitBreaker.name: expected a non-empty string, got {name!r}")
        self.name = name
        self.window_size = positive_int(window_size, "window_size")
        if window_type not in ("count", "time"):
            raise ConfigError(
                f"CircuitBreaker.window_type: expected 'count' or 'time', got {window_type!r}"
            )
        settings = checked(
            CircuitBreakerSettings(
                failure_rate_threshold=failure_rate_threshold,
                slow_call_rate_threshold=slow_call_rate_threshold,
                slow_call_duration=slow_call_duration,
                minimum_calls=minimum_calls,
                half_open_calls=half_open_calls,
                max_wait_in_half_open=max_wait_in_half_open,
                open_duration=open_duration,
                record_on=record_on,
                ignore_on=ignore_on,
                failure_if_result=failure_if_result,
                automatic_half_open=automatic_half_open,
                max_retry_after=max_retry_after,
            )
        )
        self.window_type = window_type
        self._count_closed = window_type == "count"
        self._window: CountWindow | TimeWindow = (
            CountWindow(self.window_size) if self._count_closed else TimeWindow(self.window_size)
        )
        self._half_window = CountWindow(settings["half_open_calls"])
        self._apply(settings)
        self.storage = storage
        self._clock: Callable[[], float] = clock or _clock.monotonic
        self._clock_injected = clock is not None
        # Async calls read the running loop's clock directly unless a clock was injected (or a
        # shared breaker still has to start its storage's sync: see `_start_shared`).
        self._loop_clock = clock is None
        self._readout: CountWindow | TimeWindow = self._window
        self._state = CLOSED
        self._gen = 0  # bumped on every transition: outcomes of older calls are not recorded
        self._open_until = 0.0
        self._consecutive_opens = 0
        self._half_open_since = 0.0
        self._half_permits = 0
        # Sync (threaded) callers only; the async path is lock-free. Re-entrant because hooks run
        # under it and may read the breaker.
        self._lock = threading.RLock()
        self._own_emitter = Emitter(self.standalone_info(name))
        # Shared state (resilience/storage/_breaker.py): None costs nothing on the closed path.
        self._shared: SharedBreakerAdapter | None = None
        self._start_pending = False
        if storage is not None:
            self._shared = share(self, storage)
            if self._shared.needs_start:
                # Built outside a loop (e.g. a plan loaded at import): the first async call starts
                # the storage's sync. Until then async calls take the injected-clock branch of
                # `run`, which checks this flag; afterwards no call pays for it.
                self._start_pending, self._loop_clock = True, False

    # ------------------------------------------------------------------ settings

    def reconfigure(self, **settings: Unpack[CircuitBreakerSettings]) -> None:
        """Change some settings of a live breaker; its state and its window stay as they are.

        Takes the constructor's keywords listed in `CircuitBreakerSettings` (thresholds,
        `minimum_calls`, slow-call settings, `record_on` / `ignore_on` / `failure_if_result`,
        `open_duration`, `half_open_calls`, `max_wait_in_half_open`, the window's shape); a setting
        not given keeps its value. All are validated first: a bad one raises `ConfigError` and
        changes nothing. The next recorded outcome is judged by the new thresholds; a new
        `half_open_calls` applies from the next half-open period on (probes already let through
        keep the current one); a new `open_duration` from the next open. A new `window_size`
        resizes the window in place, keeping its most recent outcomes (the last calls, or the last
        seconds); a new `window_type` is another kind of window, which starts empty (the state is
        kept either way). A shared breaker (`storage=`) hands the new settings to its storage at
        once. Added in 0.1.0.
        """
        valid: dict[str, Any] = dict(self.check_settings(**settings))
        window_type = valid.pop("window_type", self.window_type)
        window_size = valid.pop("window_size", self.window_size)
        with self._lock:  # threads running sync callables read the settings under it
            self._reshape(window_type, window_size)
            self._apply(valid)
        if self._shared is not None:
            self._shared.settings_changed()

    def _reshape(self, window_type: str, window_size: int) -> None:
        """Give the closed-state window a new type (empty) or size (most recent outcomes kept)."""
        if window_type == self.window_type and window_size == self.window_size:
            return
        old = self._window
        if window_type != self.window_type:
            window: CountWindow | TimeWindow = (
                CountWindow(window_size) if window_type == "count" else TimeWindow(window_size)
            )
        else:
            window = old.resized(window_size)
        self.window_type, self.window_size = window_type, window_size
        self._count_closed = window_type == "count"
        self._window = window
        if self._readout is old:
            self._readout = window

    @staticmethod
    def check_settings(**settings: Unpack[CircuitBreakerSettings]) -> CircuitBreakerSettings:
        """`settings` validated and normalised as `reconfigure` takes them, without applying them:
        for a caller that validates a whole configuration before changing anything (a plan
        reload). Raises `ConfigError` naming the first bad setting. Added in 0.1.0.
        """
        return check_reconfigurable(settings)

    def _apply(self, settings: dict[str, Any]) -> None:
        """Install validated `settings` and what the hot path derives from them."""
        for key, value in settings.items():
            setattr(self, key, value)
        self._ignored: ExceptionTypes = (RejectedError, *self.ignore_on)
        # A count window never holds more than window_size calls: cap the minimum to it.
        self._closed_min = (
            min(self.minimum_calls, self.window_size) if self._count_closed else self.minimum_calls
        )
        # Judged against the half-open window in use (a new half_open_calls waits for the next).
        self._half_min = min(self.minimum_calls, self._half_window.size)

    @property
    def half_open_minimum(self) -> int:
        """How many half-open probes must finish before half-open closes or re-opens."""
        return min(self.minimum_calls, self.half_open_calls)

    # ------------------------------------------------------------------ readouts and control

    @property
    def state(self) -> BreakerState:
        """The current state (open moves to half_open lazily, on the next call)."""
        return self._state

    def _half_open_expired(self, now: float) -> bool:
        """Whether half-open has lasted `max_wait_in_half_open` (never when it is 0)."""
        wait = self.max_wait_in_half_open
        return wait > 0 and now - self._half_open_since >= wait

    def _rate(self, slow: bool) -> float | None:
        window = self._readout
        calls, failures, slow_calls = window.counts(self._clock())
        minimum = self._half_min if window is self._half_window else self._closed_min
        if calls == 0 or calls < minimum:
            return None
        return (slow_calls if slow else failures) / calls

    @property
    def failure_rate(self) -> float | None:
        """Failed share of the current window, or None below `minimum_calls`."""
        return self._rate(False)

    @property
    def slow_call_rate(self) -> float | None:
        """Slow share of the current window, or None below `minimum_calls`."""
        return self._rate(True)

    def window_counts(self) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the current state's window."""
        return self._readout.counts(self._clock())

    def describe(self) -> str:
        """Every setting as one line of text, with the storage when the state is shared."""
        return f"CircuitBreaker({self.name!r}, {describe_settings(self)})"

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._state.value}>"

    # ------------------------------------------------------------------ standalone wiring

    def standalone_name(self, fn: Callable[..., Any] | None = None) -> str:
        """Events of a standalone breaker carry its name, whatever it decorates."""
        return self.name

    def standalone_info(self, name: str) -> PolicyInfo:
        """A standalone breaker's `PolicyInfo`, with a live state readout."""
        return PolicyInfo(
            name=name,
            mechanisms=(self.mechanism,),
            breaker_state=lambda: self.effective_state.value,
        )

    def _standalone_emitter(self, name: str) -> Emitter:
        return self._own_emitter  # one emitter per breaker, however many functions it decorates

    # ------------------------------------------------------------------ the state machine

    def _transition(self, to: BreakerState, now: float) -> None:
        """The one place where the state changes (manual or automatic)."""
        old = self._state
        self._gen += 1
        if to is OPEN:
            self._consecutive_opens += 1
            opens = self.open_duration
            duration = opens(self._consecutive_opens) if callable(opens) else opens
            self._open_until = now + max(0.0, float(duration))
            self._readout = self._half_window if old is HALF_OPEN else self._window
        elif to is HALF_OPEN:
            if self._half_window.size == self.half_open_calls:
                self._half_window.reset()
            else:  # `reconfigure` changed half_open_calls: a window of the new size from now on
                self._half_window = CountWindow(self.half_open_calls)
                self._half_min = self.half_open_minimum
            self._half_permits = self.half_open_calls
            self._half_open_since = now
            self._readout = self._half_window
        else:
            # closed, disabled, forced_open, metrics_only: a fresh window, as resilience4j does.
            if to is CLOSED:
                self._consecutive_opens = 0
            self._window.reset()
            self._readout = self._window
        self._state = to
        if self.automatic_half_open and to in (OPEN, HALF_OPEN):
            self._schedule(now)
        if self._shared is not None:
            self._shared.state_changed(old.value, to.value)
        if old is not to:
            for emitter in self._emitters or (self._own_emitter,):
                if emitter.handlers:
                    emitter.emit(StateChanged(emitter.info.name, old.value, to.value))

    def _try_half_open_permit(self) -> bool:
        """Take one of the half-open probes, if any is left."""
        if self._half_permits > 0:
            self._half_permits -= 1
            return True
        return False

    def _reject(self, ctx: CallContext, retry_after: float | None) -> CircuitOpenError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(Rejected(ctx.policy, self.mechanism, retry_after))
        state = self._state.value
        return CircuitOpenError(
            f"circuit breaker {self.name!r} is {state}",
            policy=ctx.policy,
            state=state,
            retry_after=retry_after,
        )

    def _acquire(self, now: float, ctx: CallContext) -> int:
        """Permission for one call in a state other than closed: its generation, or raise."""
        state = self._state
        if state is OPEN:
            if now < self._open_until:
                raise self._reject(ctx, self._open_until - now)
            self._transition(HALF_OPEN, now)
            state = HALF_OPEN
        if state is HALF_OPEN:
            if self._half_open_expired(now):
                self._transition(OPEN, now)
                raise self._reject(ctx, self._open_until - now)
            if self._try_half_open_permit():
                return self._gen
            raise self._reject(ctx, None)
        if state is FORCED_OPEN:
            raise self._reject(ctx, None)
        if state is DISABLED:
            return _NO_RECORD
        return self._gen  # closed, metrics_only

    def _release(self, gen: int) -> None:
        """Give a half-open permit back (cancelled or ignored call)."""
        if self._shared is not None and self._shared.release(gen):
            return  # a fleet permit: it goes back to the fleet
        if gen == self._gen and self._state is HALF_OPEN:
            self._half_permits += 1

    def _record(self, gen: int, failed: bool, duration: float, now: float) -> None:
        if gen != self._gen:
            return  # started in another state (or disabled): not this window's business
        slow = duration > self.slow_call_duration
        state = self._state
        if state is HALF_OPEN:
            if self._half_open_expired(now):
                # The probes did not finish within max_wait_in_half_open: a late probe's outcome
                # does not decide anything, the breaker re-opens (resilience4j's semantics).
                self._transition(OPEN, now)
                return
            window: CountWindow | TimeWindow = self._half_window
            minimum = self._half_min
        else:
            window = self._window
            minimum = self._closed_min
        window.record(failed, slow, now)
        if state is HALF_OPEN and self._shared is not None:
            self._shared.record(gen, failed, slow)
        if state is METRICS_ONLY:
            return
        plain = not (failed or slow)
        if plain and self._count_closed and state is CLOSED and window.calls > minimum:
            # Hot path: the window held >= minimum_calls before this success and did not trip, and
            # a plain success cannot raise a count window's rates.
            return
        calls, failures, slow_calls = window.counts(now)
        if calls < minimum:
            return
        tripped = (
            failures / calls >= self.failure_rate_threshold
            or slow_calls / calls >= self.slow_call_rate_threshold
        )
        if tripped:
            self._transition(OPEN, now)
        elif state is HALF_OPEN:
            self._transition(CLOSED, now)

    def _on_exception(self, gen: int, exc: Exception, start: float) -> None:
        if isinstance(exc, self._ignored):
            self._release(gen)  # IGNORED: not the dependency's fault, or configured away
            return
        now = self._clock()
        # An exception outside record_on counts as a success (resilience4j semantics).
        failed = isinstance(exc, self.record_on)
        self._record(gen, failed, now - start, now)
        if failed and self.max_retry_after > 0:
            self._open_for(gen, exc, now)

    def _on_result(self, gen: int, result: Any, start: float) -> None:
        try:
            failed = self.failure_if_result is not None and bool(self.failure_if_result(result))
        except BaseException:
            # A raising predicate fails this call: recorded, so a half-open probe's permit is
            # never leaked; its error reaches the caller.
            failed = True
            raise
        finally:
            now = self._clock()
            self._record(gen, failed, now - start, now)

    # ------------------------------------------------------------------ running calls

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run one call (attempt) through the breaker."""
        if self._loop_clock:
            clock = _get_running_loop().time
        else:
            clock = self._clock
            if self._start_pending:
                self._start_shared()
        start = clock()
        if self._state is CLOSED:
            gen = self._gen
        elif self._shared is None:
            gen = self._acquire(start, ctx)
        else:
            gen = await self._shared.acquire(ctx)  # fleet-wide half-open permits
        try:
            result = await nxt(call, ctx)
        except Exception as exc:
            self._on_exception(gen, exc, start)
            raise
        except BaseException:
            self._release(gen)  # cancelled: neither success nor failure
            raise
        if self.failure_if_result is None:
            now = clock()
            self._record(gen, False, now - start, now)
        else:
            self._on_result(gen, result, start)
        return result

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run one sync call through the breaker (thread-safe)."""
        lock = self._lock
        with lock:
            start = self._clock()
            gen = self._gen if self._state is CLOSED else self._acquire(start, ctx)
        try:
            result = nxt(call, ctx)
        except Exception as exc:
            with lock:
                self._on_exception(gen, exc, start)
            raise
        except BaseException:
            with lock:
                self._release(gen)
            raise
        with lock:
            self._on_result(gen, result, start)
        return result
