"""A small aiohttp service on 127.0.0.1 for the chaos tests: one route calls a dependency through a
policy with fault and latency strategies innermost, with /metrics and the chaos admin endpoint."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from chaos.admin import admin_routes
from chaos.injection import ChaosRegistry, FaultInjection, LatencyInjection, inject
from exporters.aiohttp import setup
from exporters.prometheus import PrometheusHook
from resilience import add_hook, remove_hook
from resilience.policy import Policy

TOKEN = "s3cret-chaos-token"


class DependencyDown(ConnectionError):
    """What the injected fault raises: the dependency refused the connection."""


@dataclass
class Service:
    """A running service: its URL, its policy's injections and its metrics registry."""

    base_url: str
    fault: FaultInjection
    latency: LatencyInjection
    registry: CollectorRegistry
    chaos: ChaosRegistry


@asynccontextmanager
async def running_service(
    policy_name: str,
    build: Callable[[], Policy] | None,
    *,
    seed: int = 1,
) -> AsyncIterator[Service]:
    """Serve ``GET /ask`` (200 with the dependency's or the fallback's answer, 503 when the call
    failed) on a free loopback port; `build()` makes the policy (None: no mechanisms at all)."""
    registry = CollectorRegistry()
    hook = PrometheusHook(registry)
    add_hook(hook)
    policy = build() if build is not None else Policy(policy_name)
    fault = FaultInjection(lambda: DependencyDown("injected"), rng=random.Random(seed))
    latency = LatencyInjection(0.2, rng=random.Random(seed + 1))
    chaos = ChaosRegistry()
    chaos.add(policy_name, fault)
    chaos.add(policy_name, latency)

    @policy
    @inject(policy, fault, latency)
    async def call_dependency() -> str:
        return "model answer"

    async def ask(request: web.Request) -> web.Response:
        try:
            answer = await call_dependency()
        except Exception as exc:
            return web.json_response({"error": type(exc).__name__}, status=503)
        return web.json_response({"answer": answer})

    app = web.Application()
    app.router.add_get("/ask", ask)
    setup(app, registry=registry, extra_routes=admin_routes(TOKEN, registry=chaos))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Service(f"http://127.0.0.1:{port}", fault, latency, registry, chaos)
    finally:
        await runner.cleanup()
        remove_hook(hook)
