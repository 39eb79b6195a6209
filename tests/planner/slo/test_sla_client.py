"""The Prometheus query client: retries under its Policy, one clear UpstreamError otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from planner.cli import main
from planner.errors import PlannerError, UpstreamError
from planner.slo.prometheus import PrometheusClient
from tests.paths import ROOT_DIR
from tests.servers import free_port

SPEC = str(ROOT_DIR / "examples" / "ai_gateway" / "system.yaml")

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def _serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/v1/query", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[str, list[str]]]:
    """503 twice, then a vector: the client must get through on its third attempt."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.query["query"])
        if len(seen) < 3:
            return web.Response(status=503, text="overloaded")
        result = [
            {"metric": {"job": "a"}, "value": [1, "2.5"]},
            {"metric": {"job": "b"}, "value": [1, "NaN"]},
        ]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async for url in _serve(handle):
        yield url, seen


@pytest.fixture
async def strict() -> AsyncIterator[tuple[str, list[str]]]:
    """Rejects every query as Prometheus does a parse error (HTTP 400 + JSON error)."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.query["query"])
        body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
        return web.json_response(body, status=400)

    async for url in _serve(handle):
        yield url, seen


@pytest.mark.integration
async def test_5xx_is_retried_and_nan_is_no_data(flaky: tuple[str, list[str]]) -> None:
    url, seen = flaky
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(url, session)
        assert await client.total("up", 1.0) == 2.5  # the NaN series carries no data
    assert seen == ["up", "up", "up"]


@pytest.mark.integration
async def test_a_rejected_query_is_not_retried(strict: tuple[str, list[str]]) -> None:
    url, seen = strict
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(url, session)
        with pytest.raises(UpstreamError, match=r"rejected the query 'su\(m': parse error"):
            await client.total("su(m", 1.0)
    assert seen == ["su(m"]


@pytest.mark.integration
async def test_not_a_prometheus() -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    async for url in _serve(handle):
        async with aiohttp.ClientSession() as session:
            with pytest.raises(UpstreamError) as caught:
                await PrometheusClient(url, session).total("up", 1.0)
        assert str(caught.value) == f"{url}: not a Prometheus API (HTTP 200, not JSON)"


@pytest.mark.integration
async def test_an_empty_404_is_not_a_prometheus_api(capsys: pytest.CaptureFixture[str]) -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/", handle)  # a web server, but no /api/v1/query
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(UpstreamError) as caught:
                await PrometheusClient(url, session).total("up", 1.0)
        assert str(caught.value) == f"{url}: not a Prometheus API (HTTP 404)"
        code = await asyncio.to_thread(main, ["sla", SPEC, "--prometheus", url + "/"])
    finally:
        await runner.cleanup()
    assert code == 2
    expected = f"reliability: error: {url}: not a Prometheus API (HTTP 404)\n"
    assert capsys.readouterr().err == expected


@pytest.mark.parametrize(
    "url", ["notaurl", "ftp://prom:9090", "http://", "http://h:99999", "127.0.0.1:9090"]
)
def test_a_malformed_url_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(PlannerError) as caught:
        PrometheusClient(url, None)  # type: ignore[arg-type]  # no session: nothing is sent
    assert str(caught.value) == f"Prometheus: invalid URL {url!r}: expected http(s)://host:port"
