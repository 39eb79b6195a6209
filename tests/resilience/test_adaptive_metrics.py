"""The adaptive limit as a Prometheus gauge, and its rejections counted by mechanism."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporters.prometheus import PrometheusHook
from resilience import AIMD, AdaptiveLimiter, Criticality, LimitExceededError, Policy, criticality


async def test_limit_gauge_follows_the_limiter_and_shedding_is_counted() -> None:
    reg = CollectorRegistry()
    limiter = AdaptiveLimiter(algorithm=AIMD(), initial_limit=4, max_limit=8, sample_window=1)
    policy = Policy("search", adaptive_limiter=limiter, hooks=[PrometheusHook(reg)])

    def sample(name: str, **labels: str) -> float | None:
        return reg.get_sample_value(name, {"policy": "search", **labels})

    assert sample("resilience_adaptive_limit") == 4
    assert sample("resilience_rejections_total", mechanism="adaptive_limiter") == 0
    assert sample("resilience_rejections_total", mechanism="load_shedder") == 0
    gate = asyncio.Event()

    @policy
    async def work() -> None:
        await gate.wait()

    held = [asyncio.create_task(work()) for _ in range(2)]  # the sheddable share: 0.5 × 4
    await asyncio.sleep(0)
    with criticality(Criticality.SHEDDABLE), pytest.raises(LimitExceededError):
        await work()
    with criticality(Criticality.CRITICAL):
        held += [asyncio.create_task(work()) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(LimitExceededError):
            await work()
    gate.set()
    await asyncio.gather(*held)
    assert sample("resilience_rejections_total", mechanism="load_shedder") == 1
    assert sample("resilience_rejections_total", mechanism="adaptive_limiter") == 1
    # Four samples; the calls that started 2nd, 3rd and 4th had at least half the limit in use,
    # so AIMD added one for each: 4 → 7, read at scrape time.
    assert limiter.limit == 7
    assert sample("resilience_adaptive_limit") == 7
    text = generate_latest(reg).decode()
    assert 'resilience_adaptive_limit{policy="search"} 7.0' in text
