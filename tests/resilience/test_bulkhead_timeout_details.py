"""Bulkhead and sync-timeout details found by mutation testing (`make mutation`): refusal
messages, resizing from another thread or with nobody waiting, a waiter cancelled while its slot
was being handed over, the sync timeout's worker pool and how it honours an outer deadline."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid

import pytest

from resilience import AttemptTimeoutError, BulkheadFullError, Policy, Timeout
from resilience.bulkhead import Bulkhead
from tests.resilience.layers_for_tests import AttemptLog

# ------------------------------------------------------------------------------- bulkhead


async def test_refusals_name_the_limit_and_the_policy() -> None:
    gate = asyncio.Event()
    for max_wait, message in (
        (0.0, "bulkhead full: 1 calls in flight"),
        (0.5, "bulkhead full: 1 calls in flight, no slot freed within 0.5 s"),
    ):
        policy = Policy("pool", bulkhead=Bulkhead(max_concurrent=1, max_wait=max_wait))

        @policy
        async def hold() -> None:
            await gate.wait()

        holder = asyncio.ensure_future(hold())
        await asyncio.sleep(0)
        with pytest.raises(BulkheadFullError) as info:
            await hold()
        assert str(info.value) == message and info.value.policy == "pool"
        gate.set()
        await holder
        gate.clear()


async def test_resizing_with_nobody_waiting_changes_only_the_limits() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=2)

    @bulkhead
    async def call() -> str:
        await asyncio.sleep(1)
        return "ok"

    assert await call() == "ok"  # the bulkhead now knows its loop
    bulkhead.resize(max_concurrent=3)
    bulkhead.resize(max_wait=0.5)
    assert (bulkhead.capacity, bulkhead.max_wait, bulkhead.in_flight, bulkhead.waiting) == (
        3,
        0.5,
        0,
        0,
    )
    assert await asyncio.gather(call(), call(), call()) == ["ok"] * 3


async def test_a_waiter_cancelled_while_slots_are_added_does_not_hold_one() -> None:
    bulkhead = Bulkhead(max_concurrent=2, max_wait=30)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> None:
        await gate.wait()

    holders = [asyncio.ensure_future(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    assert bulkhead.waiting == 1
    waiter.cancel()  # its future is cancelled now; the task learns it on its next step
    bulkhead.resize(max_concurrent=3)
    assert bulkhead.in_flight == 2  # the new slot was not given to the cancelled waiter
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (bulkhead.in_flight, bulkhead.waiting) == (2, 0)
    third = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    assert bulkhead.in_flight == 3  # the new slot is free for the next call
    gate.set()
    await asyncio.gather(*holders, third)
    assert bulkhead.in_flight == 0


@pytest.mark.real_time
async def test_a_resize_from_another_thread_wakes_the_waiters_loop() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=5)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> str:
        await gate.wait()
        return "held"

    @bulkhead
    async def quick() -> str:
        return "quick"

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(quick())
    await asyncio.sleep(0.01)
    assert bulkhead.waiting == 1
    start = time.monotonic()

    def resize_soon() -> None:
        time.sleep(0.02)  # while the loop sleeps in its selector, waiting for the waiter
        bulkhead.resize(max_concurrent=2)

    resizer = threading.Thread(target=resize_soon)
    resizer.start()
    assert await asyncio.wait_for(waiter, 4) == "quick"
    resizer.join()
    assert time.monotonic() - start < 1.0  # handed over at once, not when the loop next woke
    gate.set()
    assert await holder == "held"


def test_sync_bulkhead_from_a_loop_and_through_inner_layers() -> None:
    log = AttemptLog()
    policy = Policy("sync-pool", bulkhead=Bulkhead(max_concurrent=2), chaos=[log])

    @policy
    def call() -> str:
        return "ok"

    async def main() -> str:
        return call()  # max_wait 0: never waits, so allowed on a loop's thread

    assert asyncio.run(main()) == "ok"
    assert log.seen == [("sync-pool", 1)]


# ------------------------------------------------------------------------------- sync timeout


def workers_of(policy: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"resilience-timeout-{policy}"]


def fresh(name: str) -> str:
    """A policy name of its own: workers of an earlier run of the test (same process, daemon
    threads) must not be counted."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_sequential_sync_calls_reuse_one_daemon_worker() -> None:
    name = fresh("one-worker")

    @Policy(name, timeout=5)
    def call(x: int) -> int:
        return x * 2

    assert [call(i) for i in range(5)] == [0, 2, 4, 6, 8]
    workers = workers_of(name)
    assert len(workers) == 1 and workers[0].daemon


def test_concurrent_sync_calls_get_a_worker_each_up_to_the_pool() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    name = fresh("pool-of-3")

    @Policy(name, timeout=5)
    def call(block: bool) -> str:
        if block:
            started.release()
            release.wait(5)
        return "done"

    assert [call(False) for _ in range(3)] == ["done"] * 3  # one worker, idle again
    results: list[str] = []
    callers = [threading.Thread(target=lambda: results.append(call(True))) for _ in range(3)]
    for caller in callers:
        caller.start()
    for _ in range(3):
        assert started.acquire(timeout=3)  # all three run at once: three workers
    release.set()
    for caller in callers:
        caller.join(5)
    assert results == ["done"] * 3
    assert len(workers_of(name)) == 3
    release.clear()
    callers = [threading.Thread(target=lambda: results.append(call(True))) for _ in range(3)]
    for caller in callers:
        caller.start()
    for _ in range(3):
        assert started.acquire(timeout=3)
    release.set()
    for caller in callers:
        caller.join(5)
    assert results == ["done"] * 6
    assert len(workers_of(name)) == 3  # the second wave found the three workers idle


def test_a_sync_timeout_refuses_a_loops_thread_by_name() -> None:
    @Timeout(1.5)
    def call() -> None:
        return None

    async def main() -> None:
        call()

    with pytest.raises(RuntimeError) as info:
        asyncio.run(main())
    assert str(info.value).startswith("Timeout(attempt, seconds=1.5) would block the running")


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        ({"deadline": 0.05}, {"timeout": 5}),
        ({"deadline": 0.05}, {"deadline": 5}),
    ],
)
def test_an_inner_sync_timer_gives_up_at_the_outer_deadline(
    outer: dict[str, float], inner: dict[str, float]
) -> None:
    release = threading.Event()
    recorded = threading.Event()
    outcome: list[tuple[str, float]] = []

    @Policy("inner", **inner)  # type: ignore[arg-type]
    def slow() -> str:
        release.wait(5)
        return "late"

    @Policy("outer", **outer)  # type: ignore[arg-type]
    def call() -> None:
        start = time.monotonic()
        try:
            outcome.append((slow(), time.monotonic() - start))
        except Exception as exc:
            outcome.append((type(exc).__name__, time.monotonic() - start))
        recorded.set()

    with contextlib.suppress(TimeoutError):
        call()  # the outer deadline, or the inner timer that honoured it, whichever is first
    finished = recorded.wait(2)
    release.set()
    assert finished, "the inner timer waited past the outer deadline"
    ((what, after),) = outcome
    assert what in ("AttemptTimeoutError", "DeadlineExceededError") and after < 0.5
    assert issubclass(AttemptTimeoutError, TimeoutError)


# ------------------------------------------------------------------------------- bulkhead waits


async def test_defaults_and_standalone_gauges() -> None:
    bulkhead = Bulkhead(max_concurrent=2)
    assert bulkhead.max_wait == 0.0 and bulkhead.describe() == (
        "Bulkhead(max_concurrent=2, max_wait=0)"
    )
    info = bulkhead.standalone_info("pool")
    assert info.name == "pool" and info.mechanisms == ("bulkhead",)
    assert info.bulkhead_in_flight is not None and info.bulkhead_capacity is not None
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> None:
        await gate.wait()

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    assert (info.bulkhead_in_flight(), info.bulkhead_capacity()) == (1, 2)
    bulkhead.resize(max_concurrent=4)
    assert info.bulkhead_capacity() == 4
    gate.set()
    await holder


async def test_without_max_wait_a_full_bulkhead_refuses_without_queueing() -> None:
    bulkhead = Bulkhead(max_concurrent=1)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> None:
        await gate.wait()

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    refused = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    assert bulkhead.waiting == 0 and refused.done()
    with pytest.raises(BulkheadFullError):
        await refused
    gate.set()
    await holder


async def test_waiters_time_out_in_waves_past_cancelled_ones() -> None:
    """Each wave of waiters is refused at its own deadline: the expiry timer re-arms for a later
    waiter, skips cancelled ones at the front and starts again after the queue emptied."""
    loop = asyncio.get_running_loop()
    bulkhead = Bulkhead(max_concurrent=1, max_wait=2)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> None:
        await gate.wait()

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    start = loop.time()
    cancelled = asyncio.ensure_future(hold())
    first = asyncio.ensure_future(hold())
    await asyncio.sleep(1)
    later = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    with pytest.raises(BulkheadFullError):
        await asyncio.wait_for(first, 10)
    assert loop.time() - start == pytest.approx(2.0)
    with pytest.raises(BulkheadFullError):
        await asyncio.wait_for(later, 10)
    assert loop.time() - start == pytest.approx(3.0)
    again = asyncio.ensure_future(hold())  # a new wave after the queue emptied
    with pytest.raises(BulkheadFullError):
        await asyncio.wait_for(again, 10)
    assert loop.time() - start == pytest.approx(5.0)
    gate.set()
    await holder


async def test_live_waiters_survive_the_compaction_of_cancelled_ones() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=30)
    gate = asyncio.Event()
    order: list[str] = []

    @bulkhead
    async def hold(name: str) -> None:
        order.append(name)
        await gate.wait()

    holder = asyncio.ensure_future(hold("holder"))
    await asyncio.sleep(0)
    live = asyncio.ensure_future(hold("live"))
    gone = [asyncio.ensure_future(hold("gone")) for _ in range(70)]
    await asyncio.sleep(0)
    for task in gone:
        task.cancel()
    await asyncio.gather(*gone, return_exceptions=True)
    assert bulkhead.waiting == 1
    newest = asyncio.ensure_future(hold("newest"))  # 71 entries, 1 live: compacted here
    await asyncio.sleep(0)
    assert bulkhead.waiting == 2
    gate.set()
    await asyncio.wait_for(asyncio.gather(holder, live, newest), 10)
    assert order == ["holder", "live", "newest"] and bulkhead.in_flight == 0


async def test_async_bulkhead_passes_the_context_inward() -> None:
    log = AttemptLog()

    @Policy("async-pool", bulkhead=Bulkhead(max_concurrent=1), chaos=[log])
    async def call() -> str:
        return "ok"

    assert await call() == "ok"
    assert log.seen == [("async-pool", 1)]


# ------------------------------------------------------------------------------- async timeout


def test_timeout_settings_and_messages() -> None:
    from resilience import ConfigError

    assert (
        Timeout(1).max_sync_workers == 32 and Timeout(1, max_sync_workers=1).max_sync_workers == 1
    )
    for bad in (0, True, "4"):
        with pytest.raises(ConfigError) as info:
            Timeout(1, max_sync_workers=bad)  # type: ignore[arg-type]
        assert str(info.value) == (
            f"Timeout.max_sync_workers: expected an integer >= 1, got {bad!r}"
        )
    with pytest.raises(ConfigError) as info:
        Timeout(0)
    assert str(info.value) == "Timeout.seconds: expected a positive number of seconds, got 0"


async def test_an_overdue_attempt_is_told_why_and_the_error_names_the_policy() -> None:
    messages: list[tuple[object, ...]] = []

    @Policy("slow-dep", timeout=1.5)
    async def call() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as exc:
            messages.append(exc.args)
            raise

    with pytest.raises(AttemptTimeoutError) as info:
        await call()
    assert str(info.value) == "attempt timed out after 1.5 s" and info.value.policy == "slow-dep"
    assert messages == [("resilience: attempt timeout",)]


async def test_timeouts_still_fire_after_finished_attempts_were_compacted() -> None:
    timeout = Policy("compact", timeout=5)

    @timeout
    async def sleep_for(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    long = asyncio.ensure_future(sleep_for(4))  # at the front of the queue for 4 s
    await asyncio.sleep(0)
    for _ in range(80):  # finished entries pile up behind it, then get compacted
        assert await sleep_for(0.001) == "done"
    with pytest.raises(AttemptTimeoutError):
        await asyncio.wait_for(sleep_for(30), 10)
    assert await long == "done"


def test_one_timeout_works_on_one_loop_after_another() -> None:
    from resilience.testing import VirtualTimeLoop

    @Policy("two-loops", timeout=2)
    async def hang() -> None:
        await asyncio.sleep(30)

    async def main() -> str:
        pending = asyncio.ensure_future(hang())
        await asyncio.sleep(0)  # leaves a timer armed on this loop when it stops
        try:
            await asyncio.wait_for(hang(), 10)
        except AttemptTimeoutError:
            return "timed out"
        finally:
            pending.cancel()
        return "hung"

    for _ in range(2):
        loop = VirtualTimeLoop()
        try:
            assert loop.run_until_complete(main()) == "timed out"
        finally:
            loop.close()


def test_a_nested_sync_deadline_keeps_the_tighter_outer_one() -> None:
    from resilience.layers import remaining_time

    @Policy("inner", deadline=5)
    def inner() -> float | None:
        return remaining_time()

    @Policy("outer", deadline=0.5)
    def outer() -> float | None:
        return inner()

    left = outer()
    assert left is not None and 0 < left <= 0.5
