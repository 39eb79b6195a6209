"""Timeout (per attempt) and the policy's total deadline, on the shared timer (virtual time)."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import (
    AttemptTimeoutError,
    ConfigError,
    DeadlineExceededError,
    Policy,
    Retry,
    TimedOut,
    Timeout,
    TimeoutKind,
)
from resilience.layers import remaining_time
from resilience.testing import VirtualTimeLoop


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_overdue_attempt_is_cancelled_and_raises_attempt_timeout() -> None:
    seen: list[str] = []

    @Timeout(2.0)
    async def slow() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("inner cancelled")
            raise
        return "late"

    with pytest.raises(AttemptTimeoutError) as info:
        await slow()
    assert isinstance(info.value, TimeoutError)
    assert info.value.timeout == 2.0
    assert seen == ["inner cancelled"]
    assert now() == 2.0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_fast_calls_pass_and_the_queue_stays_small() -> None:
    timeout = Timeout(5.0)

    @timeout
    async def fast(i: int) -> int:
        await asyncio.sleep(0.01)
        return i

    assert [await fast(i) for i in range(1000)] == list(range(1000))
    queue = timeout._queue
    assert queue is not None and queue.active == 0 and len(queue._entries) <= 1


async def test_concurrent_attempts_time_out_independently() -> None:
    @Timeout(1.0)
    async def sleeper(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    durations = [0.2, 1.5, 0.9, 3.0, 0.99, 1.01]
    results = await asyncio.gather(*(sleeper(d) for d in durations), return_exceptions=True)
    assert [isinstance(r, AttemptTimeoutError) for r in results] == [d > 1.0 for d in durations]


@settings(max_examples=60, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.floats(0, 5), st.floats(0.01, 5)),  # (start delay, duration)
        min_size=1,
        max_size=12,
    ),
    limit=st.sampled_from([0.5, 1.0, 2.5]),
)
def test_same_verdicts_as_asyncio_timeout(jobs: list[tuple[float, float]], limit: float) -> None:
    timeout = Timeout(limit)

    async def job(delay: float, duration: float, ours: bool) -> bool:
        await asyncio.sleep(delay)
        try:
            if ours:
                await timeout(asyncio.sleep)(duration)
            else:
                async with asyncio.timeout(limit):
                    await asyncio.sleep(duration)
        except TimeoutError:
            return True
        return False

    async def main(ours: bool) -> list[bool]:
        return list(await asyncio.gather(*(job(d, t, ours) for d, t in jobs)))

    verdicts = []
    for ours in (True, False):
        loop = VirtualTimeLoop()
        try:
            verdicts.append(loop.run_until_complete(main(ours)))
        finally:
            loop.close()
    assert verdicts[0] == verdicts[1]


async def test_outer_cancellation_is_not_turned_into_a_timeout() -> None:
    @Timeout(1.0)
    async def slow() -> None:
        await asyncio.sleep(10)

    task = asyncio.ensure_future(slow())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_outer_cancellation_at_the_same_instant_as_the_timeout_wins() -> None:
    @Timeout(1.0)
    async def slow() -> None:
        await asyncio.sleep(10)

    task = asyncio.ensure_future(slow())
    loop = asyncio.get_running_loop()
    loop.call_at(loop.time() + 1.0, task.cancel)  # scheduled after our timer: same instant
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_inner_code_swallowing_the_cancellation_keeps_the_task_clean() -> None:
    @Timeout(1.0)
    async def stubborn() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    assert await stubborn() == "swallowed"
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0.1)  # no stray cancellation pending


def test_a_sync_function_runs_on_a_worker_under_a_timeout() -> None:
    # (tests/resilience/test_sync.py has the timing and the pool's bounds.)
    def work(x: int) -> tuple[int, str]:
        return x * 2, threading.current_thread().name

    assert Timeout(1.0)(work)(21)[0] == 42
    value, thread = Policy("p", timeout=1.0)(work)(4)
    assert value == 8 and thread == "resilience-timeout-p"
    with pytest.raises(ConfigError, match="max_sync_workers"):
        Timeout(1.0, max_sync_workers=0)


async def test_async_with_timeout() -> None:
    with pytest.raises(AttemptTimeoutError):
        async with Timeout(0.5):
            await asyncio.sleep(1)
    async with Timeout(0.5):
        await asyncio.sleep(0.4)
    assert now() == 0.9


async def test_total_deadline_covers_attempts_and_backoff() -> None:
    events: list[object] = []
    attempts: list[float] = []
    policy = Policy(
        "total",
        retry=Retry(max_attempts=10, wait=0.5),
        timeout=2.0,
        deadline=4.0,
        hooks=[events.append],
    )

    @policy
    async def slow() -> None:
        attempts.append(now())
        await asyncio.sleep(10)

    with pytest.raises(DeadlineExceededError) as info:
        await slow()
    assert isinstance(info.value, TimeoutError)
    assert attempts == [0.0, 2.5]  # attempt 2 (2.5 .. 4.5) is cut by the deadline at 4
    assert now() == 4.0
    assert [e.kind for e in events if isinstance(e, TimedOut)] == ["attempt", "deadline"]


async def test_retry_gives_up_rather_than_sleep_into_the_deadline() -> None:
    policy = Policy("t", retry=Retry(max_attempts=10, wait=0.5), timeout=2.0, deadline=5.0)

    @policy
    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(AttemptTimeoutError):  # the last attempt's own error, at 4.5
        await slow()
    assert now() == 4.5


async def test_deadline_fires_during_an_attempt() -> None:
    events: list[object] = []
    policy = Policy("d", deadline=3.0, hooks=[events.append])

    @policy
    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(DeadlineExceededError):
        await slow()
    assert now() == 3.0
    assert TimedOut("d", TimeoutKind.DEADLINE, 3.0) in events


async def test_deadline_is_visible_inside_and_nested_deadlines_keep_the_tighter() -> None:
    seen: list[float | None] = []
    inner = Policy("inner", deadline=10.0)
    outer = Policy("outer", deadline=4.0)

    @inner
    async def leaf() -> None:
        seen.append(remaining_time())

    @outer
    async def root() -> None:
        seen.append(remaining_time())
        await asyncio.sleep(1)
        await leaf()

    assert remaining_time() is None
    await root()
    assert seen == [4.0, 3.0]
    assert remaining_time() is None


def test_bad_seconds_are_refused() -> None:
    for bad in (0, -1, float("nan"), float("inf"), "1"):
        with pytest.raises(ConfigError, match="seconds"):
            Timeout(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="deadline"):
        Policy("p", deadline=0)


async def test_a_long_attempt_at_the_front_does_not_pin_finished_entries() -> None:
    timeout = Timeout(100.0)

    @timeout
    async def work(seconds: float) -> None:
        await asyncio.sleep(seconds)

    long = asyncio.ensure_future(work(50))
    await asyncio.sleep(0)
    for _ in range(5000):
        await work(0.001)
    queue = timeout._queue
    assert queue is not None
    assert queue.active == 1
    assert len(queue._entries) <= 2 * queue.active + 65  # compacted, not 5001 entries
    await long
    assert queue.active == 0


async def test_inner_code_converting_our_cancellation_gets_a_timeout_and_a_clean_task() -> None:
    @Timeout(1.0)
    async def converts() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise ConnectionError("client library converted the cancellation") from None

    with pytest.raises(AttemptTimeoutError) as info:
        await converts()
    assert isinstance(info.value.__cause__, ConnectionError)
    assert now() == 1.0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_callers_asyncio_timeout_still_times_out_after_a_converted_cancellation() -> None:
    @Timeout(1.0)
    async def converts() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise ConnectionError("converted") from None

    async def caller() -> str:
        try:
            async with asyncio.timeout(3.0):
                with pytest.raises(AttemptTimeoutError):
                    await converts()
                await asyncio.sleep(10)  # the caller's own timeout fires here
        except TimeoutError:
            return "caller timed out"
        return "slept"

    assert await asyncio.ensure_future(caller()) == "caller timed out"
    assert now() == 3.0


async def test_deadline_converting_inner_error_becomes_deadline_exceeded() -> None:
    policy = Policy("d", deadline=2.0)

    @policy
    async def converts() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise OSError("converted") from None

    with pytest.raises(DeadlineExceededError) as info:
        await converts()
    assert isinstance(info.value.__cause__, OSError)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_outer_cancellation_survives_inner_code_converting_it() -> None:
    @Timeout(1.0)
    async def converts() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise ConnectionError("converted") from None

    task = asyncio.ensure_future(converts())
    loop = asyncio.get_running_loop()
    loop.call_at(loop.time() + 1.0, task.cancel)  # the caller cancels as our timer fires
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelling() == 1  # the caller's request, ours undone


def test_timeouts_do_not_keep_the_loops_they_ran_on_alive() -> None:
    # One `asyncio.run` per job (a worker, a CLI, a test): the per-loop timer queues hold their
    # loop weakly, so every finished loop can be collected.
    timeout = Timeout(1.0)
    policy = Policy("leak", timeout=2.0, deadline=5.0)

    @timeout
    async def job() -> None:
        await asyncio.sleep(0)

    @policy
    async def planned() -> None:
        await asyncio.sleep(0)

    def loops() -> int:
        gc.collect()
        return sum(isinstance(o, asyncio.AbstractEventLoop) for o in gc.get_objects())

    before = loops()
    for _ in range(50):
        asyncio.run(job())
        asyncio.run(planned())
    assert loops() == before
