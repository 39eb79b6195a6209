"""An aiohttp admin endpoint that switches chaos strategies on and off per policy at runtime.

Off by default twice over: the routes exist only when you mount them with a token, and every
strategy starts disabled. Every request must carry ``Authorization: Bearer <token>``; without it,
with a wrong one or with one that is not UTF-8, the endpoint answers 401 and changes nothing (the
token is compared in constant time). Mount it on the service's own app::

    from chaos.admin import admin_routes, token_from_env

    token = token_from_env()                    # RELIABILITY_CHAOS_TOKEN, or None
    if token:
        app.add_routes(admin_routes(token))     # routes under /admin/chaos

(or hand `admin_routes(token)` to `exporters.setup(app, extra_routes=...)`).

Routes (JSON in, JSON out):

- ``GET {prefix}``: every policy's strategies (fault, enabled, injection_rate, injected, latency).
- ``POST {prefix}/{policy}`` with ``{"enabled": true, "injection_rate": 0.5, "fault": "fault",
  "latency": 3}``: switch the policy's strategies (only those of one `fault` kind when given).
  Unknown fields, bad values and unknown policies change nothing (400 / 404). The body is read
  only up to `MAX_BODY_BYTES` (413 past it) and refused when nested deeper than `MAX_JSON_DEPTH`
  before it is parsed (400): whatever a client sends, the endpoint never answers 500.
- ``POST {prefix}/reset``: switch every strategy off, the universal rollback (so a policy named
  ``reset`` cannot be switched through this endpoint).

For FastAPI, Starlette or any ASGI app, `admin_asgi(token)` is the same endpoint as a plain ASGI
app, for ``exporters.asgi.setup(app, extra_routes=[admin_asgi(token)])``; both share `AdminCore`,
so they answer alike.

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

from chaos.experiment import MAX_LATENCY
from chaos.injection import FAULT_KINDS, ChaosRegistry, Injection, LatencyInjection
from chaos.injection import registry as default_registry
from resilience import ConfigError

TOKEN_ENV = "RELIABILITY_CHAOS_TOKEN"
"""The environment variable the admin token is read from by `token_from_env` and by experiments."""

DEFAULT_PREFIX = "/admin/chaos"
"""Where `admin_routes` puts the routes."""

MAX_BODY_BYTES = 16_384
"""The largest switch body read (a real one is under 100 bytes); longer ones answer 413."""

MAX_JSON_DEPTH = 8
"""The deepest nesting of arrays and objects accepted in a body (a switch needs 1)."""

_SHOWN = 200
"""Characters of a client's value quoted back in an error message."""


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
_TOO_BIG = f"body over {MAX_BODY_BYTES} bytes"


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _show(value: object) -> str:
    """`repr(value)`, cut to `_SHOWN` characters: error messages never echo a whole body."""
    return _cut(repr(value))


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON `text` nests arrays/objects deeper than `limit` (strings are skipped).

    Checked before `json.loads`, whose recursion a deep document would exhaust.
    """
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


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
            # Undecodable header bytes arrive as surrogates: no token is made of those.
            candidate = given.strip().encode("utf-8")
        except UnicodeEncodeError:
            return False
        # compare_digest: the time taken does not reveal how much of the token matched.
        return hmac.compare_digest(candidate, self._token)

    @staticmethod
    def parse(data: bytes) -> object | AdminAnswer:
        """The parsed JSON body (read up to `MAX_BODY_BYTES`), or the 400/413 that refuses it."""
        if len(data) > MAX_BODY_BYTES:
            return _error(413, _TOO_BIG)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "expected a UTF-8 JSON body")
        if nested_deeper_than(text, MAX_JSON_DEPTH):
            return _error(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            parsed: object = json.loads(text)
        except (ValueError, RecursionError):  # ValueError: also a number too long to convert
            return _error(400, 'expected a JSON object body such as {"enabled": true}')
        return parsed

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

    def switch(self, authorization: str | None, policy: str, data: bytes) -> AdminAnswer:
        """``POST {prefix}/{policy}`` with a JSON object body (`data`, the raw bytes)."""
        if not self.authorised(authorization):
            return _UNAUTHORISED
        body = self.parse(data)
        if isinstance(body, AdminAnswer):
            return body
        if not isinstance(body, dict):
            return _error(400, 'expected a JSON object body such as {"enabled": true}')
        unknown = sorted(set(body) - {"enabled", "injection_rate", "fault", "latency"})
        if unknown:
            return _error(
                400,
                f"unknown field {_show(unknown[0])}; expected enabled, injection_rate, fault, "
                "latency",
            )
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            return _error(400, f"field 'enabled': expected true or false, got {_show(enabled)}")
        fault = body.get("fault")
        if fault is not None and (not isinstance(fault, str) or fault not in FAULT_KINDS):
            return _error(
                400, f"field 'fault': expected one of {', '.join(FAULT_KINDS)}, got {_show(fault)}"
            )
        rate = body.get("injection_rate")
        latency = body.get("latency")
        try:
            # Validate every value before changing anything: a bad request switches nothing.
            if rate is not None:
                Injection(injection_rate=rate)
            if latency is not None:
                LatencyInjection(latency)
        except ConfigError as exc:
            return _error(400, _cut(str(exc)))
        if latency is not None and latency > MAX_LATENCY:
            return _error(400, f"field 'latency': expected at most {MAX_LATENCY:g} seconds")
        targets = self._registry.injections(policy, fault)
        if not targets:
            kind = f" of kind {fault!r}" if fault else ""
            return _error(404, f"policy {_show(policy)} has no chaos strategy{kind}")
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


async def _read_aiohttp(request: web.Request) -> bytes | None:
    """The body, or None once it is over `MAX_BODY_BYTES` (chunked, or a lying length)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None
    data = bytearray()
    async for chunk in request.content.iter_chunked(4096):
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            return None
    return bytes(data)


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
        data = await _read_aiohttp(request)
        if data is None:
            return _response(_error(413, _TOO_BIG))
        return _response(admin.switch(authorization, request.match_info["policy"], data))

    return [
        web.get(prefix, get),
        web.post(f"{prefix}/reset", reset),
        web.post(f"{prefix}/{{policy}}", switch),
    ]


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def admin_asgi(
    token: str, *, registry: ChaosRegistry | None = None, prefix: str = DEFAULT_PREFIX
) -> tuple[str, ASGIApp]:
    """The admin endpoint as a plain ASGI app, and the prefix it answers under.

    For ``exporters.asgi.setup(app, extra_routes=[admin_asgi(token)])`` (FastAPI, Starlette or
    any ASGI app): the same routes, token check, bounds and answers as `admin_routes`. The app
    reads the full path from the scope, so give it the prefix, not a Starlette ``Mount`` that
    strips it. Added in 0.1.0.
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
                authorization = value.decode("utf-8", "surrogateescape")
        rest = path[len(prefix) :] if path.startswith(prefix) else None
        if rest in ("", "/"):
            answer = admin.get(authorization) if method == "GET" else _error(405, "use GET")
        elif rest == "/reset":
            answer = admin.reset(authorization) if method == "POST" else _error(405, "use POST")
        elif rest is not None and rest.count("/") == 1 and method == "POST":
            if not admin.authorised(authorization):  # no body is read for an unauthorised caller
                answer = _UNAUTHORISED
            else:
                data = await _read_asgi(receive)
                answer = (
                    _error(413, _TOO_BIG)
                    if data is None
                    else admin.switch(authorization, rest[1:], data)
                )
        elif rest is not None and rest.count("/") == 1:
            answer = _error(405, "use POST")
        else:
            answer = _error(404, f"no admin route {_show(path)}")
        body = answer.encoded()
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return prefix, app


async def _read_asgi(receive: Callable[[], Awaitable[Any]]) -> bytes | None:
    """The request body, or None as soon as it grows past `MAX_BODY_BYTES`."""
    data = bytearray()
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            return bytes(data)
        data += message.get("body", b"")
        if len(data) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return bytes(data)
