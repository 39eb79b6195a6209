"""Retry: attempts, waits, retry_after, budget, deadline, nesting, testing mode (virtual time)."""

from __future__ import annotations

import asyncio
import random

import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st

from resilience import (
    CircuitOpenError,
    ConfigError,
    FullJitterBackoff,
    Hedge,
    Policy,
    Rejected,
    Retry,
    RetryBudget,
    RetryScheduled,
)
from resilience.testing import is_testing, set_testing


class Boom(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def now() -> float:
    return asyncio.get_running_loop().time()


class Flaky:
    """Fails `failures` times with `exc`, then returns 'ok'; records when each attempt started."""

    def __init__(self, failures: int, exc: Exception | None = None) -> None:
        self.failures = failures
        self.exc = exc or Boom()
        self.starts: list[float] = []

    async def __call__(self) -> str:
        self.starts.append(now())
        if len(self.starts) <= self.failures:
            raise self.exc
        return "ok"


async def test_max_attempts_counts_the_first_call() -> None:
    flaky = Flaky(10)
    with pytest.raises(Boom):
        await Retry(max_attempts=3, wait=0)(flaky)()
    assert len(flaky.starts) == 3


async def test_succeeds_after_failures_and_returns_value() -> None:
    flaky = Flaky(2)
    assert await Retry(max_attempts=3, wait=1.5)(flaky)() == "ok"
    assert flaky.starts == [0.0, 1.5, 3.0]


async def test_tenacity_wait_strategy_drives_our_loop() -> None:
    flaky = Flaky(3)
    retry = Retry(max_attempts=4, wait=tenacity.wait_exponential(multiplier=1, max=10))
    assert await retry(flaky)() == "ok"
    gaps = [b - a for a, b in zip(flaky.starts, flaky.starts[1:], strict=False)]
    assert gaps == [1.0, 2.0, 4.0]


async def test_default_wait_is_full_jitter_with_cap() -> None:
    flaky = Flaky(4)
    assert await Retry(max_attempts=5)(flaky)() == "ok"
    gaps = [b - a for a, b in zip(flaky.starts, flaky.starts[1:], strict=False)]
    caps = [0.1, 0.2, 0.4, 0.8]
    assert all(0 <= g <= c for g, c in zip(gaps, caps, strict=True))


@given(
    attempt=st.integers(1, 200),
    initial=st.floats(0.001, 5),
    cap=st.floats(5, 100),
    seed=st.integers(0, 2**32),
)
def test_full_jitter_bounds(attempt: int, initial: float, cap: float, seed: int) -> None:
    wait = FullJitterBackoff(initial=initial, max=cap, rng=random.Random(seed))
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = attempt
    value = wait(state)
    assert 0 <= value <= min(cap, initial * 2 ** (attempt - 1))


async def test_only_retry_on_exceptions_are_retried() -> None:
    flaky = Flaky(5, ValueError("bad input"))
    with pytest.raises(ValueError):
        await Retry(retry_on=(ConnectionError,), wait=0)(flaky)()
    assert len(flaky.starts) == 1
    flaky = Flaky(1, ConnectionError())
    assert await Retry(retry_on=lambda e: isinstance(e, OSError), wait=0)(flaky)() == "ok"


async def test_our_rejections_are_not_retried_unless_asked() -> None:
    flaky = Flaky(1, CircuitOpenError("open"))
    with pytest.raises(CircuitOpenError):
        await Retry(wait=0)(flaky)()
    assert len(flaky.starts) == 1
    flaky = Flaky(1, CircuitOpenError("open"))
    assert await Retry(wait=0, retry_on=(CircuitOpenError, Boom))(flaky)() == "ok"


async def test_retry_if_result_returns_last_result_when_exhausted() -> None:
    results = iter([503, 503, 200])

    @Retry(max_attempts=3, wait=0, retry_if_result=lambda r: r >= 500)
    async def status() -> int:
        return next(results)

    assert await status() == 200
    results = iter([503, 502, 501])
    assert await status() == 501


async def test_retry_after_is_honoured_and_capped() -> None:
    flaky = Flaky(1, Throttled(7.0))
    assert await Retry(wait=0.01, max_retry_after=60)(flaky)() == "ok"
    assert flaky.starts[1] - flaky.starts[0] == 7.0
    flaky = Flaky(1, Throttled(500.0))
    assert await Retry(wait=0.01, max_retry_after=20)(flaky)() == "ok"
    assert flaky.starts[1] - flaky.starts[0] == 20.0


async def test_result_retry_after_is_honoured() -> None:
    class Response:
        def __init__(self, status: int, retry_after: float | None) -> None:
            self.status, self.retry_after = status, retry_after

    replies = iter([Response(429, 3.0), Response(200, None)])

    @Retry(wait=0, retry_if_result=lambda r: r.status == 429)
    async def fetch() -> Response:
        return next(replies)

    start = now()
    assert (await fetch()).status == 200
    assert now() - start == 3.0


async def test_never_sleeps_past_the_deadline() -> None:
    flaky = Flaky(10)
    policy = Policy("p", retry=Retry(max_attempts=10, wait=2.0), deadline=5.0)
    with pytest.raises(Boom):
        await policy(flaky)()
    assert flaky.starts == [0.0, 2.0, 4.0]  # a third sleep would end at 6 > 5: give up at 4
    assert now() == 4.0


async def test_budget_caps_retries_to_a_share_of_calls() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=0.1, ttl=10)  # floor: 1 retry per 10 s
    events: list[object] = []
    retry = Retry(max_attempts=2, wait=0, budget=budget)
    policy = Policy("budgeted", retry=retry, hooks=[events.append])
    calls = 0

    @policy
    async def dead() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    for _ in range(20):
        with pytest.raises(Boom):
            await dead()
    # 20 calls → at most 0.2 × 20 + 1 = 5 retries
    assert calls == 25
    assert sum(isinstance(e, Rejected) and e.mechanism == "retry_budget" for e in events) == 15


def test_budget_forgets_after_ttl() -> None:
    clock = [0.0]
    budget = RetryBudget(ratio=0.5, min_per_second=0, ttl=10, clock=lambda: clock[0])
    for _ in range(4):
        budget.record_call()
    assert [budget.try_retry() for _ in range(3)] == [True, True, False]
    clock[0] = 10.5
    assert budget.try_retry() is False  # calls expired too
    budget.record_call()
    budget.record_call()
    assert budget.try_retry() is True


async def test_nested_retry_does_not_multiply_attempts() -> None:
    calls = 0

    @Retry(max_attempts=3, wait=0)
    async def inner() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    @Retry(max_attempts=3, wait=0)
    async def outer() -> None:
        await inner()

    with pytest.raises(Boom):
        await outer()
    assert calls == 3
    calls = 0
    with pytest.raises(Boom):
        await inner()  # alone, it retries
    assert calls == 3


async def test_nested_retry_under_hedging_makes_the_outer_attempts_only() -> None:
    # Policy(retry=3, hedge=...) over a function decorated with Policy(retry=3): the hedge runs
    # its attempts as tasks, which carry the outer retry's mark in their context.
    calls = 0

    @Policy("inner", retry=Retry(max_attempts=3, wait=0))
    async def inner() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    outer = Policy("outer", retry=Retry(max_attempts=3, wait=0), hedge=Hedge(delay=10))
    with pytest.raises(Boom):
        await outer(inner)()
    assert calls == 3


async def test_nested_retry_in_gather_and_task_group_children_does_not_multiply() -> None:
    calls = 0

    @Retry(max_attempts=3, wait=0)
    async def inner() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    @Retry(max_attempts=2, wait=0)
    async def fan_out() -> None:
        await asyncio.gather(inner(), inner())

    with pytest.raises(Boom):
        await fan_out()
    assert calls == 4  # 2 outer attempts x 2 children x 1 attempt each
    calls = 0

    @Retry(max_attempts=2, wait=0)
    async def grouped() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(inner())

    with pytest.raises(ExceptionGroup):
        await grouped()
    assert calls == 2


async def test_a_background_task_outliving_the_retried_call_retries_on_its_own() -> None:
    calls = 0
    release = asyncio.Event()

    @Retry(max_attempts=3, wait=0)
    async def background() -> None:
        nonlocal calls
        await release.wait()
        calls += 1
        raise Boom

    spawned: list[asyncio.Task[None]] = []

    @Retry(max_attempts=3, wait=0)
    async def spawn() -> None:
        spawned.append(asyncio.create_task(background()))

    await spawn()
    release.set()  # the outer retry has ended: its mark is inactive in the child's context
    with pytest.raises(Boom):
        await spawned[0]
    assert calls == 3


async def test_retry_when_nested_multiplies_when_asked() -> None:
    calls = 0

    @Retry(max_attempts=3, wait=0, retry_when_nested=True)
    async def inner() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    @Retry(max_attempts=2, wait=0)
    async def outer() -> None:
        await inner()

    with pytest.raises(Boom):
        await outer()
    assert calls == 6
    with pytest.raises(ConfigError):
        Retry(retry_when_nested="yes")  # type: ignore[arg-type]


async def test_sync_retry_nested_in_a_thread_started_from_a_retried_call() -> None:
    calls = 0

    @Retry(max_attempts=3, wait=0)
    def inner() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    @Retry(max_attempts=2, wait=0)
    async def outer() -> None:
        await asyncio.to_thread(inner)  # to_thread copies the context into the worker

    with pytest.raises(Boom):
        await outer()
    assert calls == 2


async def test_retry_scheduled_events() -> None:
    events: list[object] = []
    policy = Policy("ev", retry=Retry(max_attempts=3, wait=0.5), hooks=[events.append])
    with pytest.raises(Boom):
        await policy(Flaky(5))()
    scheduled = [e for e in events if isinstance(e, RetryScheduled)]
    assert [(e.attempt, e.wait) for e in scheduled] == [(1, 0.5), (2, 0.5)]
    assert all(isinstance(e.exception, Boom) for e in scheduled)


async def test_testing_mode_caps_attempts_and_skips_sleeps() -> None:
    flaky = Flaky(10)
    with set_testing(True):
        assert is_testing()
        with pytest.raises(Boom):
            await Retry(max_attempts=5, wait=30)(flaky)()
    assert not is_testing()
    assert len(flaky.starts) == 1
    flaky = Flaky(10)
    with set_testing(True, attempts=3), pytest.raises(Boom):
        await Retry(max_attempts=5, wait=30)(flaky)()
    assert flaky.starts == [0.0, 0.0, 0.0]
    flaky = Flaky(10)
    with set_testing(True, attempts=3, cap=True), pytest.raises(Boom):
        await Retry(max_attempts=2, wait=30)(flaky)()
    assert len(flaky.starts) == 2
    set_testing(True, attempts=2)
    try:
        flaky = Flaky(10)
        with pytest.raises(Boom):
            await Retry(max_attempts=5)(flaky)()
        assert len(flaky.starts) == 2
    finally:
        set_testing(False)


def test_sync_function_retry() -> None:
    attempts = []

    @Retry(max_attempts=3, wait=0)
    def work() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Boom
        return "done"

    assert work() == "done"
    assert len(attempts) == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"wait": -1}, "wait"),
        ({"wait": "fast"}, "wait"),
        ({"retry_on": "Boom"}, "retry_on"),
        ({"max_retry_after": -1}, "max_retry_after"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Retry(**kwargs)  # type: ignore[arg-type]


async def test_a_task_spawned_inside_a_retried_call_keeps_its_own_retries() -> None:
    background_calls = 0

    @Retry(max_attempts=3, wait=0)
    async def background() -> None:
        nonlocal background_calls
        background_calls += 1
        raise Boom

    spawned: list[asyncio.Task[None]] = []

    @Retry(max_attempts=2, wait=0)
    async def outer() -> str:
        spawned.append(asyncio.ensure_future(background()))
        return "ok"

    assert await outer() == "ok"
    with pytest.raises(Boom):
        await spawned[0]
    assert background_calls == 3


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["call", "retry"]), st.floats(0, 3)), min_size=1, max_size=200
    ),
    ratio=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
    floor=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_budget_never_grants_more_than_its_share(
    steps: list[tuple[str, float]], ratio: float, floor: float
) -> None:
    clock = [0.0]
    budget = RetryBudget(ratio=ratio, min_per_second=floor, ttl=10, clock=lambda: clock[0])
    history: list[tuple[float, str]] = []
    for kind, gap in steps:
        clock[0] += gap
        if kind == "call":
            budget.record_call()
            history.append((clock[0], "call"))
        elif budget.try_retry():
            history.append((clock[0], "retry"))
            # when granted, the retries of the last 10 whole seconds are within the budget
            recent = [k for t, k in history if int(t) > int(clock[0]) - 10]
            assert recent.count("retry") <= ratio * recent.count("call") + floor * 10 + 1e-9
        else:
            recent = [k for t, k in history if int(t) > int(clock[0]) - 10]
            assert recent.count("retry") + 1 > ratio * recent.count("call") + floor * 10 - 1e-9
