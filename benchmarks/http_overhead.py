"""Overhead of the ASGI SLI middleware and of the httpx transport, side by side with their peers.

Run: ``.venv/bin/python benchmarks/http_overhead.py`` (env: N requests per round, ROUNDS). The
peers are dev dependencies (``pip install -e '.[dev]'``): starlette-exporter,
prometheus-fastapi-instrumentator and httpx-retries.

Server side: one FastAPI app with a ``GET /items/{item_id}`` route, driven in process (ASGI
calls with a canned request, no socket, so the table shows what each middleware adds, not the
network), bare and wrapped by `exporters.asgi`, starlette-exporter's ``PrometheusMiddleware``
and prometheus-fastapi-instrumentator, each recording the request duration by route template,
method and status.

Client side: ``httpx.AsyncClient.get`` against an `httpx.MockTransport` answering 200 at once,
bare and through `ResilientTransport` (a retry policy, and the full plan-style policy: retry,
breaker, attempt timeout, bulkhead) and httpx-retries' ``RetryTransport``; then the same
transports' ``handle_async_request`` alone around an inner transport that answers a canned 200,
which isolates what each transport adds from the ~150 µs the client itself costs.

Rounds are timed in CPU time of the benchmark's thread (no I/O happens, so that is the work
done, whatever else the machine runs) and interleaved across cases to spread noise; the table
shows the median and the best round in µs per request, and the median's overhead over the bare
row of its group.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import httpx_retries
import tenacity
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from starlette_exporter import PrometheusMiddleware

import exporters.asgi
from exporters.health import Readiness
from resilience import Bulkhead, CircuitBreaker, Policy, Retry, Timeout
from resilience.integrations.httpx import ResilientTransport

Run = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Case:
    """One row: `make()` builds the coroutine function run once per request."""

    group: str
    name: str
    make: Callable[[], Run]


# -------------------------------------------------------------------------------------- server


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/7",
    "raw_path": b"/items/7",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def _driver(app: Any) -> Run:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run() -> None:
        await app(dict(SCOPE), receive, send)  # routers write into the scope: a fresh one

    return run


def _bare_server() -> Run:
    return _driver(_app())


def _ours_server() -> Run:
    app = _app()
    exporters.asgi.setup(app, registry=CollectorRegistry(), readiness=Readiness())
    return _driver(app)


def _starlette_exporter() -> Run:
    app = _app()
    app.add_middleware(PrometheusMiddleware, app_name="bench", group_paths=True)
    return _driver(app)


def _instrumentator() -> Run:
    app = _app()
    Instrumentator(registry=CollectorRegistry()).instrument(app)
    return _driver(app)


# -------------------------------------------------------------------------------------- client


def _mock() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))


def _client(transport: httpx.AsyncBaseTransport) -> Run:
    client = httpx.AsyncClient(transport=transport, base_url="http://dep")

    async def run() -> None:
        await client.get("/items/7")

    return run


def _bare_client() -> Run:
    return _client(_mock())


def _ours_retry() -> Run:
    policy = Policy("bench-retry", retry=Retry(max_attempts=3, wait=tenacity.wait_none()))
    return _client(ResilientTransport(policy, transport=_mock()))


def _ours_full() -> Run:
    policy = Policy(
        "bench-full",
        retry=Retry(max_attempts=3),
        circuit_breaker=CircuitBreaker("bench-full"),
        timeout=Timeout(1.0),
        bulkhead=Bulkhead(max_concurrent=100),
    )
    return _client(ResilientTransport(policy, transport=_mock()))


def _httpx_retries() -> Run:
    retry = httpx_retries.Retry(total=2, backoff_factor=0)
    return _client(httpx_retries.RetryTransport(transport=_mock(), retry=retry))


class _Canned(httpx.AsyncBaseTransport):
    """An inner transport answering one prepared 200 at once (the cheapest possible send)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok")


REQUEST = httpx.Request("GET", "http://dep/items/7")


def _transport(transport: httpx.AsyncBaseTransport) -> Run:
    async def run() -> None:
        await transport.handle_async_request(REQUEST)

    return run


def _bare_transport() -> Run:
    return _transport(_Canned())


def _ours_retry_transport() -> Run:
    policy = Policy("bench-t-retry", retry=Retry(max_attempts=3, wait=tenacity.wait_none()))
    return _transport(ResilientTransport(policy, transport=_Canned()))


def _ours_full_transport() -> Run:
    policy = Policy(
        "bench-t-full",
        retry=Retry(max_attempts=3),
        circuit_breaker=CircuitBreaker("bench-t-full"),
        timeout=Timeout(1.0),
        bulkhead=Bulkhead(max_concurrent=100),
    )
    return _transport(ResilientTransport(policy, transport=_Canned()))


def _httpx_retries_transport() -> Run:
    retry = httpx_retries.Retry(total=2, backoff_factor=0)
    return _transport(httpx_retries.RetryTransport(transport=_Canned(), retry=retry))


def cases() -> list[Case]:
    """Every row, the bare one of each group first."""
    server, client = "ASGI server (FastAPI, in process)", "httpx.AsyncClient (MockTransport)"
    alone = "transport.handle_async_request (canned 200)"
    return [
        Case(server, "bare FastAPI app", _bare_server),
        Case(server, "exporters.asgi (ours)", _ours_server),
        Case(server, "starlette-exporter 0.2x", _starlette_exporter),
        Case(server, "prometheus-fastapi-instrumentator", _instrumentator),
        Case(client, "bare AsyncClient", _bare_client),
        Case(client, "ResilientTransport, retry (ours)", _ours_retry),
        Case(client, "ResilientTransport, full policy (ours)", _ours_full),
        Case(client, "httpx-retries RetryTransport", _httpx_retries),
        Case(alone, "inner transport alone", _bare_transport),
        Case(alone, "ResilientTransport, retry (ours)", _ours_retry_transport),
        Case(alone, "ResilientTransport, full policy (ours)", _ours_full_transport),
        Case(alone, "httpx-retries RetryTransport", _httpx_retries_transport),
    ]


async def _round(run: Run, n: int) -> float:
    # CPU time of this thread, not wall time: on a machine shared with other jobs, the time
    # they take the CPU away is not counted (everything here runs on this thread, no I/O).
    start = time.thread_time()
    for _ in range(n):
        await run()
    return (time.thread_time() - start) / n * 1e6


async def main() -> None:
    n = int(os.environ.get("N", "3000"))
    rounds = int(os.environ.get("ROUNDS", "7"))
    table = cases()
    runs = [c.make() for c in table]
    for run in runs:  # warm-up: first-call caches, label children, route tables
        await _round(run, 200)
    samples: list[list[float]] = [[] for _ in table]
    for _ in range(rounds):
        for i, run in enumerate(runs):
            samples[i].append(await _round(run, n))
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"{rounds} rounds × {n} requests (µs per request)\n"
    )
    bare: dict[str, float] = {}
    print(f"| {'case':<40} | {'median':>7} | {'best':>7} | {'overhead (median)':>17} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 9}|{'-' * 19}|")
    group = ""
    for case, rows in zip(table, samples, strict=True):
        median, best = statistics.median(rows), min(rows)
        if case.group != group:
            group = case.group
            bare[group] = median
            print(f"| **{group}**{' ' * (36 - len(group))} | {'':>7} | {'':>7} | {'':>17} |")
        extra = median - bare[group]
        print(f"| {case.name:<40} | {median:>7.1f} | {best:>7.1f} | {extra:>17.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
