"""Load shedding by criticality: at 2× overload critical requests are kept and sheddable ones
absorb the shedding, in simulation and through a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from resilience import AIMD, AdaptiveLimiter, ConfigError, Criticality, criticality
from resilience.adaptive import LimitAlgorithm
from resilience.integrations.aiohttp_server import limit_middleware
from resilience.shedding import Shares, criticality_var, parse_criticality
from tests.limiter_sim import simulate

MIX = {Criticality.CRITICAL: 0.2, Criticality.DEFAULT: 0.5, Criticality.SHEDDABLE: 0.3}


def success_rates(algorithm: str | LimitAlgorithm) -> dict[Criticality, float]:
    limiter = AdaptiveLimiter(algorithm=algorithm)  # type: ignore[arg-type]
    # 50 servers × 0.1 s = 500 requests/s of capacity; 1 000 arrive: 2× overload.
    result = simulate(limiter, duration=60, rate=1000, servers=[(0, 50)], mix=MIX)
    windows = result.between(10, 60)
    rates = {}
    for level in Criticality:
        admitted = sum(w.admitted[level] for w in windows)
        refused = sum(w.refused[level] for w in windows)
        rates[level] = admitted / (admitted + refused)
    return rates


@pytest.mark.parametrize(
    "algorithm",
    ["vegas", "gradient2", AIMD(latency_threshold=0.12)],
    ids=["vegas", "gradient2", "aimd"],
)
def test_at_twice_the_capacity_critical_requests_succeed_and_sheddable_ones_are_shed(
    algorithm: str | LimitAlgorithm,
) -> None:
    rates = success_rates(algorithm)
    assert rates[Criticality.CRITICAL] >= 0.99
    # Capacity left after critical (20 % of 1 000/s = 200/s) is 300/s: default gets it.
    assert 0.5 <= rates[Criticality.DEFAULT] <= 0.7
    assert rates[Criticality.SHEDDABLE] <= 0.02


def test_parse_criticality_defaults_unknown_values_and_strict_refuses() -> None:
    assert parse_criticality(" Critical ") is Criticality.CRITICAL
    assert parse_criticality(None) is Criticality.DEFAULT
    assert parse_criticality("platinum") is Criticality.DEFAULT
    with pytest.raises(ConfigError, match="criticality: expected one of critical, default"):
        parse_criticality("platinum", strict=True)
    with pytest.raises(ConfigError, match=r"Shares.sheddable \(0.95\) must not exceed"):
        Shares(sheddable=0.95)
    with criticality("sheddable"):
        assert criticality_var.get() is Criticality.SHEDDABLE
    assert criticality_var.get() is Criticality.DEFAULT


def test_shares_order_the_refusals() -> None:
    limiter = AdaptiveLimiter(initial_limit=10, max_limit=10)
    taken: Counter[Criticality] = Counter()
    for level in (Criticality.SHEDDABLE, Criticality.DEFAULT, Criticality.CRITICAL):
        while limiter.try_acquire(level):
            taken[level] += 1
    assert taken == {Criticality.SHEDDABLE: 5, Criticality.DEFAULT: 4, Criticality.CRITICAL: 1}


@asynccontextmanager
async def serve(limiter: AdaptiveLimiter, gate: asyncio.Event) -> AsyncIterator[str]:
    seen: list[str] = []

    async def work(request: web.Request) -> web.Response:
        seen.append(criticality_var.get().value)
        await gate.wait()
        return web.Response(text=criticality_var.get().value)

    app = web.Application(middlewares=[limit_middleware(limiter)])
    app.router.add_get("/work", work)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/work"
    finally:
        await runner.cleanup()


async def until(check: Callable[[], bool]) -> None:
    """Poll `check` (bounded: 5 virtual seconds) while the server serves on real sockets."""
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_aiohttp_server_sheds_sheddable_requests_with_503_and_retry_after() -> None:
    limiter = AdaptiveLimiter(initial_limit=4, max_limit=4, retry_after=2.0)
    gate = asyncio.Event()
    async with serve(limiter, gate) as url, aiohttp.ClientSession() as session:

        async def get(level: str) -> tuple[int, str, str | None]:
            async with session.get(url, headers={"X-Request-Criticality": level}) as r:
                return r.status, await r.text(), r.headers.get("Retry-After")

        # Two sheddable requests fill the sheddable share (0.5 × 4).
        held = [asyncio.create_task(get("sheddable")) for _ in range(2)]
        await until(lambda: limiter.in_flight == 2)
        status, text, retry_after = await get("sheddable")
        assert (status, retry_after) == (503, "2")
        assert "load shed" in text and "criticality sheddable" in text
        # A critical request still gets in.
        critical = asyncio.create_task(get("critical"))
        await until(lambda: limiter.in_flight == 3)
        gate.set()
        assert await critical == (200, "critical", None)
        assert [r[:2] for r in await asyncio.gather(*held)] == [(200, "sheddable")] * 2
    assert limiter.in_flight == 0
