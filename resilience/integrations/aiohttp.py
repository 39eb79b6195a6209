"""Resilience for outgoing aiohttp requests: a client middleware that runs each request through a
`Policy`.

::

    plan = resilience.load_plan("plan.yaml")
    async with aiohttp.ClientSession(
        middlewares=(resilience_middleware(plan.policy("llm-primary")),)
    ) as session:
        async with session.get(url) as response: ...

What the policy sees:

- A response with a failure status (5xx or 429 by default, `failure_status=` to change) is a
  failure: `HTTPStatusFailure`, an `aiohttp.ClientResponseError`, so a plan's
  ``retry_on: [aiohttp.ClientError]`` retries it and the breaker records it. Its body is read
  before it is raised, so the connection goes back to the pool and the caller can still read it.
- ``Retry-After`` (delta-seconds or an HTTP date) becomes the failure's `retry_after`, which
  `Retry` honours up to its `max_retry_after`.
- Methods that are not idempotent (POST, PATCH, CONNECT...) make exactly one attempt: no retry,
  no hedge, no fallback (the breaker, timeouts, bulkhead and rate limiter still apply), unless
  the method is listed in `idempotent_methods` or the request carries an ``Idempotency-Key``
  header.
- The request's ``host:port`` is the call's key (`resilience.keyed.call_key_var`): a
  `KeyedBreaker` in the policy keeps one breaker per host, and its outlier detection ejects a
  bad host (`HostEjectedError`) while the others serve.
- The caller gets what aiohttp would give: the last response, even a failed one (so
  ``raise_for_status`` and status checks keep working), or the exception of a connection error,
  a timeout or a rejection (`CircuitOpenError`, `RateLimitedError`, `BulkheadFullError`).

Fallbacks: the middleware runs every layer of the policy except its fallback, because a fallback
handler returns your function's value (a cached answer, a secondary provider's reply), not an
`aiohttp.ClientResponse` the middleware could hand back. The final error reaches the caller of
``session.get(...)``, and the policy's fallback serves at the function level: decorate the function
that makes the request with ``policy.fallback`` (the policy's `Fallback`, usable alone)::

    llm = plan.policy("llm-primary", fallback=call_secondary)
    session = aiohttp.ClientSession(middlewares=(resilience_middleware(llm),))

    @llm.fallback                  # serves call_secondary(error, prompt) when the request fails
    async def complete(prompt: str) -> str:
        async with session.post(url, json={"prompt": prompt}) as response:
            return await response.text()

A final failure status (5xx, 429) is returned as the response itself, as aiohttp would, so a
function-level fallback sees it only if the function raises on it (``raise_for_status()``).
Hedged attempts share aiohttp's request object, which aiohttp supports for requests without a
body (GET, HEAD, OPTIONS...).

Needs aiohttp ≥ 3.12 (client middlewares). Added in 0.1.0.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import aiohttp
from aiohttp import ClientRequest, ClientResponse
from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType

from resilience.integrations._http import IDEMPOTENT_METHODS, is_failure_status, parse_retry_after
from resilience.keyed import call_key_var
from resilience.policy import Policy

__all__ = [
    "IDEMPOTENT_METHODS",
    "HTTPStatusFailure",
    "is_failure_status",
    "parse_retry_after",
    "resilience_middleware",
]

PolicyChoice = Policy | Callable[[ClientRequest], Policy | None]


class HTTPStatusFailure(aiohttp.ClientResponseError):
    """A response counted as a failure (5xx or 429 by default): retried, recorded by the breaker.

    `response` is the response (its body already read); `retry_after` the seconds its
    ``Retry-After`` asked for, or None.
    """

    def __init__(self, response: ClientResponse) -> None:
        super().__init__(
            response.request_info,
            response.history,
            status=response.status,
            message=response.reason or "",
            headers=response.headers,
        )
        self.response = response
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))

    def __str__(self) -> str:
        hint = f", retry after {self.retry_after:g}s" if self.retry_after is not None else ""
        info = self.request_info
        return f"{self.status} {self.message} from {info.method} {info.url}{hint}"


def resilience_middleware(
    policy: PolicyChoice,
    *,
    idempotent_methods: Collection[str] = IDEMPOTENT_METHODS,
    failure_status: Callable[[int], bool] = is_failure_status,
) -> ClientMiddlewareType:
    """An aiohttp client middleware running every request through `policy`.

    `policy` is a `Policy` (e.g. ``plan.policy("llm-primary")``) or a function of the request
    returning one, or None to let the request through untouched (e.g. a policy per host).
    `idempotent_methods` are the methods that may be retried and hedged; `failure_status` says
    which statuses are failures. See the module docstring for the details.
    """
    if not callable(failure_status):
        raise TypeError(
            f"failure_status: expected a function of the status, got {failure_status!r}"
        )
    methods = frozenset(m.upper() for m in idempotent_methods)
    choose: Callable[[ClientRequest], Policy | None]
    if isinstance(policy, Policy):
        fixed = policy
        choose = lambda _request: fixed  # noqa: E731
    elif callable(policy):
        choose = policy
    else:
        raise TypeError(f"policy: expected a Policy or a function returning one, got {policy!r}")

    async def attempt(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        response = await handler(request)
        if failure_status(response.status):
            # Read the (usually small) error body: the connection returns to the pool now, and
            # the caller can still read the body if this turns out to be the final response.
            try:
                await response.read()
            except aiohttp.ClientError:
                response.release()
            raise HTTPStatusFailure(response)
        return response

    decorated: dict[int, tuple[Policy, Callable[..., Any]]] = {}

    def repeatable(chosen: Policy) -> Callable[..., Any]:
        entry = decorated.get(id(chosen))
        if entry is None or entry[0] is not chosen:
            # Decorated once per policy, not per request; without the fallback (module docstring).
            entry = (chosen, chosen._decorate_without_fallback(attempt))
            decorated[id(chosen)] = entry
        return entry[1]

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        chosen = choose(request)
        if chosen is None:
            return await handler(request)
        # A KeyedBreaker in the policy keeps one breaker (and outlier state) per host.
        token = call_key_var.set(f"{request.url.host}:{request.url.port}")
        try:
            return await run(chosen, request, handler)
        finally:
            call_key_var.reset(token)

    async def run(
        chosen: Policy, request: ClientRequest, handler: ClientHandlerType
    ) -> ClientResponse:
        try:
            if request.method in methods or "Idempotency-Key" in request.headers:
                result: ClientResponse = await repeatable(chosen)(request, handler)
                return result
            response: ClientResponse | None = None
            async with chosen:  # one attempt: no retry, no hedge, no fallback
                response = await attempt(request, handler)
        except HTTPStatusFailure as failure:
            return failure.response
        if response is None:  # pragma: no cover - only if a custom layer swallowed the error
            raise RuntimeError(f"policy {chosen.name!r} swallowed the request's error")
        return response

    return middleware
