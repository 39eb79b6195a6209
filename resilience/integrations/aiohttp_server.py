"""An inbound adaptive concurrency limit for an aiohttp server, shedding by criticality.

::

    limiter = AdaptiveLimiter(max_limit=plan_bulkhead)
    app = web.Application(middlewares=[limit_middleware(limiter)])

Each request's criticality comes from the ``X-Request-Criticality`` header (critical, default,
sheddable; missing or unknown is default) and is set as `resilience.shedding.criticality_var`
for the handler, so outgoing calls it makes carry it on. A request over its class's share of the
limit gets ``503`` (or `status`) with ``Retry-After`` and never reaches the handler; an admitted
one is timed and its RTT moves the limit. A handler that raises `TimeoutError` is a congestion
signal; an HTTP error response is a sample like any other; another exception (a bug, a 500)
gives no sample, as in `AdaptiveLimiter`; a cancelled request (the client went
away) gives its permit back without a sample. Added in 0.2.0.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from resilience import _clock
from resilience._errors import ConfigError
from resilience.adaptive import AdaptiveLimiter
from resilience.shedding import CRITICALITY_HEADER, criticality_var, parse_criticality

__all__ = ["limit_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def limit_middleware(
    limiter: AdaptiveLimiter, *, status: int = 503, header: str = CRITICALITY_HEADER
) -> Middleware:
    """An aiohttp server middleware enforcing `limiter` per request (see the module docstring)."""
    if status not in (429, 503):
        raise ConfigError(f"limit_middleware status: expected 429 or 503, got {status!r}")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        level = parse_criticality(request.headers.get(header))
        if not limiter.try_acquire(level):
            refused = limiter.rejection("", level)
            retry_after = str(max(1, math.ceil(refused.retry_after or 1)))
            return web.Response(
                status=status,
                text=f"{refused}\n",
                headers={"Retry-After": retry_after},
            )
        token = criticality_var.set(level)
        start = _clock.monotonic()
        rtt: float | None = None
        dropped = False
        try:
            response = await handler(request)
            rtt = _clock.monotonic() - start
            return response
        except web.HTTPException:
            rtt = _clock.monotonic() - start
            raise
        except TimeoutError:
            rtt, dropped = _clock.monotonic() - start, True
            raise
        finally:
            criticality_var.reset(token)
            limiter.release(rtt, dropped=dropped)

    return middleware
