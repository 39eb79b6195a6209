"""The example catalog API: FastAPI, its dependencies called through the httpx transport.

At startup the service loads its reliability plan (``plan.yaml``, written by
``reliability plan examples/fastapi_service/system.yaml --format yaml``) and sends every outgoing
request through `resilience.integrations.httpx.ResilientTransport`, which picks the plan's
policy by host and path: requests to the pricing service run under ``pricing`` (attempt timeout,
retries with Retry-After honoured, breaker, bulkhead), those to the recommendations service under
``recommendations``, whose fallback stands in with an empty list. Inbound requests go through the
``catalog`` policy's bulkhead. `exporters.asgi.setup` adds the SLI middleware, ``/metrics``,
``/healthz``, ``/readyz`` and, with a chaos token, ``/admin/chaos``.

Routes: ``GET /products/{product_id}`` (price + recommendations; 502 when pricing fails, 503
when a mechanism refuses) and ``GET /products`` (the ids, no dependency). Run it with
``python -m examples.fastapi_service.service --port 8000 --pricing URL --recommendations URL``
(``python -m examples.fastapi_service.backend --port 8001`` serves both dependencies).
"""

from __future__ import annotations

import argparse
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY, CollectorRegistry

import exporters
import exporters.asgi
import resilience
from chaos.admin import TOKEN_ENV, admin_asgi, token_from_env
from resilience.integrations.httpx import PolicyRoutes, ResilientTransport

HERE = Path(__file__).resolve().parent
PLAN = HERE / "plan.yaml"
PRODUCTS = ("p-1", "p-2", "p-3")


def route_key(url: str, path: str) -> str:
    """``host[:port]/path`` of a base URL and a path: how the transport chooses the policy."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"expected a base URL such as http://127.0.0.1:8001, got {url!r}")
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return f"{host}{parts.path.rstrip('/')}{path}"


def no_recommendations(failure: BaseException | object, request: httpx.Request) -> list[str]:
    """The plan's fallback for ``recommendations``: the page shows none (a JSON ``[]``)."""
    return []


def make_app(
    *,
    pricing_url: str,
    recommendations_url: str,
    plan_path: Path = PLAN,
    registry: CollectorRegistry | None = None,
    chaos_token: str | None = None,
) -> FastAPI:
    """The catalog app, its plan loaded and its metrics in `registry` (default the global one)."""
    plan = resilience.load_plan(plan_path)
    resilience.add_hook(exporters.PrometheusHook(registry=registry or REGISTRY))
    plan.policy("recommendations", fallback=no_recommendations)
    # By host and path prefix, so both dependencies may even be one server (as in the demo).
    routes = PolicyRoutes(
        plan,
        {
            route_key(pricing_url, "/prices"): "pricing",
            route_key(recommendations_url, "/recommendations"): "recommendations",
        },
    )
    inbound = plan.policy("catalog")
    clients: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=ResilientTransport(routes)) as client:
            clients["http"] = client
            yield

    app = FastAPI(title="catalog", lifespan=lifespan)

    @app.get("/products")
    async def products() -> list[str]:
        return list(PRODUCTS)

    @app.get("/products/{product_id}")
    async def product(product_id: str) -> dict[str, Any]:
        client = clients["http"]
        try:
            async with inbound:
                price = await client.get(f"{pricing_url}/prices/{product_id}")
                related = await client.get(f"{recommendations_url}/recommendations/{product_id}")
        except resilience.RejectedError as exc:
            raise HTTPException(503, str(exc)) from None
        except (httpx.HTTPError, TimeoutError) as exc:
            raise HTTPException(502, f"pricing unavailable: {type(exc).__name__}") from None
        if price.status_code == 404:
            raise HTTPException(404, f"no product {product_id!r}")
        if price.status_code != 200:
            raise HTTPException(502, f"pricing answered {price.status_code}")
        return {
            "id": product_id,
            "price": price.json()["price"],
            "recommendations": related.json() if related.status_code == 200 else [],
        }

    extra = [admin_asgi(chaos_token)] if chaos_token else []
    exporters.asgi.setup(app, registry=registry, extra_routes=extra)
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the catalog on 127.0.0.1 with uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(description="The example FastAPI catalog service.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pricing", required=True, help="pricing service base URL")
    parser.add_argument("--recommendations", required=True, help="recommendations base URL")
    parser.add_argument("--plan", type=Path, default=PLAN)
    parser.add_argument(
        "--chaos-token",
        default=token_from_env(),
        help=f"mount /admin/chaos behind this token (default ${TOKEN_ENV})",
    )
    args = parser.parse_args(argv)
    try:
        app = make_app(
            pricing_url=args.pricing,
            recommendations_url=args.recommendations,
            plan_path=args.plan,
            chaos_token=args.chaos_token or None,
        )
    except (ValueError, resilience.ConfigError) as exc:  # PlanError is a ConfigError
        parser.error(str(exc))  # one line on stderr, exit 2
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
