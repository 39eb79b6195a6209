"""Policy: composition order proven by behaviour, describe(), hooks, async with, custom layers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from resilience import (
    AdaptiveLimiter,
    Bulkhead,
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Fallback,
    Hedge,
    Policy,
    PolicyInfo,
    RateLimiter,
    Retry,
    RetryScheduled,
    Timeout,
)
from resilience.events import Emitter
from resilience.layers import Call, CallContext, Step

T = TypeVar("T")


class Boom(Exception):
    pass


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_retry_is_outside_the_breaker_each_attempt_is_recorded() -> None:
    breaker = CircuitBreaker("dead", minimum_calls=100, window_size=100)
    # arguments given in "wrong" order on purpose: the order is fixed by the Policy
    policy = Policy("p", circuit_breaker=breaker, retry=Retry(max_attempts=3, wait=0))
    calls = 0

    @policy
    async def dead() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    with pytest.raises(Boom):
        await dead()
    assert calls == 3
    assert breaker.window_counts() == (3, 3, 0)


async def test_each_attempt_gets_its_own_timeout_and_the_breaker_sees_it() -> None:
    breaker = CircuitBreaker("slow", minimum_calls=100, window_size=100)
    starts: list[float] = []
    policy = Policy(
        "p", timeout=Timeout(1.0), retry=Retry(max_attempts=3, wait=0), circuit_breaker=breaker
    )

    @policy
    async def slow() -> None:
        starts.append(now())
        await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        await slow()
    assert starts == [0.0, 1.0, 2.0]
    assert breaker.window_counts() == (3, 3, 0)


async def test_bulkhead_is_inside_the_timeout_and_breaker_rejections_are_not_retried() -> None:
    breaker = CircuitBreaker("b", minimum_calls=1, window_size=1)
    breaker.force_open()
    calls = 0
    policy = Policy("p", retry=Retry(max_attempts=5, wait=0), circuit_breaker=breaker)

    @policy
    async def never() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(CircuitOpenError):
        await never()
    assert calls == 0

    bulkhead = Bulkhead(max_concurrent=1, max_wait=10)
    queued = Policy("q", bulkhead=bulkhead, timeout=0.5)

    @queued
    async def hold() -> None:
        await asyncio.sleep(0.4)

    # the second call waits for the slot inside its attempt timeout: 0.4 wait + 0.4 run > 0.5
    results = await asyncio.gather(hold(), hold(), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], TimeoutError)


class Recorder:
    """A custom layer (as another helper's RateLimiter or chaos injection would be)."""

    def __init__(self, label: str, log: list[str]) -> None:
        self.mechanism = label
        self.log = log
        self.bound: list[str] = []

    def bind(self, policy: str, emitter: Emitter) -> None:
        self.bound.append(policy)

    def describe(self) -> str:
        return f"Recorder({self.mechanism})"

    def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
        return self._run(nxt, call, ctx)

    async def _run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        self.log.append(f"{self.mechanism} attempt {ctx.attempt}")
        return await nxt(call, ctx)


async def test_any_layer_fits_a_slot_and_chaos_is_innermost() -> None:
    log: list[str] = []
    limiter, hedge = Recorder("rate_limiter", log), Recorder("hedge", log)
    chaos = [Recorder("chaos-a", log), Recorder("chaos-b", log)]
    policy = Policy(
        "custom",
        chaos=chaos,
        rate_limiter=limiter,
        retry=Retry(max_attempts=2, wait=0),
        hedge=hedge,
        circuit_breaker=CircuitBreaker("c"),
    )
    assert policy.info.mechanisms == (
        "retry",
        "hedge",
        "circuit_breaker",
        "rate_limiter",
        "chaos-a",
        "chaos-b",
    )
    assert limiter.bound == ["custom"]
    attempts = 0

    @policy
    async def call() -> str:
        nonlocal attempts
        attempts += 1
        log.append("call")
        if attempts == 1:
            raise Boom
        return "ok"

    assert await call() == "ok"
    per_attempt = ["hedge", "rate_limiter", "chaos-a", "chaos-b"]
    assert log == [f"{m} attempt 1" for m in per_attempt] + ["call"] + [
        f"{m} attempt 2" for m in per_attempt
    ] + ["call"]


def test_describe_lists_the_order_and_every_setting() -> None:
    policy = Policy(
        "llm-primary",
        bulkhead=Bulkhead(max_concurrent=8, max_wait=0.25),
        fallback=Fallback(lambda exc: None),
        timeout=2.0,
        circuit_breaker=CircuitBreaker("llm", minimum_calls=20, window_type="time", window_size=30),
        deadline=10.0,
        retry=Retry(max_attempts=4),
    )
    text = policy.describe()
    lines = text.splitlines()
    assert lines[0] == "Policy 'llm-primary' (outermost first):"
    order = [line.split(". ", 1)[1].split("(")[0] for line in lines[1:]]
    assert order == [
        "Fallback",
        "Deadline",
        "Retry",
        "CircuitBreaker",
        "Timeout",
        "Bulkhead",
        "call",
    ]
    for setting in (
        "Deadline(seconds=10)",
        "max_attempts=4",
        "FullJitterBackoff(initial=0.1, max=10, multiplier=2)",
        "minimum_calls=20",
        "window_type='time'",
        "window_size=30",
        "failure_rate_threshold=0.5",
        "half_open_calls=10",
        "open_duration=60",
        "Timeout(attempt, seconds=2)",
        "Bulkhead(max_concurrent=8, max_wait=0.25)",
    ):
        assert setting in text


async def test_call_finished_outcomes_and_durations() -> None:
    events: list[object] = []
    breaker = CircuitBreaker("b", minimum_calls=1, window_size=1)
    policy = Policy("p", circuit_breaker=breaker, hooks=[events.append])

    @policy
    async def call(fail: bool) -> str:
        await asyncio.sleep(0.25)
        if fail:
            raise Boom
        return "ok"

    await call(False)
    with pytest.raises(Boom):
        await call(True)
    with pytest.raises(CircuitOpenError):
        await call(False)
    finished = [e for e in events if isinstance(e, CallFinished)]
    assert [(e.outcome, e.duration) for e in finished] == [
        ("success", 0.25),
        ("failure", 0.25),
        ("rejected", 0.0),
    ]


async def test_a_raising_hook_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: object) -> None:
        raise RuntimeError("hook bug")

    policy = Policy("p", retry=Retry(max_attempts=2, wait=0), hooks=[broken])
    attempts = 0

    @policy
    async def call() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise Boom
        return "ok"

    with caplog.at_level(logging.ERROR, logger="resilience.hooks"):
        assert await call() == "ok"
    assert "hook bug" in caplog.text


async def test_no_event_objects_are_built_without_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    import resilience._core  # noqa: TID251 (white-box: no event is built without a hook)
    import resilience.retry

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("event built without a listener")

    monkeypatch.setattr(resilience._core, "CallFinished", forbidden)  # noqa: TID251
    monkeypatch.setattr(resilience.retry, "RetryScheduled", forbidden)
    policy = Policy("quiet", retry=Retry(max_attempts=2, wait=0))
    attempts = 0

    @policy
    async def call() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise Boom
        return "ok"

    assert await call() == "ok"


async def test_policy_info_reads_live_breaker_state() -> None:
    seen: list[PolicyInfo] = []

    class Binder:
        def bind(self, info: PolicyInfo) -> None:
            seen.append(info)

    breaker = CircuitBreaker("b", minimum_calls=1, window_size=1)
    policy = Policy("info", circuit_breaker=breaker, hooks=[Binder()], critical=True)
    info = seen[0]
    assert info.name == "info" and info.critical and info.mechanisms == ("circuit_breaker",)
    assert info.breaker_state is not None and info.breaker_state() == "closed"
    assert policy.info.bulkhead_in_flight is None
    breaker.force_open()
    assert info.breaker_state() == "forced_open"


async def test_async_with_runs_the_block_through_the_layers() -> None:
    breaker = CircuitBreaker("b", minimum_calls=2, window_size=2, failure_rate_threshold=0.6)
    policy = Policy(
        "block", circuit_breaker=breaker, timeout=1.0, retry=Retry(max_attempts=3, wait=0)
    )
    async with policy:
        await asyncio.sleep(0.5)
    with pytest.raises(TimeoutError):
        async with policy:
            await asyncio.sleep(2)
    assert breaker.window_counts() == (2, 1, 0)
    with pytest.raises(Boom):
        async with policy:  # one attempt: a block cannot be retried
            raise Boom
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        async with policy:
            pytest.fail("the body must not run when the breaker rejects")


def test_sync_functions_through_a_policy_without_timeout() -> None:
    breaker = CircuitBreaker("sync", minimum_calls=10, window_size=10)
    policy = Policy("sync", circuit_breaker=breaker, retry=Retry(max_attempts=3, wait=0))
    attempts = []

    @policy
    def work() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Boom
        return "ok"

    assert work() == "ok"
    assert breaker.window_counts() == (3, 2, 0)


def test_bad_slots_and_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="name"):
        Policy("")
    with pytest.raises(ConfigError, match="circuit_breaker"):
        Policy("p", circuit_breaker="yes")  # type: ignore[arg-type]


def test_breaker_is_a_deprecated_alias_of_circuit_breaker() -> None:
    breaker = CircuitBreaker("old-name")
    with pytest.warns(DeprecationWarning, match=r"use Policy\(circuit_breaker=\.\.\.\)"):
        policy = Policy("p", breaker=breaker)
    assert policy.circuit_breaker is breaker
    with pytest.raises(ConfigError, match="circuit_breaker= only"):
        Policy("p", breaker=breaker, circuit_breaker=breaker)


def test_the_pipeline_runs_in_order_whatever_the_keyword_order() -> None:
    from resilience.layers import ORDER

    policy = Policy(
        "all",
        bulkhead=Bulkhead(max_concurrent=1),
        timeout=1.0,
        adaptive_limiter=AdaptiveLimiter(),
        rate_limiter=RateLimiter(rate_per_second=10),
        circuit_breaker=CircuitBreaker("all"),
        hedge=Hedge(delay=0.1),
        retry=Retry(),
        deadline=5.0,
        fallback=Fallback(lambda *a, **k: None),
    )
    assert [layer.mechanism for layer in policy.layers] == [s for s in ORDER if s != "chaos"]


async def test_retry_events_carry_the_policy_name() -> None:
    events: list[object] = []
    policy = Policy("named", retry=Retry(max_attempts=2, wait=0), hooks=[events.append])

    @policy
    async def fail() -> None:
        raise Boom

    with pytest.raises(Boom):
        await fail()
    assert [e.policy for e in events if isinstance(e, RetryScheduled)] == ["named"]


async def test_replace_swaps_the_layers_under_the_same_name_emitter_and_hooks() -> None:
    events: list[object] = []
    infos: list[PolicyInfo] = []

    class Binder:
        def bind(self, info: PolicyInfo) -> Any:
            infos.append(info)
            return events.append

    policy = Policy("swap", retry=Retry(max_attempts=3, wait=0), hooks=[Binder()])
    emitter = policy.emitter
    breaker = CircuitBreaker("swap", minimum_calls=1, window_size=1)
    policy._replace(circuit_breaker=breaker, timeout=1.0, critical=True)
    assert policy.name == "swap" and policy.emitter is emitter
    assert policy.retry is None and policy.circuit_breaker is breaker and policy.critical
    assert [layer.mechanism for layer in policy.layers] == ["circuit_breaker", "timeout"]
    # The hook re-bound once to the new configuration, with a live state readout.
    assert len(infos) == 2 and infos[-1].mechanisms == ("circuit_breaker", "timeout")
    assert infos[-1].breaker_state is not None and infos[-1].breaker_state() == "closed"
    attempts = 0

    @policy
    async def down() -> None:
        nonlocal attempts
        attempts += 1
        raise Boom

    with pytest.raises(Boom):
        await down()
    assert attempts == 1  # the retry slot was emptied
    # The new breaker reports through the policy's one emitter: each event reaches the hook once.
    assert [type(e).__name__ for e in events] == ["StateChanged", "CallFinished"]
    assert infos[-1].breaker_state() == "open"


def test_replace_with_a_bad_slot_changes_nothing() -> None:
    breaker = CircuitBreaker("keep")
    policy = Policy("keep", circuit_breaker=breaker, timeout=2.0)
    layers, info = policy.layers, policy.info
    with pytest.raises(ConfigError, match="'keep' bulkhead: expected a resilience mechanism"):
        policy._replace(retry=Retry(), bulkhead="many")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'keep' timeout: expected seconds or a Timeout"):
        policy._replace(timeout=True)
    assert policy.layers is layers and policy.info is info
    assert policy.circuit_breaker is breaker and policy.retry is None


class _Recorder:
    """A layer keeping the context of each call it runs."""

    mechanism = "recorder"

    def __init__(self) -> None:
        self.seen: list[CallContext] = []

    def bind(self, policy: str, emitter: Emitter) -> None:
        pass

    def describe(self) -> str:
        return "Recorder()"

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        self.seen.append(ctx)
        return await nxt(call, ctx)


async def test_a_decorated_call_gets_the_context_the_constructor_would_make() -> None:
    # The wrappers make the context without calling the class (faster); every attribute must
    # still be what CallContext(...) sets.
    recorder = _Recorder()
    policy = Policy("p", chaos=recorder)

    @policy
    async def f(a: int, b: int, *, k: int) -> int:
        return a + b + k

    assert await f(1, 2, k=3) == 6
    made = CallContext("p", policy.emitter, (1, 2), {"k": 3})
    slots = [s for s in CallContext.__slots__ if s != "retrying"]  # set by Retry, not at creation
    assert [getattr(recorder.seen[0], s) for s in slots] == [getattr(made, s) for s in slots]
    assert [getattr(made, s) for s in slots] == [
        (1, 2),
        1,
        policy.emitter,
        False,
        {"k": 3},
        False,
        "p",
    ]
