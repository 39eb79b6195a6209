"""`storage: {redis: {url, namespace, sync_interval}}` in a plan shares its breakers and limits."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from resilience import CircuitBreaker, CircuitOpenError, RateLimitedError
from resilience.plan import PlanError, load_plan
from resilience.storage.redis import RedisStorage
from tests.servers import RedisServer


def plan(url: str, namespace: str, **storage: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "system": "shop",
        "storage": {
            "redis": {"url": url, "namespace": namespace, "sync_interval": "50ms", **storage}
        },
        "mechanisms": {
            "payments": {
                "circuit_breaker": {"minimum_calls": 1, "window_size": 1, "open_duration": "10s"},
            },
            "provider": {"rate_limiter": {"rate_per_second": 1, "burst": 2}},
        },
    }


@pytest.mark.integration
async def test_two_instances_loading_one_plan_share_breaker_and_rate_limit(
    redis_srv: RedisServer,
) -> None:
    spec = plan(redis_srv.url, f"shop{uuid.uuid4().hex[:6]}")
    first, second = load_plan(spec), load_plan(spec)
    try:
        assert isinstance(first.storage, RedisStorage)
        assert first.storage.sync_interval == 0.05
        pay1, pay2 = first.policy("payments"), second.policy("payments")
        api1, api2 = first.policy("provider"), second.policy("provider")

        async def call() -> str:
            return "done"

        outcomes = []
        for api in (api1, api2, api2, api1):
            try:
                outcomes.append(await api(call)())
            except RateLimitedError:
                outcomes.append("limited")
        assert outcomes == ["done", "done", "limited", "limited"]  # one burst of 2 for both

        @pay1
        async def charge_down() -> None:
            raise ConnectionError("payment provider down")

        @pay2
        async def charge() -> str:
            return "charged"

        assert await charge() == "charged"
        with pytest.raises(ConnectionError):
            await charge_down()
        await asyncio.sleep(0.15)
        with pytest.raises(CircuitOpenError):
            await charge()  # opened by the other instance's failure
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.integration
async def test_policies_with_one_key_share_one_bucket_and_max_backoff_reaches_the_storage(
    redis_srv: RedisServer,
) -> None:
    spec = plan(redis_srv.url, f"shop{uuid.uuid4().hex[:6]}", max_backoff="2s")
    limit = {"rate_per_second": 1, "burst": 2, "key": "provider-account"}
    spec["mechanisms"] = {
        "chat": {"rate_limiter": limit},
        "embed": {"rate_limiter": limit},
        "other": {"rate_limiter": {"rate_per_second": 1, "burst": 2}},
    }
    registry = load_plan(spec)
    try:
        assert isinstance(registry.storage, RedisStorage)
        assert registry.storage.max_backoff == 2.0

        async def call() -> str:
            return "done"

        outcomes = []
        for name in ("chat", "embed", "chat", "other"):
            try:
                outcomes.append(await registry.policy(name)(call)())
            except RateLimitedError:
                outcomes.append("limited")
        # chat and embed draw on the provider account's one burst of 2; other has its own
        assert outcomes == ["done", "done", "limited", "done"]
    finally:
        await registry.aclose()


@pytest.mark.integration
async def test_a_reload_gives_the_fleet_new_thresholds(
    redis_srv: RedisServer, tmp_path: Path
) -> None:
    spec = plan(redis_srv.url, f"shop{uuid.uuid4().hex[:6]}")
    spec["mechanisms"]["payments"]["circuit_breaker"] = {"minimum_calls": 6, "window_size": 10}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(spec))
    instances = [load_plan(path), load_plan(path)]
    try:
        policies = [registry.policy("payments") for registry in instances]
        breakers = [policy.circuit_breaker for policy in policies]
        assert all(isinstance(b, CircuitBreaker) for b in breakers)
        spec["mechanisms"]["payments"]["circuit_breaker"]["minimum_calls"] = 2
        path.write_text(yaml.safe_dump(spec))
        for registry in instances:
            registry.reload()
        assert [policy.circuit_breaker for policy in policies] == breakers  # kept: same window

        async def down() -> None:
            raise ConnectionError("payment provider down")

        for policy in policies:  # one failure each: below 2 locally, 2 of 2 for the fleet
            with pytest.raises(ConnectionError):
                await policy(down)()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 2.0
        while not all(getattr(b, "state", None) == "open" for b in breakers):
            assert loop.time() < give_up, [getattr(b, "state", None) for b in breakers]
            await asyncio.sleep(0.02)
    finally:
        for registry in instances:
            await registry.aclose()


def test_storage_section_errors_name_the_field_and_hide_the_url(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan("http://user:secret@cache:6379", "shop")))
    with pytest.raises(PlanError) as info:
        load_plan(path)
    message = str(info.value)
    assert "storage.redis.url: expected a redis://, rediss:// or unix:// URL" in message
    assert "secret" not in message

    path.write_text(yaml.safe_dump(plan("redis://cache:6379/0", "shop", sync_every=1)))
    with pytest.raises(
        PlanError,
        match=r"storage\.redis: unknown key 'sync_every'; expected one "
        r"of: url, namespace, sync_interval, key_ttl, timeout, "
        r"max_backoff",
    ):
        load_plan(path)

    path.write_text(yaml.safe_dump(plan("redis://cache:6379/0", "shop", sync_interval="0s")))
    with pytest.raises(PlanError, match=r"storage\.redis\.sync_interval"):
        load_plan(path)


async def test_storage_cannot_change_on_reload(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan("redis://127.0.0.1:1/0", "shop")))
    registry = load_plan(path)
    try:
        path.write_text(yaml.safe_dump(plan("redis://127.0.0.1:1/0", "other")))
        with pytest.raises(PlanError, match="storage: cannot change on reload"):
            registry.reload()
        assert registry.storage.namespace == "shop"
    finally:
        await registry.aclose()


@pytest.mark.integration
async def test_a_failed_reload_keeps_the_live_breaker_shared(
    redis_srv: RedisServer, tmp_path: Path
) -> None:
    # The bad file changes the breaker's window (a new breaker would be built) and has a hedge
    # that cannot be built: the reload is refused, and the live breaker must still hear the fleet.
    namespace = f"shop{uuid.uuid4().hex[:6]}"
    spec = plan(redis_srv.url, namespace)
    spec["mechanisms"]["payments"]["circuit_breaker"] = {"minimum_calls": 1, "window_size": 5}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(spec))
    registry = load_plan(path)
    other = RedisStorage(redis_srv.url, namespace=namespace, sync_interval=0.05)
    try:
        payments = registry.policy("payments")
        live = payments.circuit_breaker
        bad = yaml.safe_load(yaml.safe_dump(spec))
        bad["mechanisms"]["payments"]["circuit_breaker"]["window_size"] = 3
        bad["mechanisms"]["search"] = {"hedge": {"delay": "p95", "min_samples": 500}}
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(PlanError, match=r"mechanisms\.search\.hedge"):
            registry.reload()
        assert payments.circuit_breaker is live

        async def ok() -> str:
            return "ok"

        async def down() -> None:
            raise ConnectionError("payment provider down")

        assert await payments(ok)() == "ok"
        await asyncio.sleep(0.15)  # synced with the fleet
        elsewhere = CircuitBreaker(
            "payments", storage=other, minimum_calls=1, window_size=5, open_duration=10
        )
        with pytest.raises(ConnectionError):
            await elsewhere(down)()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 1.0
        while getattr(live, "state", None) != "open":
            assert loop.time() < give_up, "the live breaker no longer hears the fleet"
            await asyncio.sleep(0.02)
        with pytest.raises(CircuitOpenError):
            await payments(ok)()
    finally:
        await other.aclose()
        await registry.aclose()


async def test_a_plan_failing_to_build_leaves_no_task_running() -> None:
    spec = plan("redis://127.0.0.1:1/0", "shop")
    spec["mechanisms"]["search"] = {"hedge": {"delay": "p95", "min_samples": 500}}
    before = asyncio.all_tasks()
    with pytest.raises(PlanError, match=r"mechanisms\.search\.hedge"):
        load_plan(spec)
    left = asyncio.all_tasks() - before
    for task in left:
        task.cancel()
    assert [task.get_name() for task in left] == []
