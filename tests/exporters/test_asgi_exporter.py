"""exporters.asgi: the HTTP SLI, /metrics, /healthz, /readyz and the chaos admin on FastAPI,
Starlette and plain ASGI apps (in process through httpx's ASGI transport, and raw ASGI calls)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from chaos import FaultInjection
from chaos.admin import admin_asgi
from chaos.injection import ChaosRegistry
from exporters.asgi import SLIMiddleware, setup
from exporters.health import Readiness
from resilience import CircuitBreaker, Policy

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


def series(reg: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    """Every SLI series' request count."""
    return {
        (
            s.labels["http_request_method"],
            s.labels["http_route"],
            s.labels["http_response_status_code"],
        ): s.value
        for m in reg.collect()
        for s in m.samples
        if s.name == f"{H}_count"
    }


def fastapi_app(reg: CollectorRegistry, readiness: Readiness | None = None, **kw: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 404:
            raise HTTPException(status_code=404, detail="no such item")
        return {"id": item_id}

    @app.post("/orders")
    async def order() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler bug")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"chunk {i}\n".encode()

        return StreamingResponse(chunks(), status_code=206)

    sub = Starlette(routes=[Route("/users/{uid:int}", lambda r: PlainTextResponse("u"))])
    app.mount("/v1", sub)
    setup(app, registry=reg, readiness=readiness or Readiness(), **kw)
    return app


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_fastapi_requests_are_recorded_by_route_template_and_status_sent() -> None:
    reg = CollectorRegistry()
    async with client(fastapi_app(reg)) as c:
        for i in range(3):
            assert (await c.get(f"/items/{i}")).status_code == 200
        assert (await c.get("/items/404")).status_code == 404
        assert (await c.get("/items/notanint")).status_code == 422
        assert (await c.post("/orders")).status_code == 200
        assert (await c.get("/boom")).status_code == 500
        assert (await c.get("/v1/users/7")).status_code == 200
        assert (await c.get("/v1/users/8")).status_code == 200
        assert (await c.get("/nowhere/1")).status_code == 404
        assert (await c.get("/nowhere/2")).status_code == 404
        assert (await c.delete("/orders")).status_code == 405
        assert (await c.request("BREW", "/items/1")).status_code == 405
    assert series(reg) == {
        ("GET", "/items/{item_id}", "200"): 3,
        ("GET", "/items/{item_id}", "404"): 1,
        ("GET", "/items/{item_id}", "422"): 1,
        ("POST", "/orders", "200"): 1,
        ("GET", "/boom", "500"): 1,
        ("GET", "/v1/users/{uid}", "200"): 2,
        ("GET", "unmatched", "404"): 2,
        ("DELETE", "unmatched", "405"): 1,
        ("_OTHER", "unmatched", "405"): 1,
    }


async def test_a_streamed_response_is_recorded_once_with_the_status_it_started_with() -> None:
    reg = CollectorRegistry()
    async with client(fastapi_app(reg)) as c:
        response = await c.get("/stream")
        assert response.status_code == 206 and response.text == "chunk 0\nchunk 1\nchunk 2\n"
    assert series(reg) == {("GET", "/stream", "206"): 1}


async def test_metrics_health_and_admin_routes_answer_directly_and_stay_out_of_the_sli() -> None:
    reg = CollectorRegistry()
    chaos = ChaosRegistry()
    fault = FaultInjection(RuntimeError)  # the registry holds strategies weakly
    chaos.add("search", fault)
    app = fastapi_app(reg, extra_routes=[admin_asgi("s3cret", registry=chaos)])
    async with client(app) as c:
        await c.get("/items/1")
        for path in ("/metrics", "/metrics/"):
            scrape = await c.get(path)  # no 307 to /metrics/
            assert scrape.status_code == 200 and scrape.history == []
            assert 'http_route="/items/{item_id}"' in scrape.text
        om = await c.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.endswith("# EOF\n")
        assert (await c.get("/healthz")).text == "ok\n"
        assert (await c.get("/readyz")).text == "ready\n"
        assert (await c.post("/metrics")).status_code == 405
        assert (await c.get("/admin/chaos")).status_code == 401
        wrong = await c.get("/admin/chaos", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        undecodable = await c.get("/admin/chaos", headers={b"Authorization": b"Bearer \xff\xfe"})
        assert undecodable.status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        state = await c.get("/admin/chaos", headers=auth)
        assert state.json()["policies"]["search"][0]["enabled"] is False
        on = await c.post("/admin/chaos/search", headers=auth, json={"enabled": True})
        assert on.status_code == 200 and on.json()["injections"][0]["enabled"] is True
        big = await c.post("/admin/chaos/search", headers=auth, content=b"{" * 70_000)
        assert big.status_code == 413
        bad = await c.post("/admin/chaos/search", headers=auth, content=b"[1]")
        assert bad.status_code == 400
        assert (
            await c.post("/admin/chaos/nope", headers=auth, json={"enabled": True})
        ).status_code == 404
        assert (await c.post("/admin/chaos/reset", headers=auth)).json()["disabled"] == 1
    assert series(reg) == {("GET", "/items/{item_id}", "200"): 1}


async def test_readyz_is_503_while_a_critical_breaker_is_open() -> None:
    reg = CollectorRegistry()
    readiness = Readiness()
    breaker = CircuitBreaker("orders-db", minimum_calls=100)
    policy = Policy("orders-db", circuit_breaker=breaker, critical=True, hooks=[readiness])
    async with client(fastapi_app(reg, readiness)) as c:
        assert (await c.get("/readyz")).status_code == 200
        breaker.force_open()
        resp = await c.get("/readyz")
        assert resp.status_code == 503
        assert resp.text == "not ready: circuit open for critical orders-db\n"
        breaker.reset()
        assert (await c.get("/readyz")).status_code == 200
    del policy


# ---------------------------------------------------------------------------------- raw ASGI


def raw_scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}


async def run(
    app: Any,
    scope: dict[str, Any],
    receive_messages: list[dict[str, Any]],
    *,
    leave_after_body: bool = False,
) -> list[Any]:
    """Call `app` as a server would; `leave_after_body`: the client disconnects once the first
    body chunk has been sent (else it says nothing after `receive_messages`)."""
    sent: list[Any] = []
    queue = list(receive_messages)
    got_body = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        if leave_after_body:
            await got_body.wait()
            return {"type": "http.disconnect"}
        await asyncio.sleep(3600)  # a client that says nothing more
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            got_body.set()

    await app(scope, receive, send)
    return sent


async def test_a_client_gone_before_the_headers_is_not_recorded_and_one_gone_mid_stream_is() -> (
    None
):
    reg = CollectorRegistry()

    async def slow_to_answer(request: Request) -> PlainTextResponse:
        await request.body()  # sees the client's disconnect
        return PlainTextResponse("too late")

    async def endless(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            while True:
                yield b"x"
                await asyncio.sleep(0.001)

        return StreamingResponse(chunks())

    inner = Starlette(routes=[Route("/slow", slow_to_answer), Route("/endless", endless)])
    app = SLIMiddleware(inner, registry=reg, readiness=Readiness())
    with pytest.raises(ClientDisconnect):  # what uvicorn logs; the client saw nothing
        await run(app, raw_scope("/slow"), [{"type": "http.disconnect"}])
    sent = await run(app, raw_scope("/endless"), [{"type": "http.request"}], leave_after_body=True)
    assert sent[0]["status"] == 200  # Starlette stops streaming when it sees the disconnect
    assert series(reg) == {("GET", "/endless", "200"): 1}


async def test_an_app_that_fails_or_returns_before_answering_is_the_servers_500() -> None:
    reg = CollectorRegistry()

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("bug")

    async def failing_after_start(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("bug mid-body")

    for inner, path in ((silent, "/a"), (failing, "/b"), (failing_after_start, "/c")):
        app = SLIMiddleware(
            inner, registry=reg, readiness=Readiness(), route_of=lambda s: s["path"]
        )
        with contextlib.suppress(RuntimeError):
            await run(app, raw_scope(path), [])
    assert series(reg) == {
        ("GET", "/a", "500"): 1,
        ("GET", "/b", "500"): 1,
        ("GET", "/c", "200"): 1,
    }


async def test_a_plain_asgi_app_is_unmatched_unless_it_says_its_route() -> None:
    reg = CollectorRegistry()

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hi"})

    await run(SLIMiddleware(hello, registry=reg, readiness=Readiness()), raw_scope("/x/1"), [])
    await run(
        SLIMiddleware(hello, registry=reg, readiness=Readiness(), route_of=lambda s: "/x/{id}"),
        raw_scope("/x/2"),
        [],
    )
    assert series(reg) == {("GET", "unmatched", "200"): 1, ("GET", "/x/{id}", "200"): 1}


async def test_lifespan_passes_through_and_setup_refuses_a_plain_asgi_app() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await SLIMiddleware(inner, registry=CollectorRegistry())({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]
    with pytest.raises(TypeError, match="wrap the app instead"):
        setup(inner)


async def test_routes_added_after_the_first_request_get_their_template() -> None:
    reg = CollectorRegistry()
    app = Starlette(routes=[Route("/a", lambda r: PlainTextResponse("a"))])
    setup(app, registry=reg, readiness=Readiness())
    async with client(app) as c:
        await c.get("/a")
        app.router.routes.append(
            Mount("/late", routes=[Route("/{n}", lambda r: PlainTextResponse("b"))])
        )
        await c.get("/late/1")

        async def files(scope: Any, receive: Any, send: Any) -> None:  # a StaticFiles stand-in
            await PlainTextResponse(scope["path"])(scope, receive, send)

        app.router.routes.append(Mount("/static", app=files))
        await c.get("/static/css/site.css")
        await c.get("/static/js/app.js")
    assert series(reg) == {
        ("GET", "/a", "200"): 1,
        ("GET", "/late/{n}", "200"): 1,
        ("GET", "/static/{path}", "200"): 2,
    }


async def test_with_opentelemetry_asgi_middleware_each_request_is_counted_once_in_each() -> None:
    otel = pytest.importorskip("opentelemetry.instrumentation.asgi")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reg = CollectorRegistry()
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.add_middleware(otel.OpenTelemetryMiddleware, meter_provider=provider)
    setup(app, registry=reg, readiness=Readiness())  # outside OTel's: scrapes stay out of it
    async with client(app) as c:
        for i in range(5):
            await c.get(f"/items/{i}")
        await c.get("/metrics")
    assert series(reg) == {("GET", "/items/{item_id}", "200"): 5}
    data = reader.get_metrics_data()
    assert data is not None
    counts = [
        getattr(point, "count", 0)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name in ("http.server.duration", "http.server.request.duration")
        for point in metric.data.data_points
    ]
    assert sum(counts) == 5  # OTel saw the same 5 requests, not the scrape


async def test_the_apps_own_admin_and_health_routes_follow_the_aiohttp_exclusion_rule() -> None:
    def app_with_own_routes(reg: CollectorRegistry, **kw: Any) -> FastAPI:
        app = FastAPI()

        @app.get("/admin/users/{uid}")
        async def admin_user(uid: int) -> dict[str, int]:
            return {"uid": uid}

        @app.get("/administrators")
        async def administrators() -> list[str]:
            return []

        setup(app, registry=reg, readiness=Readiness(), **kw)
        return app

    default, counted = CollectorRegistry(), CollectorRegistry()
    for reg, kw in ((default, {}), (counted, {"exclude_routes": ()})):
        async with client(app_with_own_routes(reg, **kw)) as c:
            assert (await c.get("/admin/users/1")).status_code == 200
            assert (await c.get("/administrators")).status_code == 200
            assert (await c.get("/metrics")).status_code == 200
    assert series(default) == {("GET", "/administrators", "200"): 1}
    assert series(counted) == {
        ("GET", "/admin/users/{uid}", "200"): 1,
        ("GET", "/administrators", "200"): 1,
    }
