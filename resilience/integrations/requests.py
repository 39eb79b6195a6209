"""Resilience for `requests`: an `HTTPAdapter` that runs each request through a `Policy`.

::

    plan = resilience.load_plan("plan.yaml")
    session = requests.Session()
    session.mount("https://billing.internal/", ResilientAdapter(plan.policy("billing")))
    session.mount("https://", ResilientAdapter(PolicyRoutes(plan, {"llm.example.com": "llm"})))

The same rules as the httpx and aiohttp integrations: 5xx and 429 are failures
(`HTTPStatusFailure`, a `requests.HTTPError`, so ``retry_on: [requests.RequestException]``
retries it and the breaker records it), ``Retry-After`` is honoured up to `max_retry_after`,
methods that are not idempotent make one attempt (no retry, no fallback) unless marked, and the
caller gets the last response, the connection error, or the rejection. A fallback handler is
``handler(failure, request)`` with the `requests.PreparedRequest`, and returns a
`requests.Response` or a value that becomes a 200 response (``bytes``/``str`` body, else JSON,
with ``X-Resilience-Fallback: <policy>``).

Timeouts: a sync call cannot be interrupted from outside, so the policy's attempt timeout is
*requests' own timeout* of each attempt (connect and read), capped by what is left of the
policy's deadline and by a smaller ``timeout=`` the caller passes; a policy without one leaves
the caller's timeout as it is. Breaker, retry, bulkhead and fallback run as for sync functions;
hedging is left out. The adapter's own urllib3 retries stay off (``max_retries=0``) so the
policy's `Retry` is the only one. Needs the ``requests`` extra. Added in 0.1.0.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from resilience.integrations._http import (
    IDEMPOTENT_METHODS,
    PolicyRoutes,
    SyncRunner,
    is_failure_status,
    parse_retry_after,
)
from resilience.policy import Policy

__all__ = [
    "IDEMPOTENT_METHODS",
    "HTTPStatusFailure",
    "PolicyRoutes",
    "ResilientAdapter",
]

FALLBACK_HEADER = "X-Resilience-Fallback"

Timeouts = float | tuple[float, float] | tuple[float, None] | None

PolicyChoice = Policy | PolicyRoutes | Callable[[requests.PreparedRequest], Policy | None]


class HTTPStatusFailure(requests.HTTPError):
    """A response counted as a failure (5xx or 429 by default): retried, recorded by the breaker.

    `response` is the response (its body already read); `retry_after` the seconds its
    ``Retry-After`` asked for, or None.
    """

    def __init__(self, response: requests.Response) -> None:
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        hint = f", retry after {self.retry_after:g}s" if self.retry_after is not None else ""
        request = response.request
        super().__init__(
            f"{response.status_code} {response.reason} from {request.method} {request.url}{hint}",
            response=response,
            request=request,
        )


def _cap(given: Timeouts, attempt: float | None) -> Timeouts:
    """The caller's `given` timeout, each part no longer than `attempt` seconds."""
    if attempt is None:
        return given
    if given is None:
        return attempt
    if isinstance(given, tuple):
        connect, read = given
        return (min(connect, attempt), attempt if read is None else min(read, attempt))
    return min(given, attempt)


def _fallback_response(
    policy: str, value: object, request: requests.PreparedRequest
) -> requests.Response:
    if isinstance(value, requests.Response):
        return value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        body, content_type = value, "application/octet-stream"
    elif isinstance(value, dict | list):
        body, content_type = json.dumps(value).encode(), "application/json"
    else:
        raise TypeError(
            f"policy {policy!r}: a fallback for an HTTP client must return a requests.Response, "
            f"bytes, str, dict or list, got {type(value).__name__}"
        )
    response = requests.Response()
    response.status_code = 200
    response.reason = "OK"
    response._content = body
    response.headers.update({FALLBACK_HEADER: policy, "Content-Type": content_type})
    response.request = request
    response.url = request.url or ""
    response.encoding = "utf-8"
    return response


class ResilientAdapter(HTTPAdapter):
    """A `requests` transport adapter running every request through a policy's sync layers.

    `policy`: a `Policy`, a `PolicyRoutes` (per host or route), or a function of the prepared
    request returning a policy or None (sent untouched). Other keywords go to `HTTPAdapter`
    (``pool_maxsize``...). Added in 0.1.0.
    """

    def __init__(
        self,
        policy: PolicyChoice,
        *,
        idempotent_methods: Collection[str] = IDEMPOTENT_METHODS,
        failure_status: Callable[[int], bool] = is_failure_status,
        **adapter_options: Any,
    ) -> None:
        if not callable(failure_status):
            raise TypeError(
                f"failure_status: expected a function of the status, got {failure_status!r}"
            )
        self._choose: Callable[[requests.PreparedRequest], Policy | None]
        if isinstance(policy, Policy):
            fixed = policy
            self._choose = lambda _request: fixed
        elif isinstance(policy, PolicyRoutes):
            routes = policy
            self._choose = lambda r: routes.for_url(r.url or "")
        elif callable(policy):
            self._choose = policy
        else:
            raise TypeError(
                "policy: expected a Policy, PolicyRoutes or a function returning one, "
                f"got {policy!r}"
            )
        self._methods = frozenset(m.upper() for m in idempotent_methods)
        self._failure_status = failure_status
        self._runners: dict[int, SyncRunner] = {}
        adapter_options.setdefault("max_retries", 0)
        super().__init__(**adapter_options)
        if isinstance(policy, Policy):
            self._runner(policy).check()

    def _runner(self, policy: Policy) -> SyncRunner:
        runner = self._runners.get(id(policy))
        if runner is None or runner.policy is not policy:
            runner = self._runners[id(policy)] = SyncRunner(policy)
        return runner

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeouts = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send `request` through its policy."""
        chosen = self._choose(request)
        if chosen is None:
            return super().send(request, stream, timeout, verify, cert, proxies)

        def attempt(seconds: float | None) -> requests.Response:
            response = super(ResilientAdapter, self).send(
                request, stream, _cap(timeout, seconds), verify, cert, proxies
            )
            if self._failure_status(response.status_code):
                try:
                    response.content  # noqa: B018 - read the body: the connection is released
                except requests.RequestException:
                    response.close()
                raise HTTPStatusFailure(response)
            return response

        method = (request.method or "GET").upper()
        repeat = method in self._methods or "Idempotency-Key" in request.headers
        try:
            value = self._runner(chosen).run(attempt, (request,), repeat)
        except HTTPStatusFailure as failure:
            assert failure.response is not None
            return failure.response
        return _fallback_response(chosen.name, value, request)
