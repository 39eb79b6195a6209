"""How long the event loop is blocked when many bulkhead waiters leave together.

Run: ``.venv/bin/python benchmarks/bulkhead_waiters.py`` (env: SIZES, e.g. ``SIZES=20000,40000``).
For each size N: one call holds the only slot of ``Bulkhead(max_concurrent=1, max_wait=1)`` and N
calls queue behind it. They leave together, either because their `max_wait` runs out (oldest
first) or because their callers' own deadlines (`asyncio.timeout`, 0.5 s after they queued, each
newer waiter's a hair earlier) cancel them newest first. A heartbeat task wakes every 5 ms of real
time on the default asyncio loop; the table shows the longest gap between two beats (how long the
loop could serve nothing else) and the time until every waiter had left. The cyclic garbage
collector is off while a size is measured: its passes over ~10^5 fresh objects add pauses of their
own (tens to hundreds of ms, varying run to run) that hide what the bulkhead costs.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import sys
import time

from resilience import Bulkhead, BulkheadFullError

MAX_WAIT = 1.0
BEAT = 0.005


async def measure(n: int, newest_first: bool) -> tuple[float, float]:
    """(longest loop block, seconds from the waiters' deadline until all had left)."""
    bulkhead = Bulkhead(max_concurrent=1, max_wait=MAX_WAIT)
    hold = asyncio.Event()

    @bulkhead
    async def call() -> None:
        await hold.wait()

    holder = asyncio.create_task(call())
    await asyncio.sleep(0)
    longest = 0.0
    stop = False

    async def heartbeat() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(BEAT)
            now = time.perf_counter()
            longest = max(longest, now - last - BEAT)
            last = now

    loop = asyncio.get_running_loop()
    cut = 0.0  # set once every task exists: they read it when they start

    async def impatient(i: int) -> None:
        async with asyncio.timeout_at(cut - i * 1e-7):  # newer waiters give up first
            await call()

    if newest_first:
        waiters = [asyncio.create_task(impatient(i)) for i in range(n)]
    else:
        waiters = [asyncio.create_task(call()) for _ in range(n)]
    cut = loop.time() + MAX_WAIT / 2
    await asyncio.sleep(0)  # every waiter is queued now
    deadline = time.perf_counter() + (MAX_WAIT / 2 if newest_first else MAX_WAIT)
    beat = asyncio.create_task(heartbeat())
    results = await asyncio.gather(*waiters, return_exceptions=True)
    cleared = time.perf_counter() - deadline
    stop = True
    await beat
    hold.set()
    await holder
    expected = TimeoutError if newest_first else BulkheadFullError
    assert all(isinstance(r, expected) for r in results), "every waiter leaves"
    return longest, cleared


def main() -> None:
    sizes = [int(s) for s in os.environ.get("SIZES", "5000,20000,40000").split(",")]
    print(f"Python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} cores")
    print(f"Bulkhead(max_concurrent=1, max_wait={MAX_WAIT}): N waiters time out together\n")
    print(f"{'waiters':>8}  {'leave':<24}  {'longest loop block':>18}  {'all gone after':>14}")
    for newest_first in (False, True):
        how = "callers cancel, newest 1st" if newest_first else "max_wait runs out"
        for n in sizes:
            gc.collect()
            gc.disable()
            try:
                longest, cleared = asyncio.run(measure(n, newest_first))
            finally:
                gc.enable()
            print(f"{n:>8}  {how:<24}  {longest * 1000:>15.0f} ms  {cleared * 1000:>11.0f} ms")


if __name__ == "__main__":
    main()
