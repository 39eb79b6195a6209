"""The breaker against a small, obviously-correct reference model (hypothesis state machine).

The model keeps every outcome in a list and recomputes windows by scanning; the breaker keeps O(1)
running totals. Both windows (count and time) are checked, through the sync path with an injected
clock so that each call can take a chosen time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from resilience import CircuitBreaker, CircuitOpenError

SLOW = 2.0


class Boom(Exception):
    pass


class Ignored(Exception):
    pass


class Cancelled(BaseException):
    """Stands in for CancelledError on the sync path: neither success nor failure."""


@dataclass
class Model:
    window_type: str
    size: int
    minimum: int
    half_calls: int
    threshold: float
    slow_threshold: float
    state: str = "closed"
    outcomes: list[tuple[float, bool, bool]] = field(default_factory=list)
    half: list[tuple[bool, bool]] = field(default_factory=list)
    open_until: float = 0.0
    opens: int = 0
    permits: int = 0

    def window(self, now: float) -> list[tuple[float, bool, bool]]:
        if self.window_type == "count":
            return self.outcomes[-self.size :]
        return [o for o in self.outcomes if int(o[0] // 1) > int(now // 1) - self.size]

    def open_duration(self, n: int) -> float:
        return 5.0 * n

    def trip(self, now: float) -> None:
        self.state = "open"
        self.opens += 1
        self.open_until = now + self.open_duration(self.opens)

    def acquire(self, now: float) -> bool:
        if self.state == "open":
            if now < self.open_until:
                return False
            self.state, self.half, self.permits = "half_open", [], self.half_calls
        if self.state == "half_open":
            if self.permits == 0:
                return False
            self.permits -= 1
        return True

    def finish(self, kind: str, now: float, duration: float) -> None:
        if kind in ("ignored", "cancel"):
            if self.state == "half_open":
                self.permits += 1
            return
        failed, slow = kind == "fail", duration > SLOW
        if self.state == "half_open":
            self.half.append((failed, slow))
            if len(self.half) >= min(self.minimum, self.half_calls):
                n = len(self.half)
                if (
                    sum(f for f, _ in self.half) / n >= self.threshold
                    or sum(s for _, s in self.half) / n >= self.slow_threshold
                ):
                    self.trip(now)
                else:
                    self.state, self.outcomes, self.opens = "closed", [], 0
            return
        self.outcomes.append((now, failed, slow))
        window = self.window(now)
        n = len(window)
        minimum = min(self.minimum, self.size) if self.window_type == "count" else self.minimum
        if n >= minimum and (
            sum(f for _, f, _ in window) / n >= self.threshold
            or sum(s for _, _, s in window) / n >= self.slow_threshold
        ):
            self.trip(now)


class BreakerMachine(RuleBasedStateMachine):
    window_type = "count"

    @initialize(
        size=st.integers(1, 6),
        minimum=st.integers(1, 8),
        half_calls=st.integers(1, 4),
        threshold=st.sampled_from([0.25, 0.5, 0.6, 1.0]),
        slow_threshold=st.sampled_from([0.5, 1.0]),
    )
    def setup(
        self, size: int, minimum: int, half_calls: int, threshold: float, slow_threshold: float
    ) -> None:
        self.now = 0.0
        self.model = Model(self.window_type, size, minimum, half_calls, threshold, slow_threshold)
        self.breaker = CircuitBreaker(
            "model",
            window_type=self.window_type,
            window_size=size,
            minimum_calls=minimum,
            half_open_calls=half_calls,
            failure_rate_threshold=threshold,
            slow_call_rate_threshold=slow_threshold,
            slow_call_duration=SLOW,
            open_duration=self.model.open_duration,
            ignore_on=(Ignored,),
            clock=lambda: self.now,
        )

        @self.breaker
        def call(kind: str, duration: float) -> str:
            self.now += duration
            if kind == "fail":
                raise Boom
            if kind == "ignored":
                raise Ignored
            if kind == "cancel":
                raise Cancelled
            return kind

        self.call = call

    @rule(
        kind=st.sampled_from(["ok", "fail", "ignored", "cancel"]),
        duration=st.sampled_from([0.0, 0.5, SLOW, 3.0]),
    )
    def call_once(self, kind: str, duration: float) -> None:
        admitted = self.model.acquire(self.now)
        try:
            self.call(kind, duration)
            outcome = "ok"
        except CircuitOpenError:
            outcome = "rejected"
        except (Boom, Ignored, Cancelled):
            outcome = "raised"
        assert (outcome != "rejected") == admitted
        if admitted:
            self.model.finish(kind, self.now, duration)

    # Dyadic times only, so that measured durations (end - start) are exact and a call of exactly
    # SLOW seconds is compared at the boundary, not at a rounding error next to it.
    @rule(seconds=st.sampled_from([0.25, 1.0, 2.5, 5.0, 12.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def same_state_and_window(self) -> None:
        if not hasattr(self, "model"):
            return
        assert self.breaker.state == self.model.state
        if self.model.state == "closed":
            window = self.model.window(self.now)
            expected = (len(window), sum(f for _, f, _ in window), sum(s for _, _, s in window))
            assert self.breaker.window_counts() == expected


class TimeBreakerMachine(BreakerMachine):
    window_type = "time"


TestCountBreakerModel = BreakerMachine.TestCase
TestCountBreakerModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestTimeBreakerModel = TimeBreakerMachine.TestCase
TestTimeBreakerModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
