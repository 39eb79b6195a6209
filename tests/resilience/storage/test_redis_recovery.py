"""A shared breaker never stays stuck after a Redis blip (real redis-server on loopback).

The blip is real: ``CONFIG SET min-replicas-to-write 1`` on a server without replicas makes every
script that writes fail with NOREPLICAS (nothing is written), exactly as a failing primary would,
until the setting is put back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from resilience import CircuitOpenError
from resilience.breaker import CircuitBreaker
from resilience.storage import RedisStorage
from tests.servers import RedisServer

pytestmark = pytest.mark.integration

SYNC = 0.05


@pytest.fixture
async def admin(redis_srv: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_srv.url)
    yield client
    await client.config_set("min-replicas-to-write", 0)
    await client.aclose()


@pytest.fixture
async def stores(redis_srv: RedisServer) -> AsyncIterator[list[RedisStorage]]:
    namespace = f"r{uuid.uuid4().hex[:8]}"
    made = [
        RedisStorage(
            redis_srv.url, namespace=namespace, sync_interval=SYNC, timeout=1.0, max_backoff=0.05
        )
        for _ in range(2)
    ]
    yield made
    for store in made:
        await store.aclose()


async def writes_fail(admin: Redis, failing: bool) -> None:
    await admin.config_set("min-replicas-to-write", 1 if failing else 0)


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("dependency down")


async def until(predicate: object, within: float) -> None:
    assert callable(predicate)
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            raise AssertionError(f"not true within {within}s")
        await asyncio.sleep(0.005)


async def outcome(breaker: CircuitBreaker) -> str:
    try:
        return await breaker(ok)()
    except CircuitOpenError:
        return "rejected"


async def test_a_trip_redis_refused_is_published_once_redis_is_back(
    admin: Redis, stores: list[RedisStorage]
) -> None:
    a, b = (
        CircuitBreaker(
            "dep", storage=s, minimum_calls=2, window_size=2, open_duration=0.5, half_open_calls=1
        )
        for s in stores
    )
    await asyncio.sleep(SYNC * 3)  # both synced with the fleet (closed)
    await writes_fail(admin, True)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await a(boom)()
    assert a.state == "open"
    await asyncio.sleep(SYNC * 3)  # the trip's publish failed, and its retries too
    assert stores[0].errors > 0 and b.state == "closed"
    await writes_fail(admin, False)
    # The trip was kept until Redis took it: the other instance opens too.
    await until(lambda: b.state == "open", within=SYNC * 6 + 0.2)
    await asyncio.sleep(0.6)  # past open_duration: the dependency has recovered meanwhile
    results = [await outcome(a) for _ in range(3)]
    assert results == ["ok", "ok", "ok"]
    assert a.state == "closed"
    await until(lambda: b.state == "closed", within=SYNC * 6 + 0.2)


async def test_a_local_half_open_finishes_when_redis_comes_back_to_a_closed_fleet(
    admin: Redis, stores: list[RedisStorage]
) -> None:
    # The trip and the open duration both happen while Redis refuses writes: the fleet never
    # heard of the trip and stays closed; the instance went half-open on its own (1 of 2 probes).
    a = CircuitBreaker(
        "dep",
        storage=stores[0],
        minimum_calls=2,
        window_size=2,
        open_duration=0.2,
        half_open_calls=2,
    )
    await asyncio.sleep(SYNC * 3)  # synced with the fleet (closed)
    await writes_fail(admin, True)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await a(boom)()
    await asyncio.sleep(0.25)
    assert await a(ok)() == "ok"  # first probe, decided locally
    assert a.state == "half_open"
    await writes_fail(admin, False)
    await asyncio.sleep(SYNC * 4)  # Redis answers again: the fleet is closed
    results = [await outcome(a) for _ in range(3)]
    assert results == ["ok", "ok", "ok"]
    assert a.state == "closed"
