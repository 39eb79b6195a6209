"""The cancellation contract, at every await point of every mechanism.

`CancelledError` propagates unchanged; it is never retried, never recorded as a failure or a
success, never turned into a timeout or a fallback, and every permit is given back.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from resilience import (
    Bulkhead,
    CallFinished,
    CircuitBreaker,
    Fallback,
    Policy,
    Retry,
    Timeout,
)
from resilience.layers import remaining_time


class Boom(Exception):
    pass


async def cancel_after(seconds: float, fn: Callable[[], Awaitable[Any]]) -> None:
    """Start fn(), cancel it after `seconds`, and check CancelledError comes back unchanged."""
    task = asyncio.ensure_future(fn())
    await asyncio.sleep(seconds)
    assert not task.done(), "the call finished before it could be cancelled"
    task.cancel("by the test")
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    assert info.value.args == ("by the test",)


async def test_breaker_closed_records_nothing() -> None:
    breaker = CircuitBreaker("b", minimum_calls=1, window_size=1)
    sleep = breaker(asyncio.sleep)
    await cancel_after(1, lambda: sleep(5))
    assert breaker.window_counts() == (0, 0, 0)
    assert breaker.state == "closed"


async def test_breaker_half_open_gives_the_permit_back() -> None:
    breaker = CircuitBreaker(
        "b", minimum_calls=1, window_size=1, half_open_calls=1, open_duration=1
    )

    @breaker
    async def call(seconds: float, fail: bool = False) -> str:
        await asyncio.sleep(seconds)
        if fail:
            raise Boom
        return "ok"

    with pytest.raises(Boom):
        await call(0, True)
    await asyncio.sleep(1)
    await cancel_after(1, lambda: call(5))
    assert breaker.state == "half_open"
    assert await call(0) == "ok"  # the single probe permit is available again
    assert breaker.state == "closed"


@pytest.mark.parametrize("point", ["first attempt", "backoff sleep", "second attempt"])
async def test_retry_never_retries_a_cancellation(point: str) -> None:
    attempts: list[float] = []

    @Retry(max_attempts=5, wait=2.0, retry_on=lambda exc: True)  # even a catch-all predicate
    async def call() -> None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) == 1:
            await asyncio.sleep(1)
            raise Boom
        await asyncio.sleep(10)

    at = {"first attempt": 0.5, "backoff sleep": 2.0, "second attempt": 4.0}[point]
    await cancel_after(at, call)
    await asyncio.sleep(30)
    assert len(attempts) == (2 if point == "second attempt" else 1)


async def test_timeout_and_deadline_let_an_outer_cancellation_through() -> None:
    timeout = Timeout(10)
    policy = Policy("p", timeout=timeout, deadline=20)

    @policy
    async def call() -> None:
        await asyncio.sleep(30)

    await cancel_after(5, call)
    assert timeout._queue is not None and timeout._queue.active == 0
    assert remaining_time() is None
    await asyncio.sleep(30)  # the timers fire later and find nothing to cancel


@pytest.mark.parametrize("where", ["holding a slot", "waiting for a slot"])
async def test_bulkhead_gives_every_slot_back(where: str) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=100)

    @bulkhead
    async def hold(seconds: float) -> None:
        await asyncio.sleep(seconds)

    holder = asyncio.ensure_future(hold(10))
    await asyncio.sleep(0)
    if where == "holding a slot":
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
    else:
        await cancel_after(1, lambda: hold(1))
        assert bulkhead.waiting == 0
        await holder
    assert bulkhead.in_flight == 0
    await hold(0)


@pytest.mark.parametrize("where", ["in the call", "in an async handler"])
async def test_fallback_never_catches_a_cancellation(where: str) -> None:
    async def slow_handler(exc: BaseException) -> str:
        await asyncio.sleep(10)
        return "fallback"

    @Fallback(slow_handler)
    async def call() -> str:
        if where == "in the call":
            await asyncio.sleep(10)
        raise Boom

    await cancel_after(1, call)


async def test_full_policy_cancelled_at_each_stage_emits_no_call_finished() -> None:
    events: list[object] = []
    breaker = CircuitBreaker("b", minimum_calls=1, window_size=1)
    bulkhead = Bulkhead(max_concurrent=1, max_wait=50)
    policy = Policy(
        "full",
        circuit_breaker=breaker,
        retry=Retry(max_attempts=3, wait=5),
        timeout=2,
        bulkhead=bulkhead,
        fallback=Fallback(lambda exc: "fallback"),
        deadline=100,
        hooks=[events.append],
    )
    attempts = 0

    @policy
    async def call() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(1)
        raise Boom

    for at in (0.5, 1.5):  # during attempt 1; during the backoff sleep after it
        attempts = 0
        breaker.disable()  # keep the breaker out of the way
        await cancel_after(at, call)
        assert attempts == 1
        assert bulkhead.in_flight == 0
    assert not [e for e in events if isinstance(e, CallFinished)]


async def probes_admitted(breaker: CircuitBreaker, tries: int = 10) -> int:
    """Start `tries` hanging calls through `breaker` at once, count those admitted, cancel them."""

    @breaker
    async def hang() -> None:
        await asyncio.sleep(3600)

    tasks = [asyncio.ensure_future(hang()) for _ in range(tries)]
    await asyncio.sleep(0.01)
    admitted = sum(not t.done() for t in tasks)  # the others were refused at once
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return admitted


async def test_soak_random_failures_latencies_and_cancellations_leave_nothing_behind() -> None:
    rng = random.Random(1125)
    breaker = CircuitBreaker(
        "soak", minimum_calls=20, window_size=50, open_duration=2, half_open_calls=3
    )
    bulkhead = Bulkhead(max_concurrent=20, max_wait=0.5)
    timeout = Timeout(1.0)
    policy = Policy(
        "soak",
        circuit_breaker=breaker,
        retry=Retry(max_attempts=3, wait=0.1),
        timeout=timeout,
        bulkhead=bulkhead,
        deadline=5.0,
    )
    outcomes: dict[str, int] = {}

    @policy
    async def call() -> str:
        await asyncio.sleep(rng.choice([0.01, 0.05, 0.2, 1.5]))
        if rng.random() < 0.3:
            raise Boom
        return "ok"

    async def one() -> None:
        await asyncio.sleep(rng.uniform(0, 20))
        task = asyncio.ensure_future(call())
        if rng.random() < 0.2:
            await asyncio.sleep(rng.uniform(0, 2))
            task.cancel()
        try:
            await task
            kind = "ok"
        except asyncio.CancelledError:
            kind = "cancelled"
        except Exception as exc:
            kind = type(exc).__name__
        outcomes[kind] = outcomes.get(kind, 0) + 1

    await asyncio.gather(*(one() for _ in range(2000)))
    assert sum(outcomes.values()) == 2000
    assert {"ok", "cancelled", "Boom", "AttemptTimeoutError"} <= set(outcomes)
    assert bulkhead.in_flight == 0 and bulkhead.waiting == 0
    assert timeout._queue is not None and timeout._queue.active == 0
    assert remaining_time() is None
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    # No half-open permit leaked: once open_duration has passed, the breaker as the soak left it
    # admits every probe it has not recorded yet (a leak would leave it stuck half-open)...
    await asyncio.sleep(2)
    if breaker.effective_state == "half_open":
        recorded = breaker.window_counts()[0] if breaker.state == "half_open" else 0
        assert await probes_admitted(breaker) == breaker.half_open_calls - recorded
    # ...and a fresh half-open period admits exactly half_open_calls, again after they were
    # cancelled.

    @breaker
    async def fail() -> None:
        raise Boom

    breaker.reset()
    for _ in range(20):
        with pytest.raises(Boom):
            await fail()
    assert breaker.state == "open"
    await asyncio.sleep(2)
    assert await probes_admitted(breaker) == 3
    assert await probes_admitted(breaker) == 3
