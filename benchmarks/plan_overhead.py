"""Per-call cost of a policy loaded from a plan, of RateLimiter and of Hedge (successful calls).

Run: ``.venv/bin/python benchmarks/plan_overhead.py`` (env: N calls per round, ROUNDS). Shows the
median round in µs per call minus a bare ``await``. The interesting rows: a `plan.policy(...)`
costs the same as the `Policy` built by hand (its reload indirection is one attribute read), a
rate limiter adds a token-bucket update, and a hedge adds one task per call.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable

from resilience import Bulkhead, CircuitBreaker, Policy, RateLimiter, Retry, load_plan

N = int(os.environ.get("N", "20000"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))


async def _work() -> int:
    return 1


async def _per_call(fn: Callable[[], Awaitable[int]], n: int) -> float:
    for _ in range(200):  # warm up
        await fn()
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)


async def main() -> None:
    """Print the table."""
    mechanisms = {
        "circuit_breaker": {},
        "retry": {},
        "timeout": 1,
        "bulkhead": {"max_concurrent": 100},
    }
    plan = load_plan(
        {
            "version": 1,
            "system": "bench",
            "mechanisms": {
                "plain": mechanisms,
                "limited": {**mechanisms, "rate_limiter": {"rate_per_second": 1e9}},
                "hedged": {**mechanisms, "hedge": {"delay": 1}},
            },
        }
    )
    by_hand = Policy(
        "by-hand",
        circuit_breaker=CircuitBreaker("by-hand"),
        retry=Retry(),
        timeout=1.0,
        bulkhead=Bulkhead(max_concurrent=100),
    )
    cases: list[tuple[str, Callable[[], Awaitable[int]], int]] = [
        ("Policy by hand (breaker+retry+timeout+bulkhead)", by_hand(_work), N),
        ("plan.policy, the same mechanisms", plan.policy("plain")(_work), N),
        ("plan.policy + RateLimiter", plan.policy("limited")(_work), N),
        ("plan.policy + Hedge(delay=1s), not triggered", plan.policy("hedged")(_work), N // 4),
        ("RateLimiter alone", RateLimiter(rate_per_second=1e9)(_work), N),
    ]
    bare = await _per_call(_work, N)
    print(f"{'case':52} {'µs/call':>8}   (bare await {bare:.2f} µs subtracted)")
    for name, fn, n in cases:
        print(f"{name:52} {await _per_call(fn, n) - bare:8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
