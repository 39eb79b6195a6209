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
from resilience import CircuitBreaker, CircuitOpenError, Fallback, Policy, Retry
from tests.servers import PrometheusServer, free_port

pytestmark = pytest.mark.integration

# Requests the test sends to /ledger/{kind}: "ok" succeeds at once, "flaky" fails its first
# attempt and succeeds on the retry, "fail" fails both attempts.
LEDGER = {"ok": 6, "flaky": 3, "fail": 2}
# /quote always fails: the first QUOTE_TRIP calls trip the breaker of the critical "quotes"
# policy, the next QUOTE_REJECTED are refused by it. /price always fails and its fallback serves.
QUOTE_TRIP, QUOTE_REJECTED, PRICE = 2, 3, 4
POLICIES = web.AppKey("policies", list)


def make_app(reg: CollectorRegistry) -> web.Application:
    hook = PrometheusHook(reg, names="both")
    readiness = Readiness()
    ledger = Policy(
        "ledger",
        retry=Retry(max_attempts=2, wait=0),
        circuit_breaker=CircuitBreaker("ledger", minimum_calls=1000),
        hooks=[hook],
    )
    quotes = Policy(
        "quotes",
        circuit_breaker=CircuitBreaker(
            "quotes", minimum_calls=QUOTE_TRIP, window_size=QUOTE_TRIP, open_duration=600
        ),
        critical=True,
        hooks=[hook, readiness],
    )
    prices = Policy("prices", fallback=Fallback(lambda exc: "list price"), hooks=[hook])
    attempts: dict[str, int] = {}

    @ledger
    async def post(request_id: str, kind: str) -> str:
        attempts[request_id] = attempts.get(request_id, 0) + 1
        if kind == "fail" or (kind == "flaky" and attempts[request_id] == 1):
            raise OSError(f"ledger unavailable ({kind})")
        return "posted"

    @quotes
    async def quote() -> str:
        raise OSError("quotes down")

    @prices
    async def price() -> str:
        raise OSError("prices down")

    async def ledger_handler(request: web.Request) -> web.Response:
        try:
            return web.Response(text=await post(request.query["id"], request.match_info["kind"]))
        except OSError:
            return web.Response(status=503, text="ledger unavailable")

    async def quote_handler(request: web.Request) -> web.Response:
        try:
            return web.Response(text=await quote())
        except CircuitOpenError:
            return web.Response(status=503, text="quotes circuit open")
        except OSError:
            return web.Response(status=502, text="quotes failed")

    async def price_handler(request: web.Request) -> web.Response:
        return web.Response(text=await price())

    app = web.Application()
    app.router.add_post("/ledger/{kind}", ledger_handler)
    app.router.add_get("/quote", quote_handler)
    app.router.add_get("/price", price_handler)
    app[POLICIES] = [ledger, quotes, prices]  # the app owns its policies, as a service would
    setup(app, registry=reg, readiness=readiness)
    return app


@pytest.fixture
async def app_url() -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    app = make_app(CollectorRegistry())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        await runner.cleanup()
        # aiohttp caches handlers per application (an lru_cache), so these policies outlive the
        # test: close the open critical breaker, or a later process-wide readiness check fails.
        for policy in app[POLICIES]:
            if isinstance(policy.circuit_breaker, CircuitBreaker):
                policy.circuit_breaker.reset()


async def query(session: aiohttp.ClientSession, prom: str, promql: str) -> dict[str, float]:
    async with session.get(f"{prom}/api/v1/query", params={"query": promql}) as resp:
        body: dict[str, Any] = await resp.json()
    assert body["status"] == "success", body
    return {
        "/".join(
            f"{k}={v}"
            for k, v in sorted(r["metric"].items())
            if k not in ("__name__", "instance", "job")
        ): float(r["value"][1])
        for r in body["data"]["result"]
    }


async def wait_for(
    session: aiohttp.ClientSession, prom: str, promql: str, expected: dict[str, float]
) -> dict[str, float]:
    """Poll Prometheus until `promql` returns `expected` (at most 20 s); the last result."""
    deadline = time.monotonic() + 20.0
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        got = await query(session, prom, promql)
        if got == expected:
            break
        await asyncio.sleep(0.25)
    return got


async def send(
    session: aiohttp.ClientSession, method: str, url: str, n: int, tag: str = ""
) -> list[int]:
    """Send `n` requests (ids tag0, tag1, ...); their statuses."""
    statuses = []
    for i in range(n):
        async with session.request(method, url, params={"id": f"{tag}{i}"}) as resp:
            statuses.append(resp.status)
    return statuses


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
        for kind, n in LEDGER.items():
            expected = 503 if kind == "fail" else 200
            assert await send(session, "POST", f"{url}/ledger/{kind}", n, kind) == [expected] * n
        assert await send(session, "GET", f"{url}/quote", QUOTE_TRIP + QUOTE_REJECTED) == (
            [502] * QUOTE_TRIP + [503] * QUOTE_REJECTED
        )
        assert await send(session, "GET", f"{url}/price", PRICE) == [200] * PRICE
        async with session.get(f"{url}/readyz") as resp:
            assert resp.status == 503  # the critical quotes breaker is open

        server = PrometheusServer(config)
        await asyncio.to_thread(server.start)
        try:
            prom = server.url
            want: dict[str, float] = {
                "outcome=success/policy=ledger": LEDGER["ok"] + LEDGER["flaky"],
                "outcome=failure/policy=ledger": LEDGER["fail"],
                "outcome=failure/policy=quotes": QUOTE_TRIP,
                "outcome=rejected/policy=quotes": QUOTE_REJECTED,
                "outcome=fallback/policy=prices": PRICE,
            }
            calls = await wait_for(session, prom, "resilience_calls_total > 0", want)
            assert calls == want, server.log_tail()

            assert await query(session, prom, "resilience_retries_total") == {
                "policy=ledger": LEDGER["flaky"] + LEDGER["fail"]
            }
            assert await query(session, prom, "resilience_rejections_total > 0") == {
                "mechanism=circuit_breaker/policy=quotes": QUOTE_REJECTED
            }
            assert await query(session, prom, "resilience_call_duration_seconds_count") == {
                "policy=ledger": sum(LEDGER.values()),
                "policy=quotes": QUOTE_TRIP + QUOTE_REJECTED,
                "policy=prices": PRICE,
            }
            assert await query(session, prom, "resilience_circuit_breaker_state == 1") == {
                "policy=ledger/state=closed": 1,
                "policy=quotes/state=open": 1,
            }
            assert await query(session, prom, "resilience_circuit_breaker_transitions_total") == {
                "from_state=closed/policy=quotes/to_state=open": 1
            }

            assert await query(session, prom, 'resilience4j_retry_calls_total{name="ledger"}') == {
                "kind=failed_with_retry/name=ledger": LEDGER["fail"],
                "kind=failed_without_retry/name=ledger": 0,
                "kind=successful_with_retry/name=ledger": LEDGER["flaky"],
                "kind=successful_without_retry/name=ledger": LEDGER["ok"],
            }
            assert await query(session, prom, "resilience4j_circuitbreaker_state == 1") == {
                "name=ledger/state=closed": 1,
                "name=quotes/state=open": 1,
            }

            # Prometheus's scrapes and the /readyz probe are not user traffic: not in the SLI
            http = await query(session, prom, "http_server_request_duration_seconds_count")
            post, get = "http_request_method=POST", "http_request_method=GET"
            ledger, quote = "http_route=/ledger/{kind}", "http_route=/quote"
            assert http == {
                f"{post}/http_response_status_code=200/{ledger}": LEDGER["ok"] + LEDGER["flaky"],
                f"{post}/http_response_status_code=503/{ledger}": LEDGER["fail"],
                f"{get}/http_response_status_code=502/{quote}": QUOTE_TRIP,
                f"{get}/http_response_status_code=503/{quote}": QUOTE_REJECTED,
                f"{get}/http_response_status_code=200/http_route=/price": PRICE,
            }
            assert await query(session, prom, 'up{job="app"}') == {"": 1}
        finally:
            await asyncio.to_thread(server.stop)
