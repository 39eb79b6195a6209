"""Retry details found by mutation testing (`make mutation`): the backoff schedule by value, the
budget's defaults, bounds and expiry, what a wait strategy is told, and the sync loop's nesting."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
import tenacity

from resilience import ConfigError, FullJitterBackoff, Policy, Retry, RetryBudget
from resilience.layers import Call, CallContext, Emitter, Step, SyncStep


class Boom(Exception):
    pass


class Highest:
    """An rng whose `uniform(a, b)` is always `b`: the backoff's upper bound, by value."""

    def uniform(self, a: float, b: float) -> float:
        return b


def state_at(attempt: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = attempt
    return state


# ------------------------------------------------------------------------------- backoff


def test_full_jitter_caps_grow_by_the_multiplier_from_initial() -> None:
    wait = FullJitterBackoff(initial=0.5, max=100, multiplier=3, rng=Highest())  # type: ignore[arg-type]
    assert [wait.cap(n) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 13.5]
    assert wait.cap(6) == 100.0  # 0.5 × 3^5 = 121.5, capped
    assert wait.cap(10_000) == 100.0  # overflow: the cap
    assert wait(state_at(3)) == 4.5  # uniform in [0, cap]: the rng's top is the cap itself
    default = FullJitterBackoff(rng=Highest())  # type: ignore[arg-type]
    assert [default(state_at(n)) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert default.cap(20) == 10.0
    assert repr(default) == "FullJitterBackoff(initial=0.1, max=10, multiplier=2)"


def test_full_jitter_accepts_its_boundaries_and_names_what_is_wrong() -> None:
    flat = FullJitterBackoff(initial=2, max=2, multiplier=1, rng=Highest())  # type: ignore[arg-type]
    assert [flat.cap(n) for n in (1, 5)] == [2.0, 2.0]
    message = (
        "FullJitterBackoff: expected initial > 0, max >= initial and multiplier >= 1, got "
        "initial={}, max={}, multiplier={}"
    )
    for initial, cap, multiplier in ((0, 10, 2), (1, 0.5, 2), (1, 10, 0.5), (-1, 10, 0.5)):
        with pytest.raises(ConfigError) as info:
            FullJitterBackoff(initial=initial, max=cap, multiplier=multiplier)
        assert str(info.value) == message.format(initial, cap, multiplier)


# ------------------------------------------------------------------------------- budget


def test_budget_defaults_are_envoys_and_start_empty() -> None:
    budget = RetryBudget(clock=lambda: 0.0)
    assert (budget.ratio, budget.min_per_second, budget.ttl) == (0.2, 3.0, 10)
    assert (budget.calls, budget.retries) == (0, 0)
    assert repr(budget) == "RetryBudget(ratio=0.2, min_per_second=3, ttl=10)"
    granted = sum(budget.try_retry() for _ in range(40))
    assert granted == 30  # no calls yet: the floor, 3 per second over 10 s


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratio": 1.5}, "RetryBudget.ratio: expected a number in [0, 1], got 1.5"),
        ({"ratio": -0.1}, "RetryBudget.ratio: expected a number in [0, 1], got -0.1"),
        ({"ratio": "0.2"}, "RetryBudget.ratio: expected a number in [0, 1], got '0.2'"),
        (
            {"min_per_second": -1},
            "RetryBudget.min_per_second: expected a number >= 0, got -1",
        ),
        (
            {"min_per_second": "3"},
            "RetryBudget.min_per_second: expected a number >= 0, got '3'",
        ),
        ({"ttl": 0}, "RetryBudget.ttl: expected whole seconds >= 1, got 0"),
        ({"ttl": 1.5}, "RetryBudget.ttl: expected whole seconds >= 1, got 1.5"),
    ],
)
def test_budget_refuses_bad_settings_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RetryBudget(**kwargs)
    assert str(info.value) == message


def test_budget_accepts_its_boundaries() -> None:
    clock = [0.0]
    budget = RetryBudget(ratio=1, min_per_second=0, ttl=1, clock=lambda: clock[0])
    budget.record_call()
    budget.record_call()
    assert [budget.try_retry() for _ in range(3)] == [True, True, False]  # ratio 1: one per call
    clock[0] = 1.0
    assert budget.try_retry() is False  # a one-second window: the calls of second 0 are gone
    assert (budget.calls, budget.retries) == (0, 0)


def test_budget_expires_each_second_by_its_own_counts() -> None:
    clock = [0.2]
    budget = RetryBudget(ratio=0.5, min_per_second=0, ttl=10, clock=lambda: clock[0])
    for _ in range(3):
        budget.record_call()
    assert budget.try_retry() is True
    clock[0] = 5.5
    budget.record_call()
    assert budget.try_retry() is True
    assert (budget.calls, budget.retries) == (4, 2)
    clock[0] = 10.0  # second 0 leaves the window: its 3 calls and 1 retry, second 5 stays
    assert budget.try_retry() is False  # 1 retry + 1 > 0.5 × 1 call
    assert (budget.calls, budget.retries) == (1, 1)
    clock[0] = 15.0
    budget.record_call()
    assert (budget.calls, budget.retries) == (1, 0)


def test_budget_keeps_the_oldest_second_of_its_window() -> None:
    clock = [1.0]
    budget = RetryBudget(ratio=1, min_per_second=0, ttl=10, clock=lambda: clock[0])
    budget.record_call()
    budget.record_call()
    assert [budget.try_retry(), budget.try_retry()] == [True, True]  # two in second 1
    clock[0] = 10.5  # second 10: second 1 is still in the window of 10
    assert budget.try_retry() is False
    assert (budget.calls, budget.retries) == (2, 2)
    clock[0] = 11.0  # second 1 leaves with both its calls and both its retries
    assert (budget.try_retry(), budget.calls, budget.retries) == (False, 0, 0)


# ------------------------------------------------------------------------------- the loops


class StateLog:
    """A wait strategy that records what tenacity's `RetryCallState` tells it."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float, float, object]] = []

    def __call__(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        assert outcome is not None and state.outcome_timestamp is not None
        value = outcome.exception() if outcome.failed else outcome.result()
        self.seen.append((state.attempt_number, state.start_time, state.outcome_timestamp, value))
        return 1.0


async def test_wait_strategies_see_the_first_failure_time_and_each_outcome() -> None:
    log = StateLog()
    loop = asyncio.get_running_loop()
    outcomes: list[object] = [Boom("one"), "bad", "good"]

    @Retry(max_attempts=4, wait=log, retry_if_result=lambda r: r == "bad")
    async def call() -> object:
        await asyncio.sleep(0.5)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    begin = loop.time()
    assert await call() == "good"
    (n1, start1, at1, v1), (n2, start2, at2, v2) = log.seen
    assert (n1, n2) == (1, 2)
    assert start1 == start2 == pytest.approx(begin + 0.5)  # the first failure's time, kept
    assert at1 == pytest.approx(begin + 0.5) and at2 == pytest.approx(begin + 2.0)
    assert str(v1) == "one" and v2 == "bad"

    results = ["bad", "bad"]
    first_bad = StateLog()

    @Retry(max_attempts=3, wait=first_bad, retry_if_result=lambda r: r == "bad")
    async def bad_then_bad() -> str:
        await asyncio.sleep(0.25)
        return results.pop(0) if results else "good"

    begin = loop.time()
    assert await bad_then_bad() == "good"
    starts = [s for _, s, _, _ in first_bad.seen]
    assert starts == [pytest.approx(begin + 0.25)] * 2  # a bad result starts the clock too


def test_sync_wait_strategies_see_each_outcome() -> None:
    log = StateLog()
    outcomes: list[object] = [Boom("one"), "bad", "good"]

    def wait(state: tenacity.RetryCallState) -> float:
        log(state)
        return 0.0

    @Retry(max_attempts=4, wait=wait, retry_if_result=lambda r: r == "bad")
    def call() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call() == "good"
    (_, start1, at1, v1), (_, start2, at2, v2) = log.seen
    assert isinstance(start1, float) and start1 == start2 <= at1 <= at2
    assert str(v1) == "one" and v2 == "bad"

    bad = ["bad", "bad"]

    @Retry(max_attempts=3, wait=0, retry_if_result=lambda r: r == "bad")
    def no_wait() -> str:
        return bad.pop(0) if bad else "good"

    assert no_wait() == "good"  # a zero wait still retries a bad result


class AttemptLog:
    """A custom sync layer recording the attempt number its context says."""

    mechanism = "attempt_log"

    def __init__(self) -> None:
        self.attempts: list[int] = []

    def bind(self, policy: str, emitter: Emitter) -> None:
        return None

    def describe(self) -> str:
        return "AttemptLog()"

    async def run(self, nxt: Step[Any], call: Call[Any], ctx: CallContext) -> Any:
        self.attempts.append(ctx.attempt)
        return await nxt(call, ctx)

    def run_sync(self, nxt: SyncStep[Any], call: Any, ctx: CallContext) -> Any:
        self.attempts.append(ctx.attempt)
        return nxt(call, ctx)


def test_sync_layers_see_the_attempt_number() -> None:
    log = AttemptLog()
    failures = [Boom(), Boom()]

    @Policy("counted", retry=Retry(max_attempts=3, wait=0), chaos=[log])
    def call() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    assert call() == "ok"
    assert log.attempts == [1, 2, 3]


def test_nested_sync_retries_do_not_multiply_and_keep_the_inner_layers() -> None:
    calls = 0

    @Policy("inner", retry=Retry(max_attempts=3, wait=0), timeout=5)
    def inner() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    @Retry(max_attempts=2, wait=0)
    def outer() -> None:
        inner()

    with pytest.raises(Boom):
        outer()
    assert calls == 2  # one inner attempt per outer attempt, through the inner timeout


def test_a_context_copied_inside_a_sync_retry_retries_on_its_own_after_it() -> None:
    saved: list[contextvars.Context] = []

    @Retry(max_attempts=2, wait=0)
    def outer() -> None:
        saved.append(contextvars.copy_context())

    outer()
    calls = 0

    @Retry(max_attempts=3, wait=0)
    def later() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    with pytest.raises(Boom):
        saved[0].run(later)  # e.g. a thread started with the call's context, outliving it
    assert calls == 3


def test_a_sync_retry_of_two_attempts_is_refused_inside_a_loop() -> None:
    @Retry(max_attempts=2, wait=0)
    def call() -> str:
        return "ok"

    async def main() -> str:
        return call()

    with pytest.raises(RuntimeError, match="Retry"):
        asyncio.run(main())


# ------------------------------------------------------------------------------- describe()


class HandMadeWait:
    """A wait strategy without a repr of its own: describe() lists its public settings."""

    def __init__(self) -> None:
        self.base = 1.5
        self.factor = 2
        self._rng = object()

    def __call__(self, state: tenacity.RetryCallState) -> float:
        return self.base


def test_describe_of_the_defaults_and_of_a_hand_made_wait() -> None:
    assert Retry().describe() == (
        "Retry(max_attempts=3, wait=FullJitterBackoff(initial=0.1, max=10, multiplier=2), "
        "retry_on=(Exception), retry_if_result=None, max_retry_after=60, budget=None)"
    )
    assert (
        Retry(wait=HandMadeWait())
        .describe()
        .startswith("Retry(max_attempts=3, wait=HandMadeWait(base=1.5, factor=2), ")
    )


# ------------------------------------------------------------------------------- settings, hints


def test_retry_settings_read_back_and_their_bounds() -> None:
    retry = Retry(retry_on=Boom, max_retry_after=0)
    assert retry.retry_on == (Boom,) and retry.max_retry_after == 0.0
    with pytest.raises(ConfigError) as info:
        Retry(retry_when_nested=1)  # type: ignore[arg-type]
    assert str(info.value) == "Retry.retry_when_nested: expected true or false, got 1"
    with pytest.raises(ConfigError) as info:
        Retry(max_retry_after=-1)
    assert str(info.value) == "Retry.max_retry_after: expected seconds >= 0, got -1"


async def test_a_sub_second_retry_after_hint_is_honoured() -> None:
    loop = asyncio.get_running_loop()

    class Throttled(Exception):
        retry_after = 0.5

    failures = [Throttled()]

    @Retry(max_attempts=2, wait=0)
    async def call() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    start = loop.time()
    assert await call() == "ok"
    assert loop.time() - start == pytest.approx(0.5)


async def test_wait_strategies_see_the_calls_arguments_and_the_attempt() -> None:
    seen: list[tuple[tuple[Any, ...], dict[str, Any], int]] = []

    def wait(state: tenacity.RetryCallState) -> float:
        assert state.outcome is not None
        seen.append((state.args, state.kwargs, state.outcome.attempt_number))
        return 0.0

    @Retry(max_attempts=3, wait=wait)
    async def call(x: int, *, y: str) -> None:
        raise Boom

    with pytest.raises(Boom):
        await call(7, y="z")
    assert seen == [((7,), {"y": "z"}, 1), ((7,), {"y": "z"}, 2)]


async def test_a_spent_budget_is_reported_under_the_policy() -> None:
    events: list[object] = []
    budget = RetryBudget(ratio=0, min_per_second=0, ttl=1)

    @Policy("budgeted", retry=Retry(max_attempts=2, wait=0, budget=budget), hooks=[events.append])
    async def call() -> None:
        raise Boom

    with pytest.raises(Boom):
        await call()
    from resilience import Rejected

    assert [e for e in events if isinstance(e, Rejected)] == [
        Rejected("budgeted", "retry_budget", None)
    ]
