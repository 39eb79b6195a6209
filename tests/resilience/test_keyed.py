"""Keyed breakers (one per host, LRU-bounded) and Envoy-style outlier detection, alone and wired
into the aiohttp client against real servers on loopback."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporters.prometheus import PrometheusHook
from resilience import CircuitOpenError, ConfigError, Policy
from resilience.integrations.aiohttp import resilience_middleware
from resilience.keyed import HostEjectedError, KeyedBreaker, OutlierDetector, call_key_var


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_consecutive_failures_eject_and_the_ejection_time_grows() -> None:
    clock = Clock()
    detector = OutlierDetector(consecutive_5xx=3, base_ejection_time=30, clock=clock)
    for host in ("a", "b", "c"):
        detector.record(host, True)
    for _ in range(2):
        detector.record("a", False)
    assert not detector.is_ejected("a")
    detector.record("a", False)
    assert detector.ejected() == ["a"] and detector.returns_in("a") == 30
    clock.now = 30.0
    assert not detector.is_ejected("a")  # back by itself
    for _ in range(3):
        detector.record("a", False)
    assert detector.returns_in("a") == 60  # second ejection: 2 × base


def test_max_ejection_percent_keeps_hosts_serving_but_one_can_always_go() -> None:
    detector = OutlierDetector(consecutive_5xx=1, max_ejection_percent=50, clock=Clock())
    hosts = ["a", "b", "c", "d"]
    for host in hosts:
        detector.record(host, True)
    for host in hosts:
        detector.record(host, False)
    assert detector.ejected() == ["a", "b"]  # 50 % of 4
    small = OutlierDetector(consecutive_5xx=1, max_ejection_percent=10, clock=Clock())
    for host in ("x", "y"):
        small.record(host, True)
    small.record("x", False)
    small.record("y", False)
    assert small.ejected() == ["x"]  # 10 % of 2 is < 1 host, but one may always be ejected


def test_success_rate_sweep_ejects_the_outlier_of_the_population() -> None:
    clock = Clock()
    detector = OutlierDetector(
        consecutive_5xx=1000, interval=10, success_rate_request_volume=100, clock=clock
    )
    detector.record("h0", True)  # starts the first interval
    for i in range(6):
        for n in range(100):
            # h5 fails every 5th request: 80 % against the others' 99 %.
            detector.record(f"h{i}", not (i == 5 and n % 5 == 0) and n != 0)
    clock.now = 10.0
    assert detector.ejected() == ["h5"]


def test_keyed_breaker_keeps_one_breaker_per_key_and_evicts_the_least_recently_used() -> None:
    keyed = KeyedBreaker("api", max_keys=2, minimum_calls=2, window_size=2)
    policy = Policy("api", circuit_breaker=keyed)

    @policy
    def call(ok: bool) -> str:
        if not ok:
            raise ConnectionError("down")
        return "ok"

    def on(host: str, ok: bool) -> str:
        token = call_key_var.set(host)
        try:
            return call(ok)
        finally:
            call_key_var.reset(token)

    for _ in range(2):
        with pytest.raises(ConnectionError):
            on("bad:80", False)
    with pytest.raises(CircuitOpenError):
        on("bad:80", True)
    assert on("good:80", True) == "ok"  # another host's breaker is closed
    assert keyed.open_keys() == ["bad:80"]
    assert on("third:80", True) == "ok"  # evicts the least recently used key: bad:80
    assert keyed.keys() == ["good:80", "third:80"] and keyed.evictions == 1
    assert on("bad:80", True) == "ok"  # forgotten: starts closed
    with pytest.raises(ConfigError, match=r"KeyedBreaker\.max_keys"):
        KeyedBreaker("api", max_keys=0)


def test_metrics_of_many_keys_stay_bounded() -> None:
    reg = CollectorRegistry()
    keyed = KeyedBreaker("tenants", max_keys=8)
    policy = Policy("tenants", circuit_breaker=keyed, hooks=[PrometheusHook(reg)])

    @policy
    def call() -> None:
        return None

    for i in range(500):
        token = call_key_var.set(f"tenant-{i}")
        call()
        call_key_var.reset(token)
    assert len(keyed.keys()) == 8
    policies = {
        s.labels.get("policy")
        for family in reg.collect()
        for s in family.samples
        if "policy" in s.labels
    }
    assert policies == {"tenants"}


@asynccontextmanager
async def replicas(bad: int, count: int) -> AsyncIterator[tuple[list[str], Counter[str]]]:
    hits: Counter[str] = Counter()
    async with AsyncExitStack() as stack:
        urls: list[str] = []
        for i in range(count):

            async def handle(request: web.Request, i: int = i) -> web.Response:
                hits[f"r{i}"] += 1
                return web.Response(status=500 if i == bad else 200, text=f"r{i}")

            app = web.Application()
            app.router.add_get("/", handle)
            runner = web.AppRunner(app)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            urls.append(f"127.0.0.1:{runner.addresses[0][1]}")
        yield urls, hits


async def test_aiohttp_client_ejects_the_bad_replica_while_the_others_serve() -> None:
    detector = OutlierDetector(consecutive_5xx=5, base_ejection_time=30)
    policy = Policy(
        "replicas", circuit_breaker=KeyedBreaker("replicas", outlier_detection=detector)
    )
    async with (
        replicas(bad=1, count=3) as (hosts, hits),
        aiohttp.ClientSession(middlewares=(resilience_middleware(policy),)) as session,
    ):
        statuses: Counter[int] = Counter()
        for _ in range(60):
            host = detector.choose(hosts)
            async with session.get(f"http://{host}/") as response:
                statuses[response.status] += 1
        assert hits["r1"] == 5  # ejected after 5 consecutive 5xx, never chosen again
        assert hits["r0"] + hits["r2"] == 55 and statuses[200] == 55
        assert detector.ejected() == [hosts[1]]
        # Asking the ejected host directly is refused without a request.
        with pytest.raises(HostEjectedError) as refused:
            await session.get(f"http://{hosts[1]}/")
        assert 0 < (refused.value.retry_after or 0) <= 30
        assert hits["r1"] == 5
        await asyncio.sleep(30)  # virtual time: the ejection ends by itself
        assert not detector.is_ejected(hosts[1])
        async with session.get(f"http://{hosts[1]}/") as response:
            assert response.status == 500


async def test_httpx_transport_ejects_the_bad_replica_while_the_others_serve() -> None:
    import httpx

    from resilience.integrations.httpx import ResilientTransport

    detector = OutlierDetector(consecutive_5xx=3, base_ejection_time=10)
    keyed = KeyedBreaker("replicas", outlier_detection=detector)
    policy = Policy("replicas", circuit_breaker=keyed)
    async with (
        replicas(bad=0, count=3) as (hosts, hits),
        httpx.AsyncClient(transport=ResilientTransport(policy)) as client,
    ):
        served: Counter[int] = Counter()
        for _ in range(40):
            response = await client.get(f"http://{detector.choose(hosts)}/")
            served[response.status_code] += 1
        assert hits["r0"] == 3 and served[200] == 37
        assert sorted(keyed.keys()) == sorted(hosts)  # one breaker per host:port
        with pytest.raises(HostEjectedError):
            await client.get(f"http://{hosts[0]}/")
