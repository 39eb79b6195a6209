"""A real Prometheus scrapes a real aiohttp app on loopback; its HTTP API reports the calls made."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporters.aiohttp import setup
from exporters.health import Readiness
from exporters.prometheus import PrometheusHook
from resilience.breaker import CircuitBreaker
from resilience.policy import Policy
from resilience.retry import Retry
from tests.servers import PrometheusServer, free_port

pytestmark = pytest.mark.integration

# Requests the test sends, by kind: "ok" succeeds at once, "flaky" fails its first attempt and
# succeeds on the retry, "fail" fails both attempts.
SENT = {"ok": 6, "flaky": 3, "fail": 2}
POLICY = web.AppKey("policy", Policy)


def make_app(reg: CollectorRegistry) -> web.Application:
    policy = Policy("ledger", retry=Retry(max_attempts=2, wait=0),
                    breaker=CircuitBreaker("ledger", minimum_calls=1000),
                    hooks=[PrometheusHook(reg, names="both")])
    attempts: dict[str, int] = {}

    @policy
    async def post(request_id: str, kind: str) -> str:
        attempts[request_id] = attempts.get(request_id, 0) + 1
        if kind == "fail" or (kind == "flaky" and attempts[request_id] == 1):
            raise OSError(f"ledger unavailable ({kind})")
        return "posted"

    async def work(request: web.Request) -> web.Response:
        try:
            return web.Response(text=await post(request.query["id"], request.match_info["kind"]))
        except OSError:
            return web.Response(status=503, text="ledger unavailable")

    app = web.Application()
    app.router.add_post("/work/{kind}", work)
    app[POLICY] = policy  # the app owns the policy, as a service would
    setup(app, registry=reg, readiness=Readiness())
    return app


@pytest.fixture
async def app_url() -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    runner = web.AppRunner(make_app(CollectorRegistry()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        await runner.cleanup()


async def query(session: aiohttp.ClientSession, prom: str, promql: str) -> dict[str, float]:
    async with session.get(f"{prom}/api/v1/query", params={"query": promql}) as resp:
        body: dict[str, Any] = await resp.json()
    assert body["status"] == "success", body
    return {"/".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k not in (
        "__name__", "instance", "job")): float(r["value"][1]) for r in body["data"]["result"]}


async def wait_for(session: aiohttp.ClientSession, prom: str, promql: str,
                   expected: dict[str, float]) -> dict[str, float]:
    """Poll Prometheus until `promql` returns `expected` (at most 20 s); the last result."""
    deadline = time.monotonic() + 20.0
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        got = await query(session, prom, promql)
        if got == expected:
            break
        await asyncio.sleep(0.25)
    return got


async def test_prometheus_counts_equal_the_calls_made(app_url: tuple[str, int]) -> None:
    url, port = app_url
    config = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""
    async with aiohttp.ClientSession() as session:
        statuses: list[int] = []
        for kind, n in SENT.items():
            for i in range(n):
                async with session.post(f"{url}/work/{kind}", params={"id": f"{kind}{i}"}) as r:
                    statuses.append(r.status)
        assert statuses.count(200) == SENT["ok"] + SENT["flaky"]
        assert statuses.count(503) == SENT["fail"]

        server = PrometheusServer(config)
        await asyncio.to_thread(server.start)
        try:
            prom = server.url
            calls = await wait_for(session, prom, 'resilience_calls_total{policy="ledger"}', {
                "outcome=failure/policy=ledger": SENT["fail"],
                "outcome=fallback/policy=ledger": 0,
                "outcome=rejected/policy=ledger": 0,
                "outcome=success/policy=ledger": SENT["ok"] + SENT["flaky"]})
            assert calls == {
                "outcome=failure/policy=ledger": SENT["fail"],
                "outcome=fallback/policy=ledger": 0,
                "outcome=rejected/policy=ledger": 0,
                "outcome=success/policy=ledger": SENT["ok"] + SENT["flaky"]}, server.log_tail()

            retries = await query(session, prom, 'resilience_retries_total{policy="ledger"}')
            assert retries == {"policy=ledger": SENT["flaky"] + SENT["fail"]}
            durations = await query(session, prom,
                                    'resilience_call_duration_seconds_count{policy="ledger"}')
            assert durations == {"policy=ledger": sum(SENT.values())}
            state = await query(session, prom,
                                'resilience_circuit_breaker_state{policy="ledger"} == 1')
            assert state == {"policy=ledger/state=closed": 1}

            r4j = await query(session, prom, 'resilience4j_retry_calls_total{name="ledger"}')
            assert r4j == {"kind=failed_with_retry/name=ledger": SENT["fail"],
                           "kind=failed_without_retry/name=ledger": 0,
                           "kind=successful_with_retry/name=ledger": SENT["flaky"],
                           "kind=successful_without_retry/name=ledger": SENT["ok"]}

            http = await query(session, prom, 'http_server_request_duration_seconds_count'
                                              '{http_route="/work/{kind}"}')
            assert http == {
                "http_request_method=POST/http_response_status_code=200/http_route=/work/{kind}":
                    SENT["ok"] + SENT["flaky"],
                "http_request_method=POST/http_response_status_code=503/http_route=/work/{kind}":
                    SENT["fail"]}
            up = await query(session, prom, 'up{job="app"}')
            assert up == {"": 1}
        finally:
            await asyncio.to_thread(server.stop)
