"""ASGI server side (FastAPI, Starlette or any ASGI app): the HTTP SLI, ``/metrics``, ``/healthz``,
``/readyz`` and extra routes such as the chaos admin endpoint.

The same surface and the same series as `exporters.setup` for aiohttp, so ``reliability rules``,
``sla`` and ``dashboard`` work unchanged::

    app = FastAPI()
    exporters.asgi.setup(app)                       # Starlette / FastAPI: adds the middleware
    app = exporters.asgi.SLIMiddleware(asgi_app)    # any other ASGI app: wrap it

What is recorded: ``http_server_request_duration_seconds{http_request_method, http_route,
http_response_status_code}``, once per request, when the response headers go out:

- the route label is the route *template* (``/items/{item_id}``, mount prefixes included), read
  from the route Starlette's router put in the scope; requests no route matched, a 405 and plain
  ASGI apps without a `route_of` share ``unmatched``; methods outside the standard set share
  ``_OTHER`` (bounded whatever clients send);
- the status is the one the client received: what the app started the response with; an
  exception that escapes the app before any response, or an app that returns without one, is
  the 500 the server then sends; a streamed response is recorded once, with the status it started
  with, and the duration runs to the response headers (as for aiohttp);
- a client that went away before the headers (the app saw ``http.disconnect``, or sending the
  headers failed) received nothing and is not recorded, nor is a cancelled request;
- the exporters' own routes (the metrics path, ``/healthz``, ``/readyz`` and every extra route,
  e.g. ``/admin/chaos``) are answered by the middleware itself, never redirected, and never
  recorded; the app's own routes follow the aiohttp rule: `exclude_routes` (default
  ``exporters.aiohttp.DEFAULT_EXCLUDED_ROUTES``: ``/metrics``, ``/healthz``, ``/readyz`` and
  everything under ``/admin``) are left out, each entry with every template under it;
  ``exclude_routes=()`` counts them.

With opentelemetry-instrumentation-asgi on the same app, each middleware counts each request once
in its own instrument (this one in prometheus-client's registry, OpenTelemetry's in its meter), so
nothing is counted twice as long as the two do not end up in one Prometheus scrape under one name:
if OTel's metrics are also exported to Prometheus, drop its ``http.server.request.duration`` with a
View (or pass ``middleware=False`` here and keep only OTel's). Install this middleware outside
OTel's (``setup`` after OTel's ``add_middleware``) so ``/metrics`` scrapes stay out of OTel's
spans too.

Needs no Starlette import: route templates are read by duck typing (``path_format``, ``routes``).
Added in 0.1.0.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from exporters._http import (
    DEFAULT_EXCLUDED_ROUTES,
    UNMATCHED_ROUTE,
    RequestMetrics,
    exposition,
    is_excluded,
    method_label,
    readiness_answer,
)
from exporters.health import Readiness, default_readiness

__all__ = [
    "ASGIApp",
    "SLIMiddleware",
    "setup",
    "starlette_route",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application."""

RouteOf = Callable[[Scope], str | None]
"""A function of the scope (after the app ran) giving the route template, or None: unmatched."""


# ------------------------------------------------------------------------------ route templates

_Table = dict[int, tuple[object, str]]


def _walk(routes: Iterable[object], prefix: str, table: _Table, depth: int = 0) -> None:
    if depth > 32:  # a mount cycle would otherwise never end
        return
    for route in routes:
        fmt = getattr(route, "path_format", None)
        own = f"{prefix}{fmt}" if isinstance(fmt, str) else None
        if own is not None:
            table[id(route)] = (route, own)
        children = getattr(route, "routes", None)
        if children:
            # A Mount's path_format ends in /{path}: the children's templates follow its path.
            inner = prefix
            if own is not None:
                inner = own[: -len("/{path}")] if own.endswith("/{path}") else own
            _walk(children, inner, table, depth + 1)


class _Templates:
    """Route object → full template, built from the top router's tree; rebuilt when a route
    appears that the table does not know (a route added after the first request)."""

    __slots__ = ("_router", "_table")

    def __init__(self) -> None:
        self._router: object = None
        self._table: _Table = {}

    def template(self, router: object, route: object) -> str:
        found = self._table.get(id(route)) if router is self._router else None
        if found is None or found[0] is not route:
            table: _Table = {}
            _walk(getattr(router, "routes", ()), "", table)
            self._router, self._table = router, table
            found = table.get(id(route))
            if found is None or found[0] is not route:
                fmt = getattr(route, "path_format", None)
                found = table[id(route)] = (route, fmt if isinstance(fmt, str) else UNMATCHED_ROUTE)
        return found[1]


def starlette_route() -> RouteOf:
    """The default `route_of`: the template of the route Starlette's (or FastAPI's) router
    matched, with the prefixes of the mounts it sits under; None when nothing matched."""
    templates = _Templates()

    def route_of(scope: Scope) -> str | None:
        route = scope.get("route")
        if route is None:
            return None
        return templates.template(scope.get("router"), route)

    return route_of


# ----------------------------------------------------------------------------- the middleware


class SLIMiddleware:
    """An ASGI middleware recording the HTTP SLI and serving the exporters' own routes.

    `app`: the ASGI app to wrap. `registry`: where the SLI histogram lives (default the global
    one); `readiness`: the `Readiness` behind ``/readyz`` (default the process-wide hook);
    `metrics_path`: where ``/metrics`` is served; `endpoints`: False to serve none of the routes
    (SLI only); `middleware`: False to record nothing (routes only); `extra_routes`: (prefix,
    ASGI app) pairs answered for the prefix and every path under it, e.g.
    ``chaos.admin.admin_asgi(token)``; `exclude_routes`: route templates left out of the SLI
    with the templates under them (default ``DEFAULT_EXCLUDED_ROUTES``; the metrics path always);
    `route_of`: how the route template is found (default `starlette_route`); `clock`: seconds,
    monotonic (default `time.perf_counter`). See the module docstring for what is recorded.
    Added in 0.1.0.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        readiness: Readiness | None = None,
        metrics_path: str = "/metrics",
        endpoints: bool = True,
        middleware: bool = True,
        extra_routes: Iterable[tuple[str, ASGIApp]] = (),
        exclude_routes: Collection[str] = DEFAULT_EXCLUDED_ROUTES,
        route_of: RouteOf | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self._registry = registry
        self._readiness = readiness or default_readiness()
        self._record = RequestMetrics(registry) if middleware else None
        self._route_of = route_of if route_of is not None else starlette_route()
        # (method label, id of the scope's route, status) → (route, child or None if excluded):
        # with Starlette's routes a request costs one dict lookup here. Bounded: known methods,
        # the app's routes, the statuses it answers. Not used with a custom `route_of`.
        self._fast: dict[tuple[str, int, int], tuple[object, Histogram | None]] | None = (
            {} if route_of is None else None
        )
        self._clock = clock
        self._excluded: tuple[str, ...] = tuple(exclude_routes)
        self._own: dict[str, ASGIApp] = {}
        self._prefixes: tuple[tuple[str, ASGIApp], ...] = ()
        if endpoints:
            metrics_path = "/" + metrics_path.strip("/")
            for path, handler in (
                (metrics_path, self._metrics),
                ("/healthz", _healthz),
                ("/readyz", self._readyz),
            ):
                self._own[path] = self._own[path + "/"] = handler  # never a redirect
            self._prefixes = tuple((p.rstrip("/"), a) for p, a in extra_routes)
            self._excluded += (metrics_path,)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan, websocket
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        own = self._own.get(path)
        if own is not None:
            await own(scope, receive, send)
            return
        for prefix, extra in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                await extra(scope, receive, send)
                return
        record = self._record
        if record is None:
            await self.app(scope, receive, send)
            return

        clock = self._clock
        start = clock()
        # [headers sent, client gone]; a list, not nonlocal flags, so the closures stay cheap.
        flags = [False, False]

        async def receive_watching() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and not flags[0]:
                flags[1] = True
            return message

        async def send_recording(message: Message) -> None:
            if flags[0] or message["type"] != "http.response.start":
                await send(message)
                return
            flags[0] = True
            try:
                await send(message)
            except OSError:  # ASGI ≥ 2.4 servers: the client is gone, nothing was received
                flags[1] = True
                raise
            if not flags[1]:
                self._observe(record, scope, int(message["status"]), clock() - start)

        try:
            await self.app(scope, receive_watching, send_recording)
        except Exception:
            if not flags[0] and not flags[1]:  # the server answers 500
                self._observe(record, scope, 500, clock() - start)
            raise
        if not flags[0] and not flags[1]:  # returned without a response: the server's 500
            self._observe(record, scope, 500, clock() - start)

    def _observe(self, record: RequestMetrics, scope: Scope, status: int, seconds: float) -> None:
        method = method_label(scope.get("method", ""))
        fast = self._fast
        if fast is not None:
            route = scope.get("route")
            key = (method, id(route), status)
            hit = fast.get(key)
            if hit is None or hit[0] is not route:
                hit = fast[key] = (route, self._child(record, scope, method, status))
            if hit[1] is not None:
                hit[1].observe(seconds)
            return
        child = self._child(record, scope, method, status)
        if child is not None:
            child.observe(seconds)

    def _child(
        self, record: RequestMetrics, scope: Scope, method: str, status: int
    ) -> Histogram | None:
        """The histogram child of this request, or None when its route is excluded."""
        route = self._route_of(scope) if status != 405 else None
        label = route if route is not None else UNMATCHED_ROUTE
        if is_excluded(label, self._excluded):
            return None
        return record.child(method, label, status)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept = ""
        for name, value in scope.get("headers", ()):
            if name == b"accept":
                accept = value.decode("latin-1")
        body, content_type = exposition(self._registry, accept)
        await _answer(send, scope, 200, body, content_type)

    async def _readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, text = readiness_answer(self._readiness)
        await _answer(send, scope, status, text.encode(), "text/plain; charset=utf-8")


async def _healthz(scope: Scope, receive: Receive, send: Send) -> None:
    """Liveness: the process is up and its event loop answers."""
    await _answer(send, scope, 200, b"ok\n", "text/plain; charset=utf-8")


async def _answer(send: Send, scope: Scope, status: int, body: bytes, content_type: str) -> None:
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        status, body, content_type = 405, b"use GET\n", "text/plain; charset=utf-8"
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 405:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def setup(
    app: Any,
    *,
    registry: CollectorRegistry | None = None,
    readiness: Readiness | None = None,
    metrics_path: str = "/metrics",
    middleware: bool = True,
    extra_routes: Iterable[tuple[str, ASGIApp]] = (),
    exclude_routes: Collection[str] = DEFAULT_EXCLUDED_ROUTES,
) -> None:
    """Add `SLIMiddleware` to a Starlette or FastAPI `app` (outermost of the user middleware).

    The same arguments as `exporters.setup` for aiohttp; `extra_routes` are (prefix, ASGI app)
    pairs such as ``chaos.admin.admin_asgi(token)``. Call it before the app starts serving. For
    an ASGI app without ``add_middleware``, wrap it: ``SLIMiddleware(app, ...)``. Added in 0.1.0.
    """
    add = getattr(app, "add_middleware", None)
    if not callable(add):
        raise TypeError(
            f"exporters.asgi.setup: {type(app).__name__} has no add_middleware (not Starlette or "
            "FastAPI); wrap the app instead: app = exporters.asgi.SLIMiddleware(app)"
        )
    add(
        SLIMiddleware,
        registry=registry,
        # Resolved now, as aiohttp's setup does: Starlette builds middleware on first request.
        readiness=readiness or default_readiness(),
        metrics_path=metrics_path,
        middleware=middleware,
        extra_routes=tuple(extra_routes),
        exclude_routes=tuple(exclude_routes),
    )
