"""The example AI gateway: `POST /v1/complete` answered by an LLM backend, protected by the plan.

At startup the gateway loads its reliability plan (``plan.yaml``, written by
``reliability plan examples/ai_gateway/system.yaml --format yaml``) and decorates each dependency
call with the policy of the same name:

- ``response-cache``: look the prompt up in the response cache (fallback: skip the cache);
- ``vector-db``: fetch retrieval context (fallback: answer without context);
- ``llm-primary``: ask the primary model (fallback: the secondary model);
- ``llm-secondary``: ask the secondary model (fallback: a cached or degraded answer).

Inbound concurrency goes through the bulkhead of the ``gateway`` policy when the plan has one.
``/metrics``, ``/healthz`` and ``/readyz`` come from `exporters.setup`. With a chaos token
(``--chaos-token`` or ``$RELIABILITY_CHAOS_TOKEN``) every dependency call also carries chaos
strategies — fault (HTTP 503), latency and outcome (HTTP 429) — off until switched on through the
token-protected ``/admin/chaos`` endpoint, which is what the experiments of
``reliability chaos generate`` do. `GET /v1/complete` answers a fresh probe prompt each time, for
HTTP probes and load. With ``--no-mechanisms``
the same gateway calls the primary model bare, as a service without this package would: the demo
runs both side by side. Run it with
``python -m examples.ai_gateway.gateway --port 9100 --primary URL --secondary URL``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

import exporters
import resilience
from chaos import FaultInjection, Injection, LatencyInjection
from chaos.admin import TOKEN_ENV, admin_routes, token_from_env
from resilience.integrations.aiohttp import parse_retry_after

HERE = Path(__file__).resolve().parent
PLAN = HERE / "plan.yaml"
INBOUND_POLICY = "gateway"
"""The plan's policy for the gateway's own inbound calls (its bulkhead caps concurrency)."""

Completion = dict[str, Any]


class BackendError(Exception):
    """A model backend answered with a failure status (5xx or 429)."""

    def __init__(self, backend: str, status: int, retry_after: float | None) -> None:
        super().__init__(f"{backend} answered HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class RateLimitedOutcome(FaultInjection):
    """The chaos "outcome" of a model API: an HTTP 429 with ``Retry-After: 1``, as `ask_model`
    reports one (a `BackendError`)."""

    fault = "outcome"

    def __init__(self, backend: str) -> None:
        super().__init__(lambda: BackendError(backend, 429, 1.0))


def chaos_strategies(backend: str, attempt_timeout: float | None) -> tuple[Injection, ...]:
    """Fault (503), latency (twice the attempt timeout) and outcome (429) strategies, all off."""
    slow = 2 * attempt_timeout if attempt_timeout else 5.0
    return (
        FaultInjection(lambda: BackendError(backend, 503, None)),
        LatencyInjection(slow),
        RateLimitedOutcome(backend),
    )


class ResponseCache:
    """A small LRU of prompt → completion: the ``response-cache`` component, in process."""

    def __init__(self, size: int = 1024) -> None:
        self._items: OrderedDict[str, Completion] = OrderedDict()
        self._size = size

    async def get(self, prompt: str) -> Completion | None:
        return self.peek(prompt)

    def peek(self, prompt: str) -> Completion | None:
        found = self._items.get(prompt)
        if found is not None:
            self._items.move_to_end(prompt)
        return found

    def put(self, prompt: str, completion: Completion) -> None:
        self._items[prompt] = completion
        self._items.move_to_end(prompt)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


async def retrieve_context(prompt: str) -> list[str]:
    """The ``vector-db`` stand-in: three deterministic 'nearest documents' for the prompt."""
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    return [f"doc-{digest[i : i + 6]}" for i in (0, 6, 12)]


async def ask_model(
    session: aiohttp.ClientSession, backend: str, url: str, prompt: str, context: list[str]
) -> Completion:
    """POST the prompt to a model backend; 5xx and 429 raise `BackendError` with Retry-After."""
    async with session.post(url, json={"prompt": prompt, "context": context}) as resp:
        if resp.status >= 500 or resp.status == 429:
            await resp.read()
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            raise BackendError(backend, resp.status, retry_after)
        resp.raise_for_status()
        body: Completion = await resp.json()
        return {**body, "served_by": backend}


def make_app(
    *,
    primary_url: str,
    secondary_url: str,
    plan_path: Path = PLAN,
    mechanisms: bool = True,
    registry: CollectorRegistry | None = None,
    chaos_token: str | None = None,
) -> web.Application:
    """The gateway application (with the plan's mechanisms, or bare with `mechanisms=False`).

    With `chaos_token`, every dependency call carries chaos strategies (off until switched on)
    and ``/admin/chaos`` is mounted behind that token.
    """
    registry = registry or CollectorRegistry()
    app = web.Application()
    cache = ResponseCache()
    session_key = web.AppKey("session", aiohttp.ClientSession)
    primary = f"{primary_url}/v1/complete"
    secondary = f"{secondary_url}/v1/complete"

    async def open_session(app: web.Application) -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            app[session_key] = session
            yield

    app.cleanup_ctx.append(open_session)

    def degraded(failure: BaseException | object, prompt: str, context: list[str]) -> Completion:
        return {
            "completion": "The assistant is busy; please retry shortly.",
            "served_by": "degraded",
        }

    if mechanisms:
        plan = resilience.load_plan(plan_path)
        resilience.add_hook(exporters.PrometheusHook(registry=registry))

        async def from_cache_or_degraded(
            failure: BaseException | object, prompt: str, context: list[str]
        ) -> Completion:
            cached = cache.peek(prompt)
            if cached is not None:
                return {**cached, "served_by": "cache"}
            return degraded(failure, prompt, context)

        def protect(name: str, fallback: Callable[..., Any]) -> resilience.PlanPolicy:
            """The plan's policy `name`, with chaos strategies innermost when chaos is on."""
            strategies = (
                () if chaos_token is None else chaos_strategies(name, plan.config(name).timeout)
            )
            return plan.policy(name, fallback=fallback, chaos=strategies or None)

        @protect("llm-secondary", from_cache_or_degraded)
        async def ask_secondary(prompt: str, context: list[str]) -> Completion:
            return await ask_model(app[session_key], "secondary", secondary, prompt, context)

        async def to_secondary(
            failure: BaseException | object, prompt: str, context: list[str]
        ) -> Completion:
            result: Completion = await ask_secondary(prompt, context)
            return result

        @protect("llm-primary", to_secondary)
        async def ask_primary(prompt: str, context: list[str]) -> Completion:
            return await ask_model(app[session_key], "primary", primary, prompt, context)

        lookup: Callable[[str], Awaitable[Completion | None]] = protect(
            "response-cache", lambda failure, prompt: None
        )(cache.get)
        context_for: Callable[[str], Awaitable[list[str]]] = protect(
            "vector-db", lambda failure, prompt: []
        )(retrieve_context)
        inbound = plan.policy(INBOUND_POLICY) if INBOUND_POLICY in plan else None
    else:

        async def ask_primary(prompt: str, context: list[str]) -> Completion:
            return await ask_model(app[session_key], "primary", primary, prompt, context)

        lookup = cache.get
        context_for = retrieve_context
        inbound = None

    async def answer(prompt: str) -> Completion:
        hit = await lookup(prompt)
        if hit is not None:
            return {**hit, "served_by": "cache"}
        result: Completion = await ask_primary(prompt, await context_for(prompt))
        if result.get("served_by") in ("primary", "secondary"):
            cache.put(prompt, result)
        return result

    probes = itertools.count(1)

    async def complete(request: web.Request) -> web.Response:
        if request.method == "GET":
            # A fresh prompt each time, so probes and load reach the models, not the cache.
            prompt = request.query.get("prompt") or f"probe {next(probes)}"
        else:
            try:
                body = await request.json()
                prompt = str(body["prompt"])
            except (ValueError, KeyError, TypeError):
                return web.json_response(
                    {"error": "expected a JSON body with a 'prompt'"}, status=400
                )
        try:
            if inbound is not None:
                async with inbound:
                    result = await answer(prompt)
            else:
                result = await answer(prompt)
        except resilience.RejectedError as exc:
            retry_after = f"{exc.retry_after:.0f}" if exc.retry_after else "1"
            return web.json_response(
                {"error": str(exc)}, status=503, headers={"Retry-After": retry_after}
            )
        except (BackendError, aiohttp.ClientError, TimeoutError) as exc:
            return web.json_response({"error": str(exc) or type(exc).__name__}, status=502)
        return web.json_response(result)

    app.router.add_post("/v1/complete", complete)
    app.router.add_get("/v1/complete", complete)
    chaos_routes = admin_routes(chaos_token) if chaos_token is not None and mechanisms else []
    exporters.setup(app, registry=registry, extra_routes=chaos_routes)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the gateway on 127.0.0.1."""
    parser = argparse.ArgumentParser(description="The example AI gateway.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--primary", required=True, help="primary model base URL")
    parser.add_argument("--secondary", required=True, help="secondary model base URL")
    parser.add_argument("--plan", type=Path, default=PLAN)
    parser.add_argument(
        "--no-mechanisms",
        action="store_true",
        help="call the primary model bare (the demo's comparison)",
    )
    parser.add_argument(
        "--chaos-token",
        default=token_from_env(),
        help=f"mount /admin/chaos behind this token (default ${TOKEN_ENV}; "
        "unset or empty: no chaos)",
    )
    args = parser.parse_args(argv)
    app = make_app(
        primary_url=args.primary,
        secondary_url=args.secondary,
        plan_path=args.plan,
        mechanisms=not args.no_mechanisms,
        chaos_token=args.chaos_token or None,
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
