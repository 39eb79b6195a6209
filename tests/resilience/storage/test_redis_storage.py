"""RedisStorage against a real redis-server on loopback: several "instances" in one process.

Each instance is its own `RedisStorage` (its own connections and instance id), exactly as separate
processes would be; tests/resilience/storage/test_redis_fleet.py repeats the key scenarios with
real OS processes.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from resilience import CircuitOpenError, RateLimitedError, add_hook, remove_hook
from resilience.breaker import CircuitBreaker
from resilience.events import StorageError
from resilience.ratelimiter import RateLimiter
from resilience.storage import RedisStorage
from tests.servers import RedisServer

pytestmark = pytest.mark.integration

SYNC = 0.05


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def fleet(redis_srv: RedisServer, namespace: str) -> AsyncIterator[list[RedisStorage]]:
    stores = [
        # timeout 1 s: a busy CI machine must not send an instance to its local state.
        RedisStorage(
            redis_srv.url, namespace=namespace, sync_interval=SYNC, timeout=1.0, max_backoff=0.2
        )
        for _ in range(3)
    ]
    yield stores
    for store in stores:
        await store.aclose()


def breakers(stores: list[RedisStorage], **options: object) -> list[CircuitBreaker]:
    settings: dict[str, object] = {
        "minimum_calls": 4,
        "window_size": 10,
        "half_open_calls": 3,
        "open_duration": 0.3,
    }
    settings.update(options)
    return [CircuitBreaker("payments", storage=s, **settings) for s in stores]  # type: ignore[arg-type]


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("dependency down")


async def until(predicate: object, within: float) -> float:
    """Seconds until `predicate()` holds (polled every 5 ms); fails after `within` seconds."""
    assert callable(predicate)
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            raise AssertionError(f"not true within {within}s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_trip_in_one_instance_opens_all_within_the_sync_interval(
    fleet: list[RedisStorage],
) -> None:
    bs = breakers(fleet)
    await asyncio.sleep(SYNC * 1.5)  # every instance synced once: they know the fleet
    for _ in range(4):
        with pytest.raises(ConnectionError):
            await bs[0](boom)()
    assert bs[0].state == "open"
    waited = await until(lambda: all(b.state == "open" for b in bs), within=1.0)
    assert waited <= SYNC + 0.1  # one interval, plus scheduling slack on a busy machine
    with pytest.raises(CircuitOpenError) as info:
        await bs[2](ok)()
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 0.3


@pytest.mark.parametrize("window_type", ["count", "time"])
async def test_fleet_trips_on_merged_counts_no_instance_could_see(
    fleet: list[RedisStorage], window_type: str
) -> None:
    # minimum_calls 6: each instance sees only 2 failed calls, the fleet sees 6 of 6.
    bs = breakers(fleet, minimum_calls=6, window_type=window_type)
    for b in bs:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await b(boom)()
    assert [b.state for b in bs] == ["closed"] * 3
    await until(lambda: all(b.state == "open" for b in bs), within=4 * SYNC + 0.2)


async def test_half_open_admits_exactly_n_probes_across_instances(
    fleet: list[RedisStorage],
) -> None:
    bs = breakers(fleet, half_open_calls=3)
    for _ in range(4):
        with pytest.raises(ConnectionError):
            await bs[0](boom)()
    await until(lambda: all(b.state == "open" for b in bs), within=1.0)
    await asyncio.sleep(0.35)  # open_duration passed everywhere
    started: list[int] = []

    def probe(i: int) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            started.append(i)
            await asyncio.sleep(0.2)  # still in flight while every other attempt asks
            return "ok"

        return call

    attempts = [b(probe(i))() for i, b in enumerate(bs) for _ in range(10)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert len(started) == 3
    assert sum(r == "ok" for r in results) == 3
    assert all(isinstance(r, CircuitOpenError) for r in results if r != "ok")
    # The 3 successful probes closed the fleet: every instance closes.
    await until(lambda: all(b.state == "closed" for b in bs), within=4 * SYNC + 0.2)


async def test_failed_probe_reopens_every_instance(fleet: list[RedisStorage]) -> None:
    bs = breakers(fleet, half_open_calls=2, minimum_calls=2)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await bs[0](boom)()
    await until(lambda: all(b.state == "open" for b in bs), within=1.0)
    await asyncio.sleep(0.35)
    for b in bs[1:]:
        with pytest.raises(ConnectionError):
            await b(boom)()
    await until(lambda: all(b.state == "open" for b in bs), within=4 * SYNC + 0.2)
    with pytest.raises(CircuitOpenError) as info:
        await bs[0](ok)()
    assert info.value.retry_after is not None and info.value.retry_after > 0.1


async def test_cancelled_probe_gives_its_permit_back_to_the_fleet(
    fleet: list[RedisStorage],
) -> None:
    bs = breakers(fleet, half_open_calls=1, minimum_calls=1)
    with pytest.raises(ConnectionError):
        await bs[0](boom)()
    await until(lambda: all(b.state == "open" for b in bs), within=1.0)
    await asyncio.sleep(0.35)

    async def hang() -> str:
        await asyncio.sleep(10)
        return "never"

    task = asyncio.create_task(bs[1](hang)())
    await asyncio.sleep(0.05)  # it holds the only permit
    with pytest.raises(CircuitOpenError):
        await bs[2](ok)()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # the release reached Redis
    assert await bs[2](ok)() == "ok"


async def test_successful_closed_calls_make_no_round_trip(
    redis_srv: RedisServer, namespace: str
) -> None:
    store = RedisStorage(redis_srv.url, namespace=namespace, sync_interval=5.0)
    try:
        guarded = CircuitBreaker("search", storage=store)(ok)
        for _ in range(1000):
            await guarded()
        assert store.round_trips == 0
    finally:
        await store.aclose()


async def test_keys_are_namespaced_and_expire(redis_srv: RedisServer, namespace: str) -> None:
    from redis.asyncio import Redis

    a = RedisStorage(redis_srv.url, namespace=namespace, sync_interval=SYNC, key_ttl=30)
    b = RedisStorage(redis_srv.url, namespace=namespace + "x", sync_interval=SYNC, key_ttl=30)
    client = Redis.from_url(redis_srv.url)
    try:
        ba, bb = CircuitBreaker("llm", storage=a, minimum_calls=1), CircuitBreaker("llm", storage=b)
        with pytest.raises(ConnectionError):
            await ba(boom)()
        await asyncio.sleep(SYNC * 3)
        assert ba.state == "open" and bb.state == "closed"  # other namespace: other breaker
        found = await client.keys(f"{namespace}*")
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
        assert keys == [f"{namespace}:llm", f"{namespace}x:llm"]
        ttl = await client.ttl(f"{namespace}:llm")
        assert 0 < ttl <= 30 + 60  # key_ttl plus the open duration still to run
        assert (await client.hget(f"{namespace}:llm", "state")) == b"open"
    finally:
        await client.aclose()
        await a.aclose()
        await b.aclose()


async def test_shared_token_bucket_limits_the_fleet_not_each_instance(
    fleet: list[RedisStorage],
) -> None:
    limiters = [RateLimiter(rate_per_second=2, burst=5, storage=s, key="provider") for s in fleet]
    granted = refused = 0
    for _ in range(4):
        for limiter in limiters:
            try:
                await limiter.acquire()
                granted += 1
            except RateLimitedError as exc:
                refused += 1
                assert exc.retry_after is not None and 0 < exc.retry_after <= 0.5
    assert (granted, refused) == (5, 7)  # one burst for the fleet, not 3 × 5
    await asyncio.sleep(0.55)  # 2/s: one more token
    outcomes = []
    for limiter in limiters:
        try:
            await limiter.acquire()
            outcomes.append(True)
        except RateLimitedError:
            outcomes.append(False)
    assert outcomes.count(True) == 1


async def test_reservation_within_max_wait_spaces_the_fleet_at_the_rate(
    fleet: list[RedisStorage],
) -> None:
    limiters = [
        RateLimiter(rate_per_second=20, burst=1, max_wait=1.0, storage=s, key="embeddings")
        for s in fleet
    ]
    start = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for limiter in limiters for _ in range(3)))
    elapsed = time.monotonic() - start
    # 9 tokens, 1 in the bucket: the 9th waits 8 / 20 s whichever instance asked.
    assert 0.37 <= elapsed <= 0.6


async def test_a_hung_redis_fails_no_call_and_once_noticed_delays_none(namespace: str) -> None:
    server = RedisServer().start()
    events: list[StorageError] = []

    def hook(event: object) -> None:
        if isinstance(event, StorageError):
            events.append(event)

    add_hook(hook)
    store = RedisStorage(
        server.url, namespace=namespace, sync_interval=SYNC, timeout=0.05, max_backoff=0.1
    )
    try:
        b = CircuitBreaker(
            "llm", storage=store, minimum_calls=1, half_open_calls=1, open_duration=0.05
        )
        limiter = RateLimiter(rate_per_second=1000, burst=1000, storage=store, key="llm")
        await asyncio.sleep(SYNC * 2)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)  # Redis hangs: accepts nothing, answers nothing
        await asyncio.sleep(SYNC * 3)  # the sync noticed
        start = time.monotonic()
        for _ in range(50):
            assert await b(ok)() == "ok"
            await limiter.acquire()
        assert time.monotonic() - start < 0.2  # the calls did not wait for Redis
        # A trip and a probe while Redis hangs: local state decides, no Redis error escapes.
        with pytest.raises(ConnectionError):
            await b(boom)()
        await asyncio.sleep(0.06)
        assert await b(ok)() == "ok"
        assert b.state == "closed"
        assert events and {e.backend for e in events} == {"redis"}
        assert all(e.policy == "llm" and e.error for e in events)
        assert store.errors == len(events)
    finally:
        if server.proc is not None:
            server.proc.send_signal(signal.SIGCONT)
        remove_hook(hook)
        await store.aclose()
        server.stop()


async def test_new_thresholds_reach_the_fleet_decision(fleet: list[RedisStorage]) -> None:
    # minimum_calls 6 fleet-wide; then lowered to 2 (as a plan reload does): 2 failures now trip.
    bs = breakers(fleet, minimum_calls=6, window_size=10)
    for b in bs:
        b.reconfigure(minimum_calls=2)
    with pytest.raises(ConnectionError):
        await bs[0](boom)()
    with pytest.raises(ConnectionError):
        await bs[1](boom)()
    await until(lambda: all(b.state == "open" for b in bs), within=4 * SYNC + 0.2)


def test_a_breaker_built_before_the_loop_still_hears_about_fleet_trips(
    redis_srv: RedisServer, namespace: str
) -> None:
    # As with a plan loaded at import time: no running loop when the breaker is built.
    quiet_store = RedisStorage(redis_srv.url, namespace=namespace, sync_interval=SYNC)
    quiet = CircuitBreaker("search", storage=quiet_store, minimum_calls=1)

    async def scenario() -> list[str]:
        loud_store = RedisStorage(redis_srv.url, namespace=namespace, sync_interval=SYNC)
        loud = CircuitBreaker("search", storage=loud_store, minimum_calls=1)
        try:
            assert await quiet(ok)() == "ok"  # the only thing this instance ever does: succeed
            await asyncio.sleep(SYNC * 2)
            with pytest.raises(ConnectionError):
                await loud(boom)()
            await until(lambda: quiet.state == "open", within=4 * SYNC + 0.2)
            return [quiet.state, loud.state]
        finally:
            await loud_store.aclose()
            await quiet_store.aclose()

    assert asyncio.run(scenario()) == ["open", "open"]
