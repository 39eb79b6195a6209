"""A stand-in LLM model server with behaviour you can change while it runs.

`POST /v1/complete` answers like a model API; `GET/POST /admin/behaviour` reads or changes how it
behaves: latency (log-normal from p50 and p99), error rate (HTTP 500), a 429 storm with
`Retry-After`, or hard down (connections dropped without an answer). Used by the AI-gateway
example and its demo; run one alone with
``python -m examples.ai_gateway.backend --port 9101 --name primary``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from aiohttp import web

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


@dataclass
class Behaviour:
    """How the backend answers; every field can be changed at runtime."""

    latency_p50: float = 0.05
    latency_p99: float = 0.20
    error_rate: float = 0.0
    rate_limited: bool = False
    retry_after: float = 1.0
    down: bool = False

    def latency(self, rng: random.Random) -> float:
        """A latency drawn from the log-normal with this p50 and p99."""
        mu = math.log(self.latency_p50)
        sigma = max(0.0, (math.log(self.latency_p99) - mu) / _Z99)
        return rng.lognormvariate(mu, sigma)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes`; unknown fields or wrong types raise ValueError."""
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown behaviour field {key!r}; known: {sorted(known)}")
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            setattr(self, key, type(current)(value))


def make_app(name: str, behaviour: Behaviour | None = None, seed: int = 0) -> web.Application:
    """The backend's aiohttp application."""
    state = behaviour or Behaviour()
    rng = random.Random(seed)
    app = web.Application()
    app["behaviour"] = state
    app["served"] = 0

    async def complete(request: web.Request) -> web.StreamResponse:
        if state.down:
            # Hard down: the connection closes without an answer, as a crashed server's would.
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        if state.rate_limited:
            return web.json_response(
                {"error": "rate limited"},
                status=429,
                headers={"Retry-After": f"{state.retry_after:g}"},
            )
        await asyncio.sleep(state.latency(rng))
        if state.error_rate and rng.random() < state.error_rate:
            return web.json_response({"error": "internal error"}, status=500)
        body = await request.json() if request.can_read_body else {}
        app["served"] += 1
        prompt = str(body.get("prompt", ""))
        return web.json_response({"model": name, "completion": f"[{name}] {prompt[:64]}"})

    async def get_behaviour(request: web.Request) -> web.Response:
        return web.json_response({"name": name, "served": app["served"], **asdict(state)})

    async def set_behaviour(request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            state.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return await get_behaviour(request)

    app.router.add_post("/v1/complete", complete)
    app.router.add_get("/admin/behaviour", get_behaviour)
    app.router.add_post("/admin/behaviour", set_behaviour)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run one backend on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="primary")
    parser.add_argument("--p50", type=float, default=0.05, help="latency p50, seconds")
    parser.add_argument("--p99", type=float, default=0.20, help="latency p99, seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    behaviour = Behaviour(latency_p50=args.p50, latency_p99=args.p99)
    web.run_app(
        make_app(args.name, behaviour, args.seed),
        host="127.0.0.1",
        port=args.port,
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
