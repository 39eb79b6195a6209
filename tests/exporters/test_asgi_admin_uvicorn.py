"""exporters.asgi under a real uvicorn on 127.0.0.1, sent raw bytes: the chaos admin endpoint
(headers no client library would send) never answers 500, the token still works, neither the
admin nor the exporters' routes reach the SLI; a client leaving a stream is counted once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from prometheus_client import CollectorRegistry

from chaos import FaultInjection
from chaos.admin import MAX_BODY_BYTES, MAX_JSON_DEPTH, admin_asgi
from chaos.injection import ChaosRegistry
from exporters.asgi import setup
from exporters.health import Readiness
from tests.chaos.test_chaos_admin_hardening import raw_request, sli_series
from tests.servers import free_port

pytestmark = pytest.mark.integration

TOKEN = "asgi-admin-token"
BEARER = f"Bearer {TOKEN}".encode()


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[int, FaultInjection, CollectorRegistry]]:
    """A FastAPI app with one route, the SLI middleware and the admin endpoint, under uvicorn."""
    registry, chaos = CollectorRegistry(), ChaosRegistry()
    fault = FaultInjection(RuntimeError)
    chaos.add("search", fault)
    app = FastAPI()

    @app.get("/search")
    async def search() -> dict[str, str]:
        return {"ok": "yes"}

    setup(
        app,
        registry=registry,
        readiness=Readiness(),
        extra_routes=[admin_asgi(TOKEN, registry=chaos)],
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.025)
        assert server.started, "uvicorn did not start within 5 s"
        yield port, fault, registry
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def post(authorization: bytes, body: bytes) -> bytes:
    return (
        b"POST /admin/chaos/search HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
        + authorization
        + f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}".encode()
    )


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer \xff", b"Bearer \xff" + TOKEN.encode(), b"Bearer " + TOKEN.encode() + b"\x80"],
)
async def test_an_undecodable_authorization_header_is_401(authorization: bytes) -> None:
    async with serving() as (port, fault, registry):
        body = b'{"enabled": true}'
        status, answer = await raw_request(port, post(authorization, body), body)
        get_status, _ = await raw_request(
            port, b"GET /admin/chaos HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization
        )
        assert not fault.enabled
    assert (status, get_status) == (401, 401)
    assert json.loads(answer) == {"error": "missing or wrong admin token"}
    assert sli_series(registry) == {}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"[" * 50_000 + b"]" * 50_000, 413, f"body over {MAX_BODY_BYTES} bytes"),
        (b"[" * 5_000 + b"]" * 5_000, 400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        (b"\xff\xfe", 400, "expected a UTF-8 JSON body"),
        (b'{"enabled": true, "latency": 601}', 400, None),
        (b'{"enabled": true, "bogus": 1}', 400, None),
    ],
    ids=["oversized", "nested", "not-utf8", "latency", "unknown-field"],
)
async def test_a_hostile_body_with_a_valid_token_is_400_or_413_never_500(
    body: bytes, status: int, error: str | None
) -> None:
    async with serving() as (port, fault, registry):
        got, answer = await raw_request(port, post(BEARER, body), body)
        assert not fault.enabled
    assert got == status
    if error is not None:
        assert json.loads(answer)["error"] == error
    assert sli_series(registry) == {}


async def test_the_token_switches_and_only_user_traffic_is_in_the_sli() -> None:
    async with serving() as (port, fault, registry):
        body = b'{"enabled": true, "injection_rate": 1.0}'
        status, _ = await raw_request(port, post(BEARER, body), body)
        assert status == 200 and fault.enabled
        for path in (b"/search", b"/search", b"/metrics", b"/healthz", b"/readyz", b"/nowhere"):
            await raw_request(port, b"GET " + path + b" HTTP/1.1\r\nHost: x")
        series = sli_series(registry)
    assert series == {("/search", "200"): 2, ("unmatched", "404"): 1}


async def test_a_client_leaving_a_stream_under_uvicorn_is_counted_once_with_its_status() -> None:
    registry = CollectorRegistry()
    stopped = asyncio.Event()
    app = FastAPI()

    @app.get("/events")
    async def events() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick\n"
                    await asyncio.sleep(0.01)
            finally:
                stopped.set()  # Starlette stops the stream once it sees the disconnect

        return StreamingResponse(chunks(), media_type="text/plain")

    setup(app, registry=registry, readiness=Readiness())
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.025)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"tick\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()  # the client goes away mid-stream
        await asyncio.wait_for(stopped.wait(), 5)
        assert sli_series(registry) == {("/events", "200"): 1}
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
