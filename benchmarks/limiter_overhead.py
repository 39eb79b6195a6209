"""Per-call overhead of the `AdaptiveLimiter`, side by side with a static `Bulkhead`.

Run: ``.venv/bin/python benchmarks/limiter_overhead.py`` (env: N calls per round, ROUNDS). Each
case awaits a decorated ``async def f(): return 1`` N times on the default asyncio loop after a
warm-up; rounds are interleaved across cases; the table shows the median round in µs per call,
the same minus the bare ``await``, and for the policy rows the cost of the one layer: minus
``Policy()`` with no layers (the decorator's own cost, the same for every mechanism). The by-hand
row times ``try_acquire()`` + ``release(rtt)`` (what a server middleware or a simulation pays).

Rounds are timed in CPU time of the benchmark's thread (no I/O happens, so that is the work done,
whatever else a shared machine runs meanwhile), as in ``benchmarks/http_overhead.py``.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from resilience import AIMD, AdaptiveLimiter, Bulkhead, Gradient2, Policy, Vegas

Body = Callable[[], Awaitable[object]]


async def f() -> int:
    return 1


def cases() -> list[tuple[str, Body]]:
    """(name, coroutine function) per row; the first is the baseline."""
    return [
        ("bare await f()", f),
        ("Bulkhead(max_concurrent=100)", Bulkhead(max_concurrent=100)(f)),
        ("AdaptiveLimiter(vegas, max_limit=100)", AdaptiveLimiter(max_limit=100)(f)),
        (
            "AdaptiveLimiter(gradient2, max_limit=100)",
            AdaptiveLimiter(algorithm=Gradient2(), max_limit=100)(f),
        ),
        (
            "AdaptiveLimiter(aimd, max_limit=100)",
            AdaptiveLimiter(algorithm=AIMD(), max_limit=100)(f),
        ),
        ("Policy() (no layers)", Policy("empty")(f)),
        ("Policy(bulkhead=...)", Policy("b", bulkhead=Bulkhead(max_concurrent=100))(f)),
        (
            "Policy(adaptive_limiter=AdaptiveLimiter(vegas))",
            Policy("a", adaptive_limiter=AdaptiveLimiter())(f),
        ),
        (
            "Policy(adaptive_limiter=AdaptiveLimiter(gradient2))",
            Policy("g", adaptive_limiter=AdaptiveLimiter(algorithm=Gradient2()))(f),
        ),
        (
            "Policy(adaptive_limiter=AdaptiveLimiter(aimd))",
            Policy("m", adaptive_limiter=AdaptiveLimiter(algorithm=AIMD()))(f),
        ),
    ]


async def _time(body: Body, n: int) -> float:
    start = time.thread_time()
    for _ in range(n):
        await body()
    return (time.thread_time() - start) / n * 1e6


def _by_hand(n: int) -> float:
    limiter = AdaptiveLimiter(algorithm=Vegas(), max_limit=100)
    acquire, release = limiter.try_acquire, limiter.release
    start = time.thread_time()
    for _ in range(n):
        if acquire():
            release(0.001)
    return (time.thread_time() - start) / n * 1e6


async def measure(n: int, rounds: int) -> dict[str, list[float]]:
    """µs per call of each case, one entry per round."""
    rows = cases()
    results: dict[str, list[float]] = {name: [] for name, _ in rows}
    results["by hand: try_acquire() + release(rtt)"] = []
    for _ in range(rounds):
        for name, body in rows:
            await _time(body, min(2000, n))
            results[name].append(await _time(body, n))
        results["by hand: try_acquire() + release(rtt)"].append(_by_hand(n))
    return results


def main() -> None:
    """Run every case and print the table."""
    n = int(os.environ.get("N", "30000"))
    rounds = int(os.environ.get("ROUNDS", "5"))
    results = asyncio.run(measure(n, rounds))
    median = {name: statistics.median(v) for name, v in results.items()}
    bare = median["bare await f()"]
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{n} calls × {rounds} rounds per case"
    )
    print()
    empty = median["Policy() (no layers)"]
    print("| case | µs per call (median) | minus bare await | the layer (minus `Policy()`) |")
    print("|---|---:|---:|---:|")
    for name, us in median.items():
        extra = us if name.startswith("by hand") else us - bare
        layer = f"{us - empty:.2f}" if name.startswith("Policy(") and us is not empty else ""
        print(f"| {name} | {us:.2f} | {extra:.2f} | {layer} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
