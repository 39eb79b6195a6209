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

Added in 0.1.0.
"""

from __future__ import annotations

import hmac
import json
import os
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


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


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


class _Admin:
    def __init__(self, token: str, registry: ChaosRegistry) -> None:
        self._token = token.encode()
        self._registry = registry

    def authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        try:
            # aiohttp keeps undecodable header bytes as surrogates: no token is made of those.
            candidate = given.strip().encode("utf-8")
        except UnicodeEncodeError:
            return False
        # compare_digest: the time taken does not reveal how much of the token matched.
        return hmac.compare_digest(candidate, self._token)

    async def body(self, request: web.Request) -> object | web.Response:
        """The parsed JSON body, or the 400/413 response that refuses it."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _error(413, f"body over {MAX_BODY_BYTES} bytes")
        data = bytearray()
        async for chunk in request.content.iter_chunked(4096):
            data += chunk
            if len(data) > MAX_BODY_BYTES:  # chunked, or a Content-Length that lied
                return _error(413, f"body over {MAX_BODY_BYTES} bytes")
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
        return {
            "policies": {
                policy: [describe_injection(i) for i in self._registry.injections(policy)]
                for policy in self._registry.policies()
            }
        }

    async def get(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return _unauthorised()
        return web.json_response(self.state())

    async def reset(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return _unauthorised()
        switched = self._registry.disable_all()
        return web.json_response({"disabled": switched, **self.state()})

    async def switch(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return _unauthorised()
        policy = request.match_info["policy"]
        body = await self.body(request)
        if isinstance(body, web.Response):
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
        return web.json_response(
            {"policy": policy, "injections": [describe_injection(i) for i in targets]}
        )


def _unauthorised() -> web.Response:
    return web.json_response(
        {"error": "missing or wrong admin token"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="chaos"'},
    )


def admin_routes(
    token: str, *, registry: ChaosRegistry | None = None, prefix: str = DEFAULT_PREFIX
) -> list[web.RouteDef]:
    """The admin routes, for ``app.add_routes(...)``; `token` must be a non-empty string."""
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(
            f"chaos admin token: expected a non-empty string (e.g. from ${TOKEN_ENV}); "
            "without a token the admin endpoint must not be mounted"
        )
    admin = _Admin(token.strip(), registry if registry is not None else default_registry)
    prefix = prefix.rstrip("/")
    return [
        web.get(prefix, admin.get),
        web.post(f"{prefix}/reset", admin.reset),
        web.post(f"{prefix}/{{policy}}", admin.switch),
    ]
