"""Resilience for outgoing httpx requests: transports for `httpx.AsyncClient` and `httpx.Client`
that run each request through a `Policy`.

::

    plan = resilience.load_plan("plan.yaml")
    routes = PolicyRoutes(plan, {"llm.example.com": "llm-primary", "search.internal": "vector-db"})
    async with httpx.AsyncClient(transport=ResilientTransport(routes)) as client:
        response = await client.get("https://llm.example.com/v1/complete")

    with httpx.Client(transport=ResilientSyncTransport(plan.policy("billing"))) as client: ...

What the policy sees (the same rules as `resilience.integrations.aiohttp`):

- A response with a failure status (5xx or 429 by default, `failure_status=` to change) is a
  failure: `HTTPStatusFailure`, an `httpx.HTTPStatusError` (so a plan's
  ``retry_on: [httpx.HTTPError]`` retries it and the breaker records it), its body read first so
  the connection goes back to the pool. Connection errors and httpx timeouts are failures as
  they are (`httpx.TransportError`).
- ``Retry-After`` (delta-seconds or an HTTP date) becomes the failure's `retry_after`, which
  `Retry` honours up to its `max_retry_after`.
- Methods that are not idempotent (POST, PATCH, CONNECT...) make exactly one attempt: no retry,
  no hedge, no fallback (breaker, timeouts, bulkhead and rate limiter still apply), unless the
  method is in `idempotent_methods` or the request carries an ``Idempotency-Key`` header.
- The request's ``host:port`` is the call's key (`resilience.keyed.call_key_var`): a
  `KeyedBreaker` in the policy keeps one breaker per host, and its outlier detection ejects a
  bad host (`HostEjectedError`) while the others serve. The key is set only for a policy with a
  layer that reads it (`Policy.reads_call_key`; a layer of your own says so with a
  ``reads_call_key = True`` attribute): the other policies' requests skip that work.
- The caller gets what httpx would give: the last response, even a failed one (so
  ``raise_for_status()`` keeps working), or the exception of a connection error, a timeout or a
  rejection (`CircuitOpenError`, `RateLimitedError`, `BulkheadFullError`).
- A plan fallback stands in for the response. Its handler is ``handler(failure, request)``
  (`HTTPFallback`) and returns an `httpx.Response`, or a value that becomes a 200 response:
  ``bytes``/``str`` as the body, anything else as JSON; the response carries
  ``X-Resilience-Fallback: <policy>`` so callers can tell. Any other return is a `TypeError`.

The sync transport runs the policy's sync layers (`SyncRunner`): the attempt timeout is httpx's
own timeout of each attempt, capped by the policy's deadline. Needs the ``httpx`` extra.
Added in 0.1.0.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeAlias

import httpx

from resilience import _clock
from resilience._core import CallContext, Step, _finished
from resilience._events import Emitter
from resilience.integrations._http import (
    IDEMPOTENT_METHODS,
    PolicyRoutes,
    SyncRunner,
    is_failure_status,
    parse_retry_after,
)
from resilience.keyed import call_key_var
from resilience.policy import Policy

__all__ = [
    "IDEMPOTENT_METHODS",
    "FallbackValue",
    "HTTPFallback",
    "HTTPStatusFailure",
    "PolicyRoutes",
    "ResilientSyncTransport",
    "ResilientTransport",
    "fallback_response",
]

FALLBACK_HEADER = "X-Resilience-Fallback"
"""Set on a response a fallback made from a value: the name of the policy."""

FallbackValue: TypeAlias = "httpx.Response | bytes | str | dict[str, Any] | list[Any]"
"""What a fallback handler may return: a response, or a body made into a 200 response."""

HTTPFallback: TypeAlias = Callable[
    [BaseException | object, httpx.Request], "FallbackValue | Awaitable[FallbackValue]"
]
"""A fallback handler for a policy used by these transports: ``(failure, request)``."""


PolicyChoice: TypeAlias = Policy | PolicyRoutes | Callable[[httpx.Request], Policy | None]


class HTTPStatusFailure(httpx.HTTPStatusError):
    """A response counted as a failure (5xx or 429 by default): retried, recorded by the breaker.

    `response` is the response (its body already read); `retry_after` the seconds its
    ``Retry-After`` asked for, or None.
    """

    def __init__(self, request: httpx.Request, response: httpx.Response) -> None:
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        hint = f", retry after {self.retry_after:g}s" if self.retry_after is not None else ""
        super().__init__(
            f"{response.status_code} {response.reason_phrase} from {request.method} "
            f"{request.url}{hint}",
            request=request,
            response=response,
        )


def fallback_response(policy: str, value: object, request: httpx.Request) -> httpx.Response:
    """The response a fallback's `value` stands for (see the module docstring)."""
    if isinstance(value, httpx.Response):
        return value
    headers = {FALLBACK_HEADER: policy}
    if isinstance(value, bytes | str):
        return httpx.Response(200, content=value, headers=headers, request=request)
    if isinstance(value, dict | list):
        body = json.dumps(value).encode()
        headers["Content-Type"] = "application/json"
        return httpx.Response(200, content=body, headers=headers, request=request)
    raise TypeError(
        f"policy {policy!r}: a fallback for an HTTP client must return an httpx.Response, bytes, "
        f"str, dict or list, got {type(value).__name__}"
    )


def _chooser(policy: PolicyChoice) -> Callable[[httpx.Request], Policy | None]:
    if isinstance(policy, Policy):
        fixed = policy
        return lambda _request: fixed
    if isinstance(policy, PolicyRoutes):
        routes = policy
        return lambda r: routes.choose(r.url.host, r.url.port, r.url.path)
    if callable(policy):
        return policy
    raise TypeError(
        f"policy: expected a Policy, PolicyRoutes or a function returning one, got {policy!r}"
    )


def _repeatable(request: httpx.Request, methods: frozenset[str]) -> bool:
    return request.method in methods or "Idempotency-Key" in request.headers


class _Options:
    def __init__(
        self,
        policy: PolicyChoice,
        idempotent_methods: Collection[str],
        failure_status: Callable[[int], bool],
    ) -> None:
        if not callable(failure_status):
            raise TypeError(
                f"failure_status: expected a function of the status, got {failure_status!r}"
            )
        self.choose = _chooser(policy)
        self.methods = frozenset(m.upper() for m in idempotent_methods)
        self.failure_status = failure_status


class _RequestContext(CallContext):
    """The `CallContext` of one request through a `ResilientTransport`, which is also its call:
    `send` makes one attempt (sends ``args[0]``, a failure status raised as `HTTPStatusFailure`).

    Made by a bare class call (no `__init__` runs): the transport sets every attribute.
    """

    __slots__ = ("transport",)
    __init__ = object.__init__
    transport: ResilientTransport

    async def send(self) -> httpx.Response:
        """One attempt of the request."""
        transport = self.transport
        request: httpx.Request = self.args[0]
        response = await transport._send(request)
        status = response.status_code
        # The default statuses inline: a function call less on every response.
        if (
            (status >= 500 or status == 429)
            if transport._default_status
            else transport._failure_status(status)
        ):
            try:  # the error body is usually small; reading it frees the connection
                await response.aread()
            except httpx.HTTPError:
                await response.aclose()
            raise HTTPStatusFailure(request, response)
        return response


class ResilientTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncClient` transport running every request through a policy.

    `policy`: a `Policy`, a `PolicyRoutes` (per host or route), or a function of the request
    returning a policy or None (no policy: the request goes through untouched). `transport`: the
    transport that sends (default `httpx.AsyncHTTPTransport()`). Added in 0.1.0.
    """

    def __init__(
        self,
        policy: PolicyChoice,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        idempotent_methods: Collection[str] = IDEMPOTENT_METHODS,
        failure_status: Callable[[int], bool] = is_failure_status,
    ) -> None:
        options = _Options(policy, idempotent_methods, failure_status)
        # Plain attributes, read once per request: this is the hot path of every request.
        self._choose, self._methods = options.choose, options.methods
        self._failure_status = options.failure_status
        self._default_status = options.failure_status is is_failure_status
        self._fixed = policy if isinstance(policy, Policy) else None
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._send = self._inner.handle_async_request
        self._steps: dict[int, tuple[Policy, Step[Any], str, Emitter]] = {}
        self._last: tuple[Policy, Step[Any], str, Emitter] | None = None

    def _step(self, policy: Policy) -> tuple[Policy, Step[Any], str, Emitter]:
        # The policy's pipeline, looked up once per policy, not per request (a plan policy's
        # step reads its current layers on every call, so a reload still applies).
        entry = self._steps.get(id(policy))
        if entry is None or entry[0] is not policy:
            step, _sync = policy._pipelines()
            entry = self._steps[id(policy)] = (policy, step, policy.name, policy.emitter)
        self._last = entry  # most clients call one policy: no lookup while it stays the same
        return entry

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through its policy."""
        chosen = self._fixed or self._choose(request)
        if chosen is None:
            return await self._send(request)
        # A KeyedBreaker's key, one per host; only for a policy that reads it (~0.4 µs).
        token = call_key_var.set(_host_key(request)) if chosen.reads_call_key else None
        try:
            if request.method not in self._methods and "Idempotency-Key" not in request.headers:
                # Only for its `send`: the layers get the `async with` block's own context.
                once: _RequestContext = _RequestContext()
                once.transport, once.args = self, (request,)
                async with chosen:  # one attempt: no retry, no hedge, no fallback
                    return await once.send()
            # What `Policy.__call__`'s wrapper does, inline: one coroutine less per request.
            entry = self._last
            if entry is None or entry[0] is not chosen:
                entry = self._step(chosen)
            _policy, step, name, emitter = entry
            # `new_context` inline, and the context's bound `attempt` is the call: a function
            # call and a partial less per request (~900 instructions, callgrind).
            ctx: _RequestContext = _RequestContext()
            ctx.policy = name
            ctx.emitter = emitter
            ctx.args = (request,)
            ctx.kwargs = {}
            ctx.once = False
            ctx.attempt = 1
            ctx.fallback_used = False
            ctx.transport = self
            call = ctx.send
            if not emitter.handlers:
                value = await step(call, ctx)
            else:
                start = _clock.monotonic()
                try:
                    value = await step(call, ctx)
                except Exception as exc:
                    _finished(ctx, start, exc)
                    raise
                _finished(ctx, start, None)
            if isinstance(value, httpx.Response):
                return value
            return fallback_response(name, value, request)
        except HTTPStatusFailure as failure:
            return failure.response
        finally:
            if token is not None:
                call_key_var.reset(token)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


def _host_key(request: httpx.Request) -> str:
    """The key a `KeyedBreaker` keeps per host: ``host:port`` (the scheme's port if none)."""
    url = request.url
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


class ResilientSyncTransport(httpx.BaseTransport):
    """An `httpx.Client` transport running every request through a policy's sync layers.

    The same arguments as `ResilientTransport` (`transport` default `httpx.HTTPTransport()`).
    The policy's attempt timeout becomes httpx's timeout of each attempt (see `SyncRunner`); a
    policy with a layer that cannot run sync calls raises `TypeError` on its first request
    (at once for a fixed `Policy`). Added in 0.1.0.
    """

    def __init__(
        self,
        policy: PolicyChoice,
        *,
        transport: httpx.BaseTransport | None = None,
        idempotent_methods: Collection[str] = IDEMPOTENT_METHODS,
        failure_status: Callable[[int], bool] = is_failure_status,
    ) -> None:
        self._options = _Options(policy, idempotent_methods, failure_status)
        self._inner = transport if transport is not None else httpx.HTTPTransport()
        self._runners: dict[int, SyncRunner] = {}
        if isinstance(policy, Policy):
            self._runner(policy).check()

    def _runner(self, policy: Policy) -> SyncRunner:
        runner = self._runners.get(id(policy))
        if runner is None or runner.policy is not policy:
            runner = self._runners[id(policy)] = SyncRunner(policy)
        return runner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through its policy."""
        chosen = self._options.choose(request)
        if chosen is None:
            return self._inner.handle_request(request)
        given = dict(request.extensions.get("timeout") or {})

        def attempt(timeout: float | None) -> httpx.Response:
            if timeout is not None:
                request.extensions["timeout"] = {
                    k: timeout if given.get(k) is None else min(timeout, given[k])
                    for k in ("connect", "read", "write", "pool")
                }
            response = self._inner.handle_request(request)
            if self._options.failure_status(response.status_code):
                try:
                    response.read()
                except httpx.HTTPError:
                    response.close()
                raise HTTPStatusFailure(request, response)
            return response

        repeat = _repeatable(request, self._options.methods)
        # A KeyedBreaker's key, one per host; only for a policy that reads it.
        token = call_key_var.set(_host_key(request)) if chosen.reads_call_key else None
        try:
            value = self._runner(chosen).run(attempt, (request,), repeat)
        except HTTPStatusFailure as failure:
            return failure.response
        finally:
            if token is not None:
                call_key_var.reset(token)
        return fallback_response(chosen.name, value, request)

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()
