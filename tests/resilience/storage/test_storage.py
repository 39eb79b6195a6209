"""Shared state without a Redis server: the optional extra, bad settings, Redis unreachable."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resilience import CircuitOpenError, ConfigError, RateLimitedError, add_hook, remove_hook
from resilience.breaker import CircuitBreaker
from resilience.events import Event, StorageError
from resilience.ratelimiter import RateLimiter
from resilience.storage import BreakerSettings, BreakerStorage, RateLimiterStorage, RedisStorage
from tests.paths import ROOT_DIR
from tests.servers import free_port

ROOT = ROOT_DIR


def test_resilience_imports_and_works_without_the_redis_package() -> None:
    script = """
import sys
sys.modules["redis"] = None  # as if the extra were not installed
import asyncio, resilience, resilience.storage
from resilience.breaker import CircuitBreaker
async def ok():
    return 1
print(asyncio.run(CircuitBreaker("x")(ok)()))
try:
    resilience.storage.RedisStorage
except ImportError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1"
    assert "pip install 'reliability-os[redis]'" in lines[1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": ""}, "url"),
        ({"namespace": ""}, "namespace"),
        ({"sync_interval": 0}, "sync_interval"),
        ({"sync_interval": float("nan")}, "sync_interval"),
        ({"key_ttl": -1}, "key_ttl"),
        ({"timeout": True}, "timeout"),
        ({"max_backoff": "5"}, "max_backoff"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    settings: dict[str, object] = {"url": "redis://127.0.0.1:1/0", **kwargs}
    url = settings.pop("url")
    with pytest.raises(ConfigError, match=f"RedisStorage: {field} expected"):
        RedisStorage(url, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "redis//typo",
        "http://cache:6379/0",
        "redis://cache:port/0",
        "redis://user:s3cr3t@cache:99999/0",
        "redis//user:s3cr3t@cache:6379/0",
        "redis://cache:6379/0?db=x",
    ],
)
def test_a_url_redis_cannot_use_is_refused_at_once_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError, match=r"RedisStorage: url expected a redis://") as info:
        RedisStorage(url)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["redis://cache:6379/0", "rediss://:pw@cache", "unix:///run/redis.sock", "redis://"]
)
def test_urls_redis_accepts_are_accepted(url: str) -> None:
    assert RedisStorage(url).url == url


def test_a_plan_with_a_url_redis_cannot_use_names_the_file_and_field(tmp_path: Path) -> None:
    from resilience.plan import PlanError, load_plan

    plan = {
        "version": 1,
        "system": "s",
        "storage": {"redis": {"url": "redis://user:s3cr3t@cache:port/0"}},
        "mechanisms": {"a": {"circuit_breaker": {}}},
    }
    with pytest.raises(PlanError, match=r"^<plan mapping>: storage\.redis\.url: expected") as info:
        load_plan(plan)
    assert "s3cr3t" not in str(info.value)


async def test_a_shared_rate_limiter_without_a_key_or_policy_is_refused() -> None:
    # Unbound and without key=, its bucket would be "{namespace}:", shared with every other
    # such limiter of every service on the namespace.
    store = RedisStorage(f"redis://127.0.0.1:{free_port()}/0")
    try:
        limiter = RateLimiter(rate_per_second=5, storage=store)
        with pytest.raises(ConfigError, match=r"RateLimiter shared via RedisStorage: key expected"):
            await limiter.acquire()
        named = RateLimiter(rate_per_second=5, storage=store, key="provider")
        await named.acquire()  # Redis unreachable: the local bucket, still under its key
        assert list(store._buckets) == ["provider"]
    finally:
        await store.aclose()


def test_breaker_refuses_a_storage_that_is_not_one() -> None:
    with pytest.raises(ConfigError, match=r"CircuitBreaker\.storage: expected a BreakerStorage"):
        CircuitBreaker("x", storage=object())


def test_redis_storage_keeps_both_storage_contracts() -> None:
    store = RedisStorage("redis://127.0.0.1:1/0", namespace="shop")
    assert isinstance(store, BreakerStorage) and isinstance(store, RateLimiterStorage)
    assert store.key("payments") == "shop:payments"
    assert "redis://" not in store.describe()  # a URL may carry a password


def test_describe_names_the_storage_of_a_shared_breaker_and_storage_error_is_exported() -> None:
    import resilience

    store = RedisStorage("redis://127.0.0.1:1/0", namespace="shop", sync_interval=2)
    shared = CircuitBreaker("payments", storage=store).describe()
    assert shared.endswith(f", storage={store.describe()})")
    assert "RedisStorage(namespace='shop', sync_interval=2s" in shared
    assert "storage" not in CircuitBreaker("payments").describe()
    assert resilience.StorageError is StorageError and "StorageError" in resilience.__all__


def test_open_durations_from_a_growing_function() -> None:
    durations = BreakerSettings.durations_from(lambda n: min(60.0, 5.0 * 2 ** (n - 1)))
    assert durations[:5] == (5.0, 10.0, 20.0, 40.0, 60.0)
    assert durations[-1] == 60.0
    assert BreakerSettings.durations_from(30) == (30.0,)


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("dependency down")


@pytest.mark.real_time
async def test_unreachable_redis_breaker_runs_on_local_state_and_counts_errors() -> None:
    events: list[Event] = []

    def hook(event: Event) -> None:
        if isinstance(event, StorageError):
            events.append(event)

    add_hook(hook)
    # Nothing listens on this loopback port: every connect is refused at once.
    store = RedisStorage(
        f"redis://127.0.0.1:{free_port()}/0", namespace="t", sync_interval=0.02, max_backoff=0.05
    )
    try:
        b = CircuitBreaker(
            "search",
            storage=store,
            minimum_calls=2,
            window_size=2,
            failure_rate_threshold=1.0,
            half_open_calls=1,
            open_duration=0.1,
        )
        guarded, failing = b(ok), b(boom)
        for _ in range(100):
            assert await guarded() == "ok"
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await failing()
        assert b.state == "open"
        with pytest.raises(CircuitOpenError):
            await guarded()
        await asyncio.sleep(0.12)
        assert await guarded() == "ok"  # a local half-open probe
        assert b.state == "closed"
        await asyncio.sleep(0.1)
        assert events and store.errors == len(events)
        errors = [e for e in events if isinstance(e, StorageError)]
        assert {(e.policy, e.backend) for e in errors} == {("search", "redis")}
        assert {e.operation for e in errors} <= {"sync", "trip", "acquire"}
        assert all(isinstance(e, StorageError) and e.error for e in events)
    finally:
        remove_hook(hook)
        await store.aclose()


@pytest.mark.real_time
async def test_unreachable_redis_rate_limit_is_local_and_backs_off() -> None:
    store = RedisStorage(f"redis://127.0.0.1:{free_port()}/0", namespace="t", max_backoff=1.0)
    try:
        limiter = RateLimiter(rate_per_second=1, burst=3, storage=store, key="provider")
        start = time.monotonic()
        granted = 0
        for _ in range(200):
            try:
                await limiter.acquire()
                granted += 1
            except RateLimitedError:
                pass
        assert granted == 3  # the process's own bucket: same burst, same rate
        assert time.monotonic() - start < 0.5
        # Backoff: a dead Redis is tried again after a pause, not on every call.
        assert 1 <= store.round_trips <= 3
        assert not store.available
    finally:
        await store.aclose()


@pytest.mark.real_time
async def test_storage_errors_are_exported_to_prometheus() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from exporters.prometheus import PrometheusHook

    registry = CollectorRegistry()
    hook = PrometheusHook(registry)
    add_hook(hook)
    store = RedisStorage(f"redis://127.0.0.1:{free_port()}/0", namespace="t", max_backoff=1.0)
    try:
        limiter = RateLimiter(rate_per_second=10, storage=store, key="provider")
        await limiter.acquire()
        text = generate_latest(registry).decode()
        assert 'resilience_storage_errors_total{operation="reserve",policy="provider"} 1.0' in text
        lines = [line for line in text.splitlines() if 'policy="provider"' in line]
        assert all(line.startswith("resilience_storage_errors") for line in lines)  # no policy
    finally:
        remove_hook(hook)
        await store.aclose()


class _SlowGrantLink:
    """A BreakerLink whose permits take 1 s (virtual) to be granted; it counts releases."""

    def __init__(self) -> None:
        self.granted = 0
        self.released = 0

    def ensure_started(self) -> None:
        pass

    def state_changed(self, from_state: str, to_state: str) -> None:
        pass

    async def acquire_permit(self) -> bool | None:
        await asyncio.sleep(1.0)
        self.granted += 1
        return True

    def release_permit(self) -> None:
        self.released += 1

    def record(self, failed: bool, slow: bool) -> None:
        pass

    def update_settings(self, settings: BreakerSettings) -> None:
        pass

    def close(self) -> None:
        pass


class _SlowGrantStorage:
    def __init__(self) -> None:
        self.link = _SlowGrantLink()

    def attach(self, name: str, settings: BreakerSettings, breaker: object) -> _SlowGrantLink:
        return self.link


async def test_a_permit_granted_after_its_caller_was_cancelled_goes_back_to_the_fleet() -> None:
    storage = _SlowGrantStorage()
    b = CircuitBreaker("llm", storage=storage, minimum_calls=1, open_duration=5)
    with pytest.raises(ConnectionError):
        await b(boom)()
    await asyncio.sleep(5)
    task = asyncio.create_task(b(ok)())
    await asyncio.sleep(0.5)  # waiting for its permit
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert storage.link.released == 0
    await asyncio.sleep(1.0)  # the grant arrives for nobody
    assert (storage.link.granted, storage.link.released) == (1, 1)
    # A call that keeps its permit does not give it back.
    assert await b(ok)() == "ok"
    assert (storage.link.granted, storage.link.released) == (2, 1)
