"""Per-call overhead of a successful call: our mechanisms side by side with the peer libraries.

Run: ``.venv/bin/python benchmarks/overhead.py`` (env: N calls per round, ROUNDS). Each case is
an ``async def`` body awaited N times in a loop on the default asyncio loop, after a warm-up; the
rounds are interleaved across cases to spread noise, and the table shows the median round in µs
per call, the same minus the bare ``await``, and the ratio to tenacity ``@retry``.

To add a row (e.g. the exporters' "full Policy + Prometheus hook"), append a `Case` to the list
that `cases()` returns; a case's `make()` returns the coroutine function to await.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import circuitbreaker
import pybreaker
import stamina
import tenacity

from resilience import Bulkhead, CircuitBreaker, Policy, Retry, Timeout

Body = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Case:
    """One row of the table: `make()` builds the coroutine function to await once per call."""

    name: str
    make: Callable[[], Body]
    ours: bool = False


async def f() -> int:
    return 1


def _tenacity() -> Body:
    return tenacity.retry(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_exponential_jitter(),
        retry=tenacity.retry_if_exception_type(ConnectionError),
        reraise=True,
    )(f)


def _stamina() -> Body:
    stamina.instrumentation.set_on_retry_hooks([])
    return stamina.retry(on=ConnectionError, attempts=3)(f)


def _pybreaker() -> Body:
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)

    async def body() -> int:
        with breaker.calling():
            return await f()

    return body


def _circuitbreaker() -> Body:
    return circuitbreaker.circuit(failure_threshold=5, recovery_timeout=30, name="bench")(f)  # type: ignore[no-any-return]


def _full_policy() -> Body:
    policy = Policy(
        "bench",
        circuit_breaker=CircuitBreaker("bench"),
        retry=Retry(max_attempts=3),
        timeout=Timeout(1.0),
        bulkhead=Bulkhead(max_concurrent=100),
    )
    return policy(f)


def _full_policy_prometheus() -> Body:
    from prometheus_client import CollectorRegistry

    from exporters import PrometheusHook

    policy = Policy(
        "bench",
        circuit_breaker=CircuitBreaker("bench"),
        retry=Retry(max_attempts=3),
        timeout=Timeout(1.0),
        bulkhead=Bulkhead(max_concurrent=100),
        hooks=[PrometheusHook(CollectorRegistry())],
    )
    return policy(f)


def cases() -> list[Case]:
    """Every row, in table order."""
    return [
        Case("bare await f()", lambda: f),
        Case("tenacity @retry (stop=3, wait_exponential_jitter)", _tenacity),
        Case("stamina @retry(attempts=3)", _stamina),
        Case("pybreaker calling()", _pybreaker),
        Case("circuitbreaker @circuit", _circuitbreaker),
        Case("ours: Retry(max_attempts=3)", lambda: Retry(max_attempts=3)(f), ours=True),
        Case("ours: CircuitBreaker", lambda: CircuitBreaker("bench")(f), ours=True),
        Case("ours: Timeout(1.0)", lambda: Timeout(1.0)(f), ours=True),
        Case("ours: full Policy (breaker+retry+timeout+bulkhead)", _full_policy, ours=True),
        Case("ours: full Policy + Prometheus hook", _full_policy_prometheus, ours=True),
    ]


async def _time(body: Body, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await body()
    return (time.perf_counter() - start) / n * 1e6


async def measure(rows: list[Case], n: int, rounds: int) -> dict[str, list[float]]:
    """µs per call of each case, one entry per round."""
    bodies = {case.name: case.make() for case in rows}
    results: dict[str, list[float]] = {case.name: [] for case in rows}
    for _ in range(rounds):
        for case in rows:
            body = bodies[case.name]
            await _time(body, min(2000, n))  # warm-up
            results[case.name].append(await _time(body, n))
    return results


def render(rows: list[Case], results: dict[str, list[float]]) -> str:
    """The side-by-side table (markdown)."""
    median = {name: statistics.median(values) for name, values in results.items()}
    bare = median[rows[0].name]
    tenacity_us = median[rows[1].name]
    lines = [
        "| case | µs per call (median) | minus bare await | × tenacity |",
        "|---|---:|---:|---:|",
    ]
    for case in rows:
        us = median[case.name]
        name = f"**{case.name}**" if case.ours else case.name
        lines.append(f"| {name} | {us:.2f} | {us - bare:.2f} | {us / tenacity_us:.3f} |")
    return "\n".join(lines)


def main() -> None:
    """Run every case and print the table."""
    warnings.filterwarnings("ignore")
    n = int(os.environ.get("N", "30000"))
    rounds = int(os.environ.get("ROUNDS", "5"))
    rows = cases()
    results = asyncio.run(measure(rows, n, rounds))
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{n} calls × {rounds} rounds per case; successful calls of `async def f(): return 1`"
    )
    print()
    print(render(rows, results))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
