"""The chaos admin endpoint never answers 500, and admin traffic stays out of the user-facing SLI.

A real aiohttp server on 127.0.0.1 (the service of the chaos tests: `exporters.setup` with the
admin routes) is sent raw bytes over a socket, so headers that no HTTP client library would send
(an ``Authorization`` that is not UTF-8) reach it exactly as an attacker would send them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from chaos.admin import MAX_BODY_BYTES, MAX_JSON_DEPTH, admin_routes, nested_deeper_than
from chaos.injection import ChaosRegistry, FaultInjection, LatencyInjection
from exporters.aiohttp import DEFAULT_EXCLUDED_ROUTES, is_excluded, setup
from tests.chaos_service import TOKEN, running_service

pytestmark = pytest.mark.integration

POLICY = "llm-primary"
SLI = "http_server_request_duration_seconds"


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send `head` (request line and headers, CRLF-separated, no blank line) and `body` as they
    are; return the status and the response body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def post(policy: str, authorization: bytes, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (
        f"POST /admin/chaos/{policy} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        + b"Authorization: "
        + authorization
        + f"\r\nContent-Type: application/json\r\nContent-Length: {size}".encode()
    )


BEARER = f"Bearer {TOKEN}".encode()


def sli_series(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """(route, status) → requests recorded by the SLI histogram."""
    found: dict[tuple[str, str], float] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == f"{SLI}_count":
                key = (sample.labels["http_route"], sample.labels["http_response_status_code"])
                found[key] = found.get(key, 0) + sample.value
    return found


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xff",
        b"Bearer \xff" + TOKEN.encode(),
        b"\xff\xfe " + TOKEN.encode(),
        b"Bearer \xc3\x28",  # an invalid UTF-8 sequence
        b"Bearer " + TOKEN.encode() + b"\x80",
    ],
)
async def test_an_undecodable_authorization_header_is_401(authorization: bytes) -> None:
    async with running_service(POLICY, None) as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        body = json.dumps({"enabled": True, "injection_rate": 1.0}).encode()
        status, answer = await raw_request(port, post(POLICY, authorization, body), body)
        get_status, _ = await raw_request(
            port, b"GET /admin/chaos HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization
        )
        assert not service.fault.enabled  # nothing switched
        series = sli_series(service.registry)
    assert (status, get_status) == (401, 401)
    assert json.loads(answer) == {"error": "missing or wrong admin token"}
    assert series == {}  # admin requests are not user traffic: no 500, no 401 in the SLI


async def test_the_token_still_works_over_a_raw_socket() -> None:
    async with running_service(POLICY, None) as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        body = b'{"enabled": true, "fault": "fault", "injection_rate": 1.0}'
        status, _ = await raw_request(port, post(POLICY, BEARER, body), body)
        assert status == 200 and service.fault.enabled


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"[" * 50_000 + b"]" * 50_000, 413, f"body over {MAX_BODY_BYTES} bytes"),
        (b"[" * 5_000 + b"]" * 5_000, 400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        (
            b'{"enabled": ' + b'{"a": ' * 9 + b"1" + b"}" * 9 + b"}",
            400,
            f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
        ),
        (b'{"enabled": true, "latency": ' + b"9" * 5_000 + b"}", 400, None),
        (b" " * (MAX_BODY_BYTES + 1), 413, f"body over {MAX_BODY_BYTES} bytes"),
        (b'{"enabled": true, "latency": 1e999}', 400, None),
        (b'{"enabled": true, "latency": ' + b"9" * 400 + b"}", 400, None),
        (
            b'{"enabled": true, "latency": 601}',
            400,
            "field 'latency': expected at most 600 seconds",
        ),
        (b'{"enabled": true, "injection_rate": NaN}', 400, None),
        (b'{"enabled": true, "fault": ["fault"]}', 400, None),
        (b'{"enabled": true, "fault": {"a": 1}}', 400, None),
        (b'{"enabled": "' + b"x" * 10_000 + b'"}', 400, None),
        (b'{"' + b"x" * 10_000 + b'": 1}', 400, None),
        (b"\xff\xfe", 400, "expected a UTF-8 JSON body"),
        (b'"[[[[[[[[[[[[[[[[[[[["', 400, None),  # brackets in a string do not nest
    ],
    ids=lambda v: v[:20] if isinstance(v, bytes) else str(v)[:20],
)
async def test_a_hostile_body_with_a_valid_token_is_400_or_413_never_500(
    body: bytes, status: int, error: str | None
) -> None:
    async with running_service(POLICY, None) as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        got, answer = await raw_request(port, post(POLICY, BEARER, body), body)
        assert not service.fault.enabled and not service.latency.enabled
        assert service.latency.latency == 0.2  # unchanged
    assert got == status
    message = json.loads(answer)["error"]
    assert len(message) <= 300  # the client's value is cut to 200 characters, never echoed whole
    if error is not None:
        assert message == error


async def test_an_oversized_chunked_body_is_413() -> None:
    async with running_service(POLICY, None) as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        chunk = b"[" * 8_000
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
        head = (
            (
                f"POST /admin/chaos/{POLICY} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            ).encode()
            + b"Authorization: "
            + BEARER
        )
        status, _ = await raw_request(port, head, chunks)
    assert status == 413


def test_the_nesting_check_skips_strings_and_escapes() -> None:
    assert not nested_deeper_than('{"a": "[[[[[[[[[[[[", "b": "\\"[[[[[[[[[["}', 2)
    assert nested_deeper_than("[[[", 2)
    assert not nested_deeper_than("[[]][[]]", 2)


async def test_admin_metrics_and_health_routes_are_out_of_the_sli_by_default() -> None:
    async with running_service(POLICY, None) as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        for path in ("/ask", "/metrics", "/healthz", "/readyz"):
            await raw_request(port, f"GET {path} HTTP/1.1\r\nHost: x".encode())
        await raw_request(port, b"GET /admin/chaos HTTP/1.1\r\nHost: x\r\nAuthorization: " + BEARER)
        await raw_request(port, post(POLICY, b"Bearer \xff", b"{}"), b"{}")
        await raw_request(port, b"GET /administrators HTTP/1.1\r\nHost: x")  # not under /admin
        series = sli_series(service.registry)
    assert series == {("/ask", "200"): 1, ("unmatched", "404"): 1}


async def test_the_exclusion_is_configurable() -> None:
    registry = CollectorRegistry()
    chaos = ChaosRegistry()
    chaos.add(POLICY, FaultInjection(RuntimeError))
    chaos.add(POLICY, LatencyInjection(0.1))
    app = web.Application()

    async def ops(request: web.Request) -> web.Response:
        return web.Response(text="ops")

    app.router.add_get("/ops/state", ops)
    setup(
        app,
        registry=registry,
        extra_routes=admin_routes(TOKEN, registry=chaos),
        exclude_routes=("/ops",),  # count the admin and health routes, not /ops
    )
    async with serving(app) as port:
        for path in ("/ops/state", "/healthz", "/metrics"):
            await raw_request(port, f"GET {path} HTTP/1.1\r\nHost: x".encode())
        await raw_request(port, post(POLICY, b"Bearer \xff", b"{}"), b"{}")
    assert sli_series(registry) == {("/healthz", "200"): 1, ("/admin/chaos/{policy}", "401"): 1}


def test_the_exclusion_rule() -> None:
    assert DEFAULT_EXCLUDED_ROUTES == ("/metrics", "/healthz", "/readyz", "/admin")
    assert is_excluded("/admin/chaos/{policy}", DEFAULT_EXCLUDED_ROUTES)
    assert is_excluded("/admin", DEFAULT_EXCLUDED_ROUTES)
    assert not is_excluded("/administrators", DEFAULT_EXCLUDED_ROUTES)
    assert not is_excluded("/metricsx", DEFAULT_EXCLUDED_ROUTES)
    assert not is_excluded("unmatched", DEFAULT_EXCLUDED_ROUTES)
    assert is_excluded("/ops/x", ("/ops/",))


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
