"""Details found by mutation testing (`make mutation`): exact describe() lines, the sync paths
of the fallback, bulkhead and rate limiter, and the in-place resizing used by reloads."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from resilience import (
    BulkheadFullError,
    CircuitBreaker,
    DeadlineExceededError,
    Fallback,
    Policy,
    RateLimitedError,
    Retry,
    RetryBudget,
    TimedOut,
)
from resilience._window import CountWindow, TimeWindow  # noqa: TID251 (white-box: the windows)
from resilience.bulkhead import Bulkhead
from resilience.ratelimiter import RateLimiter


class Boom(Exception):
    pass


def is_bad(result: object) -> bool:
    return result == "bad"


class FakeStorage:
    def describe(self) -> str:
        return "FakeStorage(redis://cache)"

    def __repr__(self) -> str:
        return "<fake>"


# ------------------------------------------------------------------------------- describe()


def test_breaker_describe_names_every_setting() -> None:
    breaker = CircuitBreaker(
        "llm",
        failure_rate_threshold=0.25,
        slow_call_rate_threshold=0.75,
        slow_call_duration=2.5,
        minimum_calls=7,
        window_type="time",
        window_size=30,
        half_open_calls=3,
        max_wait_in_half_open=4,
        open_duration=15,
        record_on=(ConnectionError, TimeoutError),
        ignore_on=(KeyError,),
        failure_if_result=is_bad,
        automatic_half_open=True,
        max_retry_after=90,
    )
    assert breaker.describe() == (
        "CircuitBreaker('llm', failure_rate_threshold=0.25, slow_call_rate_threshold=0.75, "
        "slow_call_duration=2.5, minimum_calls=7, window_type='time', window_size=30, "
        "half_open_calls=3, max_wait_in_half_open=4, open_duration=15, "
        "record_on=(ConnectionError, TimeoutError), ignore_on=(KeyError), failure_if_result=set, "
        "automatic_half_open=True, max_retry_after=90)"
    )

    def growing(n: int) -> float:
        return 5.0 * n

    plain = CircuitBreaker("db", open_duration=growing)
    assert plain.describe() == (
        "CircuitBreaker('db', failure_rate_threshold=0.5, slow_call_rate_threshold=1, "
        "slow_call_duration=60, minimum_calls=100, window_type='count', window_size=100, "
        "half_open_calls=10, max_wait_in_half_open=0, open_duration=growing, "
        "record_on=(Exception), ignore_on=(), failure_if_result=None)"
    )
    assert repr(plain) == "<CircuitBreaker 'db' closed>"


def test_breaker_describe_names_its_storage() -> None:
    breaker = CircuitBreaker("x")
    assert "storage=" not in breaker.describe()
    breaker.storage = FakeStorage()
    assert breaker.describe().endswith(", storage=FakeStorage(redis://cache))")
    breaker.storage = object()
    assert breaker.describe().endswith(f", storage={breaker.storage!r})")


def test_retry_fallback_hedge_and_limiter_describe_every_setting() -> None:
    retry = Retry(max_attempts=4, wait=0.5, retry_if_result=is_bad, max_retry_after=30)
    assert retry.describe() == (
        "Retry(max_attempts=4, wait=wait_fixed(wait_fixed=0.5), retry_on=(Exception), "
        "retry_if_result=set, max_retry_after=30, budget=None)"
    )
    budgeted = Retry(budget=RetryBudget(0.1, 2, ttl=5), retry_when_nested=True)
    assert budgeted.describe().endswith(
        "budget=RetryBudget(ratio=0.1, min_per_second=2, ttl=5), retry_when_nested=True)"
    )

    def serve_cached(exc: Exception) -> str:
        return "cached"

    assert Fallback(serve_cached, on=(Boom,), if_result=is_bad).describe() == (
        "Fallback(handler=test_retry_fallback_hedge_and_limiter_describe_every_setting."
        "<locals>.serve_cached, on=(Boom), if_result=set)"
    )
    assert Fallback(serve_cached).describe().endswith("on=(Exception), if_result=None)")
    limiter = RateLimiter(rate_per_second=2.5, burst=4, max_wait=0.25)
    assert limiter.describe() == "RateLimiter(rate_per_second=2.5, burst=4, max_wait=0.25s)"
    assert repr(limiter) == limiter.describe()


# ------------------------------------------------------------------------------- sync paths


def test_sync_fallback_serves_matching_failures_and_bad_results_only() -> None:
    served: list[tuple[object, int]] = []

    def handler(failure: object, x: int) -> str:
        served.append((type(failure).__name__ if isinstance(failure, Exception) else failure, x))
        return "fallback"

    fallback = Fallback(handler, on=(Boom,), if_result=is_bad)

    @fallback
    def call(x: int) -> str:
        if x == 1:
            raise Boom
        if x == 2:
            raise KeyError(x)
        return "bad" if x == 3 else "good"

    assert call(1) == "fallback"
    with pytest.raises(KeyError):
        call(2)  # not in `on`: raised as is
    assert call(3) == "fallback"
    assert call(4) == "good"
    assert served == [("Boom", 1), ("bad", 3)]


def test_sync_bulkhead_threads_wait_for_a_slot_within_max_wait() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=1.0)
    release = threading.Event()
    inside = threading.Event()
    results: list[str] = []

    @bulkhead
    def work(name: str) -> None:
        inside.set()
        if name == "first":
            release.wait(5)
        results.append(name)

    first = threading.Thread(target=work, args=("first",))
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=work, args=("second",))
    second.start()
    time.sleep(0.02)
    assert bulkhead.in_flight == 1 and results == []
    release.set()
    first.join()
    second.join()
    assert results == ["first", "second"] and bulkhead.in_flight == 0


def test_sync_bulkhead_refuses_after_max_wait_or_at_once_without_it() -> None:
    release = threading.Event()
    for max_wait, waited in ((0.03, 0.025), (0.0, 0.0)):
        bulkhead = Bulkhead(max_concurrent=1, max_wait=max_wait)
        inside = threading.Event()

        @bulkhead
        def hold(inside: threading.Event = inside) -> None:
            inside.set()
            release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        assert inside.wait(5)
        start = time.monotonic()
        with pytest.raises(BulkheadFullError):
            hold()
        assert time.monotonic() - start >= waited
        release.set()
        holder.join()
        release.clear()
        assert bulkhead.in_flight == 0


def test_a_sync_bulkhead_without_max_wait_may_be_called_from_async_code() -> None:
    @Bulkhead(max_concurrent=1)
    def quick() -> str:
        return "ok"

    @Bulkhead(max_concurrent=1, max_wait=1)
    def patient() -> str:
        return "ok"

    async def main() -> str:
        assert quick() == "ok"  # it never waits: nothing to refuse
        return patient()

    with pytest.raises(RuntimeError, match="Bulkhead"):
        asyncio.run(main())


def test_sync_rate_limiter_sleeps_the_thread_for_a_reserved_token() -> None:
    limiter = RateLimiter(rate_per_second=50, burst=1, max_wait=0.1)
    times: list[float] = []

    @limiter
    def call() -> None:
        times.append(time.monotonic())

    for _ in range(3):
        call()
    assert times[2] - times[0] >= 0.035  # tokens 20 ms apart
    limiter_strict = RateLimiter(rate_per_second=1, burst=1, max_wait=0.1)

    @limiter_strict
    def once() -> None:
        return None

    once()
    with pytest.raises(RateLimitedError) as info:
        once()
    assert info.value.retry_after == pytest.approx(1.0, abs=0.05)
    assert limiter_strict.available == pytest.approx(0.0, abs=0.1)  # the refusal took nothing


def test_sync_rate_limiter_refuses_a_token_past_the_deadline() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=1, max_wait=5)
    policy = Policy("api", rate_limiter=limiter, deadline=0.1)

    @policy
    def call() -> str:
        return "ok"

    assert call() == "ok"
    start = time.monotonic()
    with pytest.raises(RateLimitedError):
        call()  # the token comes in 0.5 s, after the 0.1 s deadline: refused at once
    assert time.monotonic() - start < 0.05
    assert limiter.available == pytest.approx(0.0, abs=0.2)  # the reservation was given back


def test_a_shared_rate_limiter_refuses_sync_functions() -> None:
    class Shared:
        async def reserve(self, key: str, **_: Any) -> tuple[bool, float]:
            return True, 0.0

    @RateLimiter(rate_per_second=1, storage=Shared())
    def call() -> None:
        return None

    with pytest.raises(TypeError, match="async storage"):
        call()


def test_sync_hedge_makes_one_observed_attempt() -> None:
    from resilience import Hedge

    hedge = Hedge(delay=0, min_samples=1)
    calls = 0

    @hedge
    def call(fail: bool) -> str:
        nonlocal calls
        calls += 1
        if fail:
            raise Boom
        return "ok"

    assert call(False) == "ok"
    with pytest.raises(Boom):
        call(True)
    assert calls == 2 and len(hedge._samples) == 2


async def test_deadline_expiry_emits_the_total_timeout() -> None:
    events: list[object] = []
    policy = Policy("total", deadline=1.5, hooks=[events.append])

    @policy
    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(DeadlineExceededError, match=r"total deadline of 1\.5 s exceeded") as info:
        await slow()
    assert info.value.deadline == 1.5 and info.value.policy == "total"
    assert TimedOut("total", "deadline", 1.5) in events


# ------------------------------------------------------------------------------- resizing


def test_count_window_resized_keeps_order_and_codes() -> None:
    window = CountWindow(4)
    for failed, slow in [(True, False), (False, True), (True, True), (False, False), (True, False)]:
        window.record(failed, slow, 0.0)  # the first one was evicted
    bigger = window.resized(6)
    assert (bigger.calls, bigger.failures, bigger.slow) == (4, 2, 2)
    smaller = window.resized(2)
    assert (smaller.calls, smaller.failures, smaller.slow) == (2, 1, 0)
    bigger.record(False, False, 0.0)
    bigger.record(False, False, 0.0)
    bigger.record(False, False, 0.0)  # evicts the oldest kept: (False, True)
    assert (bigger.calls, bigger.failures, bigger.slow) == (6, 2, 1)
    partial = CountWindow(5)
    partial.record(True, False, 0.0)
    assert (partial.resized(1).calls, partial.resized(1).failures) == (1, 1)


def test_time_window_resized_and_reset() -> None:
    window = TimeWindow(10)
    for second in range(10):
        window.record(second % 2 == 0, second == 9, float(second))
    last3 = window.resized(3)
    assert last3.counts(9.0) == (3, 1, 1)  # seconds 7, 8, 9
    assert last3.counts(10.0) == (2, 1, 1)  # second 7 expired
    assert TimeWindow(5).resized(2).counts(0.0) == (0, 0, 0)
    window.reset()
    assert window.counts(100.0) == (0, 0, 0)
    window.record(True, True, 101.0)
    assert window.counts(101.0) == (1, 1, 1)


async def test_resizing_the_window_of_an_open_breaker_keeps_it_open_and_judging() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=2, window_size=4, open_duration=5)

    @breaker
    async def call(fail: bool) -> None:
        if fail:
            raise Boom

    for _ in range(2):
        with pytest.raises(Boom):
            await call(True)
    assert breaker.state == "open"
    breaker.reconfigure(window_size=8)
    assert breaker.state == "open" and breaker.window_size == 8
    await asyncio.sleep(5)
    await call(False)  # half-open probes are judged in the half-open window
    assert breaker.state == "half_open"
    breaker.reconfigure(window_size=8, window_type="count")  # unchanged: nothing happens
    assert breaker.window_type == "count" and breaker.state == "half_open"


async def test_resize_keeps_waiters_in_order_and_refuses_bad_limits() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=30)
    order: list[int] = []
    gate = asyncio.Event()

    @bulkhead
    async def work(i: int) -> None:
        order.append(i)
        await gate.wait()

    tasks = [asyncio.ensure_future(work(i)) for i in range(4)]
    await asyncio.sleep(0)
    bulkhead.resize(max_concurrent=3)
    await asyncio.sleep(0)
    assert order == [0, 1, 2] and bulkhead.waiting == 1 and bulkhead.in_flight == 3
    bulkhead.resize(max_wait=0.5)  # the last waiter now leaves 0.5 s from now
    await asyncio.sleep(0.6)
    assert bulkhead.waiting == 0
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], BulkheadFullError) and results[:3] == [None] * 3
    for bad in ({"max_concurrent": 0}, {"max_concurrent": True}, {"max_wait": -1}):
        with pytest.raises(Exception, match="Bulkhead"):
            bulkhead.resize(**bad)
    assert (bulkhead.capacity, bulkhead.max_wait) == (3, 0.5)


async def test_open_for_ignores_hints_that_are_not_seconds() -> None:
    breaker = CircuitBreaker("api", minimum_calls=100, max_retry_after=60)

    class Hinted(Exception):
        def __init__(self, hint: object) -> None:
            self.retry_after = hint

    @breaker
    async def call(hint: object) -> None:
        raise Hinted(hint)

    for hint in (None, 0, -5, True, "30"):
        with pytest.raises(Hinted):
            await call(hint)
        assert breaker.state == "closed", hint
    breaker.force_open()
    breaker.disable()
    with pytest.raises(Hinted):
        await call(30)
    assert breaker.state == "disabled"  # a manual state is not the hint's business


async def test_rates_with_a_minimum_of_one_call() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=1, window_size=5)
    breaker.metrics_only()

    @breaker
    async def fail() -> None:
        raise Boom

    assert breaker.failure_rate is None and breaker.slow_call_rate is None  # no call yet
    with pytest.raises(Boom):
        await fail()
    assert breaker.failure_rate == 1.0 and breaker.slow_call_rate == 0.0
    assert breaker.state == "metrics_only"  # records, never trips


async def test_automatic_half_open_after_a_sub_second_open_duration() -> None:
    breaker = CircuitBreaker(
        "fast", minimum_calls=1, window_size=1, open_duration=0.25, automatic_half_open=True
    )

    @breaker
    async def fail() -> None:
        raise Boom

    with pytest.raises(Boom):
        await fail()
    await asyncio.sleep(0.2)
    assert breaker.state == "open"
    await asyncio.sleep(0.1)
    assert breaker.state == "half_open"


async def test_a_longer_hint_extends_an_open_breaker_and_its_timer() -> None:
    breaker = CircuitBreaker(
        "api",
        minimum_calls=1,
        window_size=1,
        open_duration=5,
        max_retry_after=60,
        automatic_half_open=True,
    )

    class Hinted(Exception):
        retry_after = 20.0

    @breaker
    async def call() -> None:
        raise Hinted

    with pytest.raises(Hinted):
        await call()  # trips the threshold (open 5 s) and carries a 20 s hint: open 20 s
    await asyncio.sleep(6)
    assert breaker.state == "open"  # the 5 s timer found the breaker extended
    await asyncio.sleep(14.5)
    assert breaker.state == "half_open"


def test_sync_retry_behaves_as_the_async_one() -> None:
    events: list[object] = []
    states: list[tuple[int, bool]] = []

    def wait(state: Any) -> float:
        states.append((state.attempt_number, state.outcome.failed))
        return 0.01

    retry = Retry(max_attempts=4, wait=wait, retry_on=(Boom,), retry_if_result=is_bad)
    policy = Policy("sync-retry", retry=retry, hooks=[events.append])
    outcomes = iter([Boom(), "bad", "good"])

    @policy
    def call() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    start = time.monotonic()
    assert call() == "good"
    assert time.monotonic() - start >= 0.02  # two 10 ms sleeps on the calling thread
    assert states == [(1, True), (2, False)]
    from resilience import RetryScheduled

    scheduled = [(e.attempt, e.wait) for e in events if isinstance(e, RetryScheduled)]
    assert scheduled == [(1, 0.01), (2, 0.01)]

    @policy
    def wrong() -> str:
        raise KeyError("not retried")

    with pytest.raises(KeyError):
        wrong()
    assert len([e for e in events if isinstance(e, RetryScheduled)]) == 2

    @Retry(max_attempts=2, wait=0, retry_if_result=is_bad)
    def always_bad() -> str:
        return "bad"

    assert always_bad() == "bad"  # attempts ran out: the last result is returned

    @Retry(max_attempts=1)
    def single() -> str:
        return "once"

    async def from_loop() -> str:
        return single()  # one attempt never sleeps: allowed inside a loop

    assert asyncio.run(from_loop()) == "once"


def test_sync_retry_budget_and_deadline() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, ttl=10)  # one retry in 10 s
    calls = 0

    @Retry(max_attempts=5, wait=0, budget=budget)
    def fails() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    with pytest.raises(Boom):
        fails()
    assert calls == 2 and budget.calls == 1 and budget.retries == 1
    calls = 0

    # Real time (a sync retry sleeps its thread): wide enough for a loaded machine.
    @Policy("dl", deadline=0.3, retry=Retry(max_attempts=50, wait=0.1))
    def slow_fail() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    with pytest.raises((Boom, DeadlineExceededError)):  # the last error, or the deadline's
        slow_fail()
    time.sleep(0.1)
    assert 2 <= calls <= 3  # retries stop before sleeping past the deadline, not 50 attempts
