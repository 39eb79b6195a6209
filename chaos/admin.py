"""An aiohttp admin endpoint that switches chaos strategies on and off per policy at runtime.

Off by default twice over: the routes exist only when you mount them with a token, and every
strategy starts disabled. Every request must carry ``Authorization: Bearer <token>``; without it,
or with a wrong one, the endpoint answers 401 and changes nothing (the token is compared in
constant time). Mount it on the service's own app::

    from chaos.admin import setup_admin, token_from_env

    token = token_from_env()            # RELIABILITY_CHAOS_TOKEN, or None
    if token:
        setup_admin(app, token=token)   # routes under /admin/chaos

Routes (JSON in, JSON out):

- ``GET {prefix}``: every policy's strategies (fault, enabled, injection_rate, injected, latency).
- ``POST {prefix}/{policy}`` with ``{"enabled": true, "injection_rate": 0.5, "fault": "fault",
  "latency": 3}``: switch the policy's strategies (only those of one `fault` kind when given).
  Unknown fields, bad values and unknown policies change nothing (400 / 404).
- ``POST {prefix}/reset``: switch every strategy off, the universal rollback (so a policy named
  ``reset`` cannot be switched through this endpoint).

For FastAPI, Starlette or any ASGI app, `admin_asgi(token)` is the same endpoint as a plain ASGI
app, for ``exporters.asgi.setup(app, extra_routes=[admin_asgi(token)])``. Both share
`AdminCore`; request bodies over `MAX_BODY_BYTES` are refused with 413.

Added in 0.1.0.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from chaos.injection import FAULT_KINDS, ChaosRegistry, Injection, LatencyInjection
from chaos.injection import registry as default_registry
from resilience import ConfigError

TOKEN_ENV = "RELIABILITY_CHAOS_TOKEN"
"""The environment variable the admin token is read from by `token_from_env` and by experiments."""

DEFAULT_PREFIX = "/admin/chaos"
"""Where `setup_admin` mounts the routes."""


def token_from_env(name: str = TOKEN_ENV) -> str | None:
    """The admin token from the environment, or None when unset or empty (admin stays off)."""
    value = os.environ.get(name, "")
    return value or None


def describe_injection(injection: Injection) -> dict[str, Any]:
    """One strategy's state as JSON-ready values."""
    state: dict[str, Any] = {
        "fault": injection.fault,
        "enabled": injection.enabled,
        "injection_rate": injection.injection_rate,
        "injected": injection.injected,
    }
    if isinstance(injection, LatencyInjection) and not callable(injection.latency):
        state["latency"] = injection.latency
    return state


MAX_BODY_BYTES = 64 * 1024
"""The largest request body the admin endpoint reads (a switch request is a few dozen bytes)."""


@dataclass(frozen=True, slots=True)
class AdminAnswer:
    """One admin response, free of any web framework: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()

    def encoded(self) -> bytes:
        """The body as UTF-8 JSON."""
        return json.dumps(self.body).encode()


def _error(status: int, message: str) -> AdminAnswer:
    return AdminAnswer(status, {"error": message})


_UNAUTHORISED = AdminAnswer(
    401,
    {"error": "missing or wrong admin token"},
    (("WWW-Authenticate", 'Bearer realm="chaos"'),),
)


class AdminCore:
    """The admin endpoint's logic, shared by the aiohttp routes and the ASGI app.

    Each method takes the request's ``Authorization`` header (and body) and returns an
    `AdminAnswer`; nothing changes unless the token matches.
    """

    def __init__(self, token: str, registry: ChaosRegistry) -> None:
        self._token = token.encode()
        self._registry = registry

    def authorised(self, header: str | None) -> bool:
        """Whether `header` is ``Bearer <token>`` (compared in constant time)."""
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        try:
            presented = given.strip().encode()
        except UnicodeEncodeError:  # a header smuggled in as undecodable text
            return False
        # compare_digest: the time taken does not reveal how much of the token matched.
        return hmac.compare_digest(presented, self._token)

    def state(self) -> dict[str, Any]:
        """Every policy's strategies."""
        return {
            "policies": {
                policy: [describe_injection(i) for i in self._registry.injections(policy)]
                for policy in self._registry.policies()
            }
        }

    def get(self, authorization: str | None) -> AdminAnswer:
        """``GET {prefix}``."""
        if not self.authorised(authorization):
            return _UNAUTHORISED
        return AdminAnswer(200, self.state())

    def reset(self, authorization: str | None) -> AdminAnswer:
        """``POST {prefix}/reset``: every strategy off."""
        if not self.authorised(authorization):
            return _UNAUTHORISED
        switched = self._registry.disable_all()
        return AdminAnswer(200, {"disabled": switched, **self.state()})

    def switch(self, authorization: str | None, policy: str, raw: bytes) -> AdminAnswer:
        """``POST {prefix}/{policy}`` with a JSON object body."""
        if not self.authorised(authorization):
            return _UNAUTHORISED
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return _error(400, 'expected a JSON object body such as {"enabled": true}')
        if not isinstance(body, dict):
            return _error(400, 'expected a JSON object body such as {"enabled": true}')
        unknown = sorted(set(body) - {"enabled", "injection_rate", "fault", "latency"})
        if unknown:
            return _error(
                400,
                f"unknown field {unknown[0]!r}; expected enabled, injection_rate, fault, latency",
            )
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            return _error(400, f"field 'enabled': expected true or false, got {enabled!r}")
        fault = body.get("fault")
        if fault is not None and fault not in FAULT_KINDS:
            return _error(
                400, f"field 'fault': expected one of {', '.join(FAULT_KINDS)}, got {fault!r}"
            )
        targets = self._registry.injections(policy, fault)
        if not targets:
            kind = f" of kind {fault!r}" if fault else ""
            return _error(404, f"policy {policy!r} has no chaos strategy{kind}")
        rate = body.get("injection_rate")
        latency = body.get("latency")
        try:
            # Validate every value before changing anything: a bad request switches nothing.
            if rate is not None:
                Injection(injection_rate=rate)
            if latency is not None:
                LatencyInjection(latency)
        except ConfigError as exc:
            return _error(400, str(exc))
        for injection in targets:
            if latency is not None and isinstance(injection, LatencyInjection):
                injection.latency = latency
            if enabled:
                injection.enable(rate)
            else:
                if rate is not None:
                    injection.injection_rate = rate
                injection.disable()
        return AdminAnswer(
            200, {"policy": policy, "injections": [describe_injection(i) for i in targets]}
        )


def _response(answer: AdminAnswer) -> web.Response:
    return web.json_response(answer.body, status=answer.status, headers=dict(answer.headers))


def _core(token: str, registry: ChaosRegistry | None) -> AdminCore:
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(
            f"chaos admin token: expected a non-empty string (e.g. from ${TOKEN_ENV}); "
            "without a token the admin endpoint must not be mounted"
        )
    return AdminCore(token.strip(), registry if registry is not None else default_registry)


def admin_routes(
    token: str, *, registry: ChaosRegistry | None = None, prefix: str = DEFAULT_PREFIX
) -> list[web.RouteDef]:
    """The admin routes, for ``app.add_routes(...)``; `token` must be a non-empty string."""
    admin = _core(token, registry)
    prefix = prefix.rstrip("/")

    async def get(request: web.Request) -> web.Response:
        return _response(admin.get(request.headers.get("Authorization")))

    async def reset(request: web.Request) -> web.Response:
        return _response(admin.reset(request.headers.get("Authorization")))

    async def switch(request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        if not admin.authorised(authorization):  # no body is read for an unauthorised caller
            return _response(_UNAUTHORISED)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _response(_error(413, f"request body over {MAX_BODY_BYTES} bytes"))
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        return _response(admin.switch(authorization, request.match_info["policy"], raw))

    return [
        web.get(prefix, get),
        web.post(f"{prefix}/reset", reset),
        web.post(f"{prefix}/{{policy}}", switch),
    ]


def setup_admin(
    app: web.Application,
    *,
    token: str,
    registry: ChaosRegistry | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> None:
    """Mount the admin routes on `app` under `prefix` (requests need ``Bearer <token>``)."""
    app.add_routes(admin_routes(token, registry=registry, prefix=prefix))


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def admin_asgi(
    token: str, *, registry: ChaosRegistry | None = None, prefix: str = DEFAULT_PREFIX
) -> tuple[str, ASGIApp]:
    """The admin endpoint as a plain ASGI app, and the prefix it answers under.

    For ``exporters.asgi.setup(app, extra_routes=[admin_asgi(token)])`` (FastAPI, Starlette or
    any ASGI app): the same routes, token and answers as `admin_routes`. The app reads the full
    path from the scope (``path``), so mount it with the prefix, not under a Starlette ``Mount``
    that strips it. Added in 0.1.0.
    """
    admin = _core(token, registry)
    prefix = prefix.rstrip("/")

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        authorization: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value.decode("latin-1")
        rest = path[len(prefix) :] if path.startswith(prefix) else None
        if rest in ("", "/"):
            answer = admin.get(authorization) if method == "GET" else _error(405, "use GET")
        elif rest == "/reset":
            answer = admin.reset(authorization) if method == "POST" else _error(405, "use POST")
        elif rest is not None and rest.count("/") == 1 and method == "POST":
            if not admin.authorised(authorization):
                answer = _UNAUTHORISED
            else:
                raw = await _read_body(receive, MAX_BODY_BYTES)
                answer = (
                    _error(413, f"request body over {MAX_BODY_BYTES} bytes")
                    if raw is None
                    else admin.switch(authorization, rest[1:], raw)
                )
        elif rest is not None and rest.count("/") == 1:
            answer = _error(405, "use POST")
        else:
            answer = _error(404, f"no admin route {path!r}")
        body = answer.encoded()
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return prefix, app


async def _read_body(receive: Callable[[], Awaitable[Any]], limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            return b"".join(chunks)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
