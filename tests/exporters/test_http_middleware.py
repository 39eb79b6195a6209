"""The aiohttp SLI middleware, /metrics, /healthz, /readyz and start_http_server, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from exporters.aiohttp import setup, start_http_server
from exporters.health import Readiness, default_readiness
from exporters.prometheus import PrometheusHook
from resilience import CircuitBreaker, Policy, PolicyInfo, remove_hook
from resilience.events import Emitter, global_hooks
from tests.paths import TESTS_DIR
from tests.servers import require_binary

pytestmark = pytest.mark.real_time

H = "http_server_request_duration_seconds"


def count(reg: CollectorRegistry, method: str, route: str, status: int) -> float | None:
    return reg.get_sample_value(
        f"{H}_count",
        {
            "http_request_method": method,
            "http_route": route,
            "http_response_status_code": str(status),
        },
    )


async def item(request: web.Request) -> web.Response:
    if request.match_info["id"] == "missing":
        raise web.HTTPNotFound()
    return web.json_response({"id": request.match_info["id"]})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("handler bug")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.03)
    return web.Response(text="slow")


async def timed_out(request: web.Request) -> web.Response:
    raise TimeoutError("a policy deadline")  # aiohttp answers 504


async def stream_then_fail(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)  # 200 and headers are on the wire
    await response.write(b"partial")
    raise RuntimeError("broke mid-stream")


def make_app(reg: CollectorRegistry, readiness: Readiness | None = None) -> web.Application:
    app = web.Application()
    app.router.add_get("/items/{id}", item)
    app.router.add_route("*", "/boom", boom)
    app.router.add_get("/slow", slow)
    app.router.add_get("/timeout", timed_out)
    app.router.add_get("/stream", stream_then_fail)
    app.router.add_static("/static", TESTS_DIR)
    setup(
        app,
        registry=reg,
        readiness=readiness or Readiness(),
        extra_routes=[web.get("/admin/chaos", chaos_admin)],
    )
    return app


async def chaos_admin(request: web.Request) -> web.Response:
    return web.Response(text="chaos admin")


Client = tuple[TestClient[web.Request, web.Application], CollectorRegistry]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    reg = CollectorRegistry()
    async with TestClient(TestServer(make_app(reg), host="127.0.0.1")) as c:
        yield c, reg


async def test_records_route_template_method_and_status(client: Client) -> None:
    c, reg = client
    for i in range(3):
        assert (await c.get(f"/items/{i}")).status == 200
    assert (await c.get("/items/missing")).status == 404
    assert (await c.get("/no/such/path")).status == 404
    assert (await c.post("/items/1")).status == 405
    assert (await c.get("/boom")).status == 500
    assert (await c.request("PURGE", "/boom")).status == 500
    assert (await c.get("/slow")).status == 200
    assert (await c.get("/timeout")).status == 504
    assert (await c.get("/static/servers.py")).status == 200
    assert (await c.get("/static/no-such-file.py")).status == 404
    with contextlib.suppress(aiohttp.ClientError):
        await (await c.get("/stream")).read()

    assert count(reg, "GET", "/items/{id}", 200) == 3
    assert count(reg, "GET", "/items/{id}", 404) == 1
    assert count(reg, "GET", "unmatched", 404) == 1
    assert count(reg, "POST", "unmatched", 405) == 1
    assert count(reg, "GET", "/boom", 500) == 1
    assert count(reg, "_OTHER", "/boom", 500) == 1
    assert count(reg, "GET", "/timeout", 504) == 1
    assert count(reg, "GET", "/static", 200) == 1
    assert count(reg, "GET", "/static", 404) == 1  # FileResponse decides its status late
    assert count(reg, "GET", "/stream", 200) == 1  # what was sent, recorded once
    assert count(reg, "GET", "/stream", 500) is None
    slow_sum = reg.get_sample_value(
        f"{H}_sum",
        {"http_request_method": "GET", "http_route": "/slow", "http_response_status_code": "200"},
    )
    assert slow_sum is not None and 0.03 <= slow_sum < 1.0


async def test_ten_thousand_raw_paths_give_a_bounded_number_of_series(client: Client) -> None:
    c, reg = client
    sem = asyncio.Semaphore(32)

    async def get(path: str) -> int:
        async with sem, c.get(path) as resp:
            return resp.status

    paths = [f"/items/{i}" for i in range(5000)] + [f"/probe/{i}/x" for i in range(5000)]
    statuses = await asyncio.gather(*(get(p) for p in paths))
    assert statuses.count(200) == 5000 and statuses.count(404) == 5000

    families = [m for m in reg.collect() if m.name == H]
    series = {
        tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) for s in families[0].samples
    }
    assert series == {
        (
            ("http_request_method", "GET"),
            ("http_response_status_code", "200"),
            ("http_route", "/items/{id}"),
        ),
        (
            ("http_request_method", "GET"),
            ("http_response_status_code", "404"),
            ("http_route", "unmatched"),
        ),
    }
    assert count(reg, "GET", "/items/{id}", 200) == 5000
    assert count(reg, "GET", "unmatched", 404) == 5000


async def test_metrics_endpoint_serves_prometheus_and_openmetrics(client: Client) -> None:
    c, reg = client
    Emitter(PolicyInfo("payments", ("retry",)), [PrometheusHook(reg)])
    await c.get("/items/7")
    resp = await c.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'resilience_calls_total{outcome="success",policy="payments"} 0.0' in text
    assert 'http_route="/items/{id}"' in text

    om = await c.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await om.text()).rstrip().endswith("# EOF")
    assert await (await c.get("/admin/chaos")).text() == "chaos admin"
    await c.get("/healthz")
    await c.get("/readyz")
    routes = {s.labels["http_route"] for m in reg.collect() for s in m.samples if m.name == H}
    assert routes == {"/items/{id}"}  # scrapes, probes and admin requests are not user traffic


async def test_promtool_accepts_our_exposition(client: Client) -> None:
    promtool = require_binary("promtool")
    c, reg = client

    class State:
        def __call__(self) -> str:
            return "half_open"

    info = PolicyInfo(
        "llm",
        ("retry", "circuit_breaker", "bulkhead", "rate_limiter", "timeout"),
        breaker_state=State(),
        bulkhead_in_flight=lambda: 1,
        bulkhead_capacity=lambda: 4,
    )
    Emitter(info, [PrometheusHook(reg, names="both")])
    for path in ("/items/1", "/nope", "/boom"):
        await c.get(path)
    text = await (await c.get("/metrics")).read()
    result = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"resilience4j_circuitbreaker_state" in text


async def test_readyz_fails_while_a_critical_breaker_is_open() -> None:
    class Breaker:
        state = "closed"

        def current(self) -> str:
            return self.state

    critical, optional = Breaker(), Breaker()
    readiness = Readiness()
    Emitter(
        PolicyInfo("db", ("circuit_breaker",), breaker_state=critical.current, critical=True),
        [readiness],
    )
    Emitter(PolicyInfo("recs", ("circuit_breaker",), breaker_state=optional.current), [readiness])
    async with TestClient(
        TestServer(make_app(CollectorRegistry(), readiness), host="127.0.0.1")
    ) as c:
        assert (await c.get("/healthz")).status == 200
        assert (await c.get("/readyz")).status == 200
        optional.state = "open"  # a soft dependency being down does not make us unready
        assert (await c.get("/readyz")).status == 200
        critical.state = "open"
        resp = await c.get("/readyz")
        assert resp.status == 503 and "db" in await resp.text()
        assert (await c.get("/healthz")).status == 200
        critical.state = "half_open"
        assert (await c.get("/readyz")).status == 200


def test_start_http_server_serves_metrics_and_health_from_a_thread() -> None:
    reg = CollectorRegistry()
    Emitter(PolicyInfo("batch", ("retry",)), [PrometheusHook(reg)])
    server = start_http_server(0, registry=reg, readiness=Readiness())
    try:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as resp:
            assert b'resilience_retries_total{policy="batch"} 0.0' in resp.read()
        with urllib.request.urlopen(f"{server.url}/readyz", timeout=5) as resp:
            assert resp.status == 200
    finally:
        server.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.url}/healthz", timeout=2)


async def test_a_cancelled_request_is_not_recorded() -> None:
    reg = CollectorRegistry()
    started = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/hang", hang)
    setup(app, registry=reg, readiness=Readiness())
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        task = asyncio.create_task(session.get(server.make_url("/hang")))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.02)
    # the server's shutdown cancelled the handler: no status was sent, so nothing is recorded
    hang_series = [
        s for m in reg.collect() for s in m.samples if s.labels.get("http_route") == "/hang"
    ]
    assert hang_series == []


async def test_setup_without_readiness_uses_the_process_wide_hook() -> None:
    app = web.Application()
    setup(app, registry=CollectorRegistry())
    default = default_readiness()
    try:
        assert default_readiness() is default and global_hooks().count(default) == 1
        breaker = CircuitBreaker("orders-db", minimum_calls=100)
        policy = Policy("orders-db", circuit_breaker=breaker, critical=True)  # built after setup
        async with TestClient(TestServer(app, host="127.0.0.1")) as c:
            assert (await c.get("/readyz")).status == 200
            breaker.force_open()
            resp = await c.get("/readyz")
            assert resp.status == 503
            assert await resp.text() == "not ready: circuit open for critical orders-db\n"
        breaker.reset()  # leave no open critical breaker behind for other tests
        del policy
    finally:
        remove_hook(default)
