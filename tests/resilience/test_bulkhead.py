"""Bulkhead: slots, bounded wait, FIFO hand-over, no leaks under random cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time

import pytest

from resilience import Bulkhead, BulkheadFullError, ConfigError, Policy, Rejected


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_refuses_at_once_when_full_without_max_wait() -> None:
    bulkhead = Bulkhead(max_concurrent=2)

    @bulkhead
    async def work() -> str:
        await asyncio.sleep(1)
        return "done"

    results = await asyncio.gather(*(work() for _ in range(5)), return_exceptions=True)
    assert results.count("done") == 2
    assert sum(isinstance(r, BulkheadFullError) for r in results) == 3
    assert bulkhead.in_flight == 0
    assert bulkhead.capacity == 2


async def test_waiters_get_freed_slots_in_arrival_order_within_max_wait() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=2.5)
    order: list[tuple[int, float]] = []

    @bulkhead
    async def work(i: int) -> int:
        order.append((i, now()))
        await asyncio.sleep(1)
        return i

    results = await asyncio.gather(*(work(i) for i in range(5)), return_exceptions=True)
    # slots free at 1, 2, 3...: calls 0-2 run, call 3 would start at 3 > 2.5 → refused
    assert results[:3] == [0, 1, 2]
    assert all(isinstance(r, BulkheadFullError) for r in results[3:])
    assert order == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert bulkhead.in_flight == 0 and bulkhead.waiting == 0


async def test_in_flight_readout_and_policy_info() -> None:
    bulkhead = Bulkhead(max_concurrent=3)
    policy = Policy("gauged", bulkhead=bulkhead)
    gate = asyncio.Event()

    @policy
    async def work() -> None:
        await gate.wait()

    tasks = [asyncio.ensure_future(work()) for _ in range(2)]
    await asyncio.sleep(0)
    assert policy.info.bulkhead_in_flight is not None and policy.info.bulkhead_capacity is not None
    assert (policy.info.bulkhead_in_flight(), policy.info.bulkhead_capacity()) == (2, 3)
    gate.set()
    await asyncio.gather(*tasks)
    assert policy.info.bulkhead_in_flight() == 0


async def test_rejected_event() -> None:
    events: list[object] = []
    policy = Policy("bh", bulkhead=Bulkhead(max_concurrent=1), hooks=[events.append])

    @policy
    async def work() -> None:
        await asyncio.sleep(1)

    await asyncio.gather(work(), work(), return_exceptions=True)
    assert Rejected("bh", "bulkhead", None) in events


async def test_permits_never_leak_under_10000_random_cancellations() -> None:
    rng = random.Random(20261125)
    bulkhead = Bulkhead(max_concurrent=5, max_wait=0.05)
    running = 0
    peak = 0

    @bulkhead
    async def work(seconds: float) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(seconds)
        finally:
            running -= 1

    async def one() -> None:
        task = asyncio.ensure_future(work(rng.choice([0.0, 0.001, 0.01, 0.02])))
        # cancel at a random point: before it starts, while waiting, while running, after
        await asyncio.sleep(rng.choice([0.0, 0.0005, 0.005, 0.015, 0.03]))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, BulkheadFullError):
            await task

    cancelled = 0
    for _ in range(100):
        batch = [asyncio.ensure_future(one()) for _ in range(100)]
        await asyncio.gather(*batch)
        cancelled += len(batch)
        assert bulkhead.in_flight == 0
        assert bulkhead.waiting == 0
    assert cancelled == 10_000
    assert peak == 5
    # the full capacity is still there
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> None:
        await gate.wait()

    holders = [asyncio.ensure_future(hold()) for _ in range(5)]
    await asyncio.sleep(0)
    assert bulkhead.in_flight == 5
    gate.set()
    await asyncio.gather(*holders)


async def test_slot_handed_to_a_waiter_that_is_cancelled_passes_on() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=10)
    gate = asyncio.Event()

    @bulkhead
    async def work(label: str) -> str:
        await gate.wait()
        return label

    first = asyncio.ensure_future(work("first"))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(work("second"))
    third = asyncio.ensure_future(work("third"))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.sleep(0)  # first finishes and hands its slot to second ...
    second.cancel()  # ... which is cancelled before it can run
    assert await first == "first"
    with pytest.raises(asyncio.CancelledError):
        await second
    assert await third == "third"
    assert bulkhead.in_flight == 0


def test_sync_callers_from_threads() -> None:
    bulkhead = Bulkhead(max_concurrent=2, max_wait=5)
    lock = threading.Lock()
    running = peak = 0

    @bulkhead
    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.002)
        with lock:
            running -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    assert bulkhead.in_flight == 0

    full = Bulkhead(max_concurrent=1)
    entered = threading.Event()
    release = threading.Event()

    @full
    def hold() -> None:
        entered.set()
        release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(5)
    with pytest.raises(BulkheadFullError):
        full(lambda: None)()
    release.set()
    holder.join()


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match="max_concurrent"):
        Bulkhead(max_concurrent=0)
    with pytest.raises(ConfigError, match="max_wait"):
        Bulkhead(max_concurrent=1, max_wait=-1)


async def test_many_waiters_timing_out_together_leave_in_batches() -> None:
    # 2,000 waiters whose max_wait ends at the same instant: refused a batch per loop iteration,
    # so other tasks run in between instead of waiting for all of them.
    bulkhead = Bulkhead(max_concurrent=1, max_wait=1.0)
    gate = asyncio.Event()

    @bulkhead
    async def work() -> None:
        await gate.wait()

    holder = asyncio.ensure_future(work())
    waiters = [asyncio.ensure_future(work()) for _ in range(2000)]
    await asyncio.sleep(0)
    assert bulkhead.waiting == 2000
    seen: list[int] = []

    async def watch() -> None:
        await asyncio.sleep(1.0)
        while bulkhead.waiting:
            seen.append(bulkhead.waiting)
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch())
    results = await asyncio.gather(*waiters, return_exceptions=True)
    await watcher
    assert all(isinstance(r, BulkheadFullError) for r in results)
    assert len(seen) >= 2 and all(0 < n < 2000 for n in seen)  # the watcher ran in between
    assert bulkhead.waiting == 0 and bulkhead.in_flight == 1
    gate.set()
    await holder
    assert bulkhead.in_flight == 0


async def _running_peak(bulkhead: Bulkhead, change: object) -> tuple[int, list[object]]:
    """Start 4 long calls and 10 waiters, apply `change()`, return the peak concurrency."""
    running = peak = 0

    @bulkhead
    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(1)
        running -= 1

    tasks = [asyncio.ensure_future(work()) for _ in range(14)]
    await asyncio.sleep(0.1)
    assert callable(change)
    change()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return peak, results


async def test_resize_up_hands_the_new_slots_to_waiters_and_keeps_the_running_calls() -> None:
    bulkhead = Bulkhead(max_concurrent=4, max_wait=10)
    peak, results = await _running_peak(bulkhead, lambda: bulkhead.resize(max_concurrent=5))
    assert peak == 5  # not 4 + 5: the running calls keep their slots in the same bulkhead
    assert results == [None] * 14
    assert bulkhead.in_flight == 0 and bulkhead.waiting == 0 and bulkhead.capacity == 5


async def test_resize_down_lets_running_calls_finish_and_admits_below_the_new_limit() -> None:
    bulkhead = Bulkhead(max_concurrent=4, max_wait=10)
    admitted: list[float] = []

    def lower() -> None:
        bulkhead.resize(max_concurrent=2)
        assert bulkhead.in_flight == 4  # nobody was cut off

    peak, results = await _running_peak(bulkhead, lower)
    assert peak == 4 and results == [None] * 14
    # 4 ran during [0, 1); afterwards 2 at a time: 10 waiters need 5 more seconds.
    assert now() == pytest.approx(6.0)
    del admitted


async def test_resize_max_wait_cuts_current_waits_that_would_end_later() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=10)

    @bulkhead
    async def work() -> None:
        await asyncio.sleep(100)

    holder = asyncio.ensure_future(work())
    waiter = asyncio.ensure_future(work())
    await asyncio.sleep(1)
    bulkhead.resize(max_wait=2)
    with pytest.raises(BulkheadFullError):
        await waiter
    assert now() == pytest.approx(3.0)  # 1 s waited + the new 2 s, not the old 10 s
    holder.cancel()
    with pytest.raises(ConfigError):
        bulkhead.resize(max_concurrent=0)
    assert bulkhead.capacity == 1 and bulkhead.max_wait == 2.0


@pytest.mark.real_time
async def test_resize_from_another_thread_serves_waiters_on_their_loop() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=5)
    gate = asyncio.Event()

    @bulkhead
    async def work() -> str:
        await gate.wait()
        return "ok"

    holder = asyncio.ensure_future(work())
    waiter = asyncio.ensure_future(work())
    await asyncio.sleep(0)
    thread = threading.Thread(target=bulkhead.resize, kwargs={"max_concurrent": 2})
    thread.start()
    thread.join()
    for _ in range(100):
        if bulkhead.in_flight == 2:
            break
        await asyncio.sleep(0.001)
    assert bulkhead.in_flight == 2 and bulkhead.waiting == 0
    gate.set()
    assert await asyncio.gather(holder, waiter) == ["ok", "ok"]


@pytest.mark.real_time
async def test_a_shorter_max_wait_from_another_thread_cuts_the_current_waits() -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_wait=30)
    gate = asyncio.Event()

    @bulkhead
    async def work() -> None:
        await gate.wait()

    holder = asyncio.ensure_future(work())
    waiter = asyncio.ensure_future(work())
    await asyncio.sleep(0)
    start = time.monotonic()
    thread = threading.Thread(target=bulkhead.resize, kwargs={"max_wait": 0.02})
    thread.start()
    thread.join()
    with pytest.raises(BulkheadFullError):
        await waiter
    assert time.monotonic() - start < 1.0  # not the old 30 s
    assert (bulkhead.capacity, bulkhead.max_wait, bulkhead.in_flight) == (1, 0.02, 1)
    gate.set()
    await holder
    assert bulkhead.in_flight == 0
