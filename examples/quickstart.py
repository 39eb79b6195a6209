"""Quickstart: one decorated call rides out a flaky phase, an outage and the recovery."""

import asyncio
import random

from resilience import CircuitBreaker, Fallback, Policy, Retry

rng = random.Random(6)  # injected failures, reproducible
phase = "flaky"  # flaky: 30% of attempts fail; down: all fail; healthy: none fail
attempts = 0
breaker = CircuitBreaker(
    "inventory",
    failure_rate_threshold=0.6,
    minimum_calls=4,
    window_size=8,
    open_duration=0.3,
    half_open_calls=2,
)
inventory = Policy(
    "inventory",
    retry=Retry(max_attempts=3, wait=0.02),
    timeout=0.2,
    circuit_breaker=breaker,
    fallback=Fallback(lambda exc, sku: f"stock unknown ({type(exc).__name__})"),
)


@inventory
async def stock(sku: str) -> str:
    global attempts
    attempts += 1
    await asyncio.sleep(0.01)
    if phase == "down" or (phase == "flaky" and rng.random() < 0.3):
        raise ConnectionError("inventory service unavailable")
    return "3 in stock"


async def main() -> None:
    global phase, attempts
    print(inventory.describe(), "\n")
    for i, phase in enumerate(["flaky"] * 6 + ["down"] * 5 + ["healthy"] * 5):
        await asyncio.sleep(0.1 if phase == "healthy" else 0.01)
        attempts = 0
        result = await stock(f"sku-{i}")
        print(f"call {i:2} ({phase:7}): {result:33} {attempts} attempt(s), breaker {breaker.state}")


asyncio.run(main())
