"""aiohttp server side: the HTTP SLI middleware, ``/metrics``, ``/healthz`` and ``/readyz``.

``setup(app)`` adds all of it to an `aiohttp.web.Application`:

- `instrument`: ``http_server_request_duration_seconds{http_request_method, http_route,
  http_response_status_code}`` (named after the OpenTelemetry HTTP semantic conventions), with the
  status the client actually received. The route label is the route *template*
  (``/items/{id}``), never the raw path; requests no route matched share the label ``unmatched``
  and methods outside the standard set share ``_OTHER``, so the number of series stays bounded
  whatever clients send;
- ``/metrics`` (Prometheus text or OpenMetrics, as the scraper asks), ``/healthz`` (liveness: the
  process answers) and ``/readyz`` (readiness: 503 while the breaker of a ``critical`` policy is
  open);
- requests to routes that are not user traffic are left out of the SLI: by default
  `DEFAULT_EXCLUDED_ROUTES` (``/metrics``, ``/healthz``, ``/readyz`` and everything under
  ``/admin``), each entry matching its own route template and every template below it;
- any extra routes you pass (e.g. the chaos admin endpoints).

`start_http_server` serves ``/metrics``, ``/healthz`` and ``/readyz`` from a background thread,
for services that are not aiohttp applications.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Collection, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry

from exporters._http import (
    DEFAULT_EXCLUDED_ROUTES,
    KNOWN_METHODS,
    OTHER_METHOD,
    UNMATCHED_ROUTE,
    RequestMetrics,
    exposition,
    is_excluded,
    method_label,
    readiness_answer,
)
from exporters.health import Readiness, default_readiness

__all__ = [
    "DEFAULT_EXCLUDED_ROUTES",
    "KNOWN_METHODS",
    "OTHER_METHOD",
    "UNMATCHED_ROUTE",
    "MetricsServer",
    "healthz",
    "instrument",
    "is_excluded",
    "metrics_handler",
    "readyz_handler",
    "record_requests",
    "route_label",
    "setup",
    "start_http_server",
]


def route_label(request: web.Request) -> str:
    """The route template that matched `request`, or `UNMATCHED_ROUTE`."""
    resource = request.match_info.route.resource
    if resource is None:  # no route matched (404, 405): aiohttp's system route
        return UNMATCHED_ROUTE
    return resource.canonical


RequestRecorder = Callable[[str, str, int, float], None]
"""Receives (method label, route label, status code, seconds) once per answered request."""


def record_requests(
    app: web.Application,
    record: RequestRecorder,
    *,
    exclude_routes: Collection[str] = DEFAULT_EXCLUDED_ROUTES,
) -> None:
    """Call `record` once for every request `app` answers, when the response headers go out.

    A middleware (outermost) notes when the request arrived; an ``on_response_prepare`` signal
    reports the status actually sent. So a handler's exception turned into a 500, a `TimeoutError`
    turned into aiohttp's 504, and a `FileResponse` that finds no file (404) are reported as what
    the client received; a streamed response is reported once, with the status it started with.
    The duration runs to the response headers. Requests cancelled before any response (the client
    went away) are not reported. Labels are bounded: route templates, `UNMATCHED_ROUTE`,
    `OTHER_METHOD`. Requests to `exclude_routes` (route templates and what lies under them, see
    `is_excluded`; default `DEFAULT_EXCLUDED_ROUTES`) are not reported.
    """
    excluded = tuple(exclude_routes)
    # The route labels are bounded (templates and `UNMATCHED_ROUTE`): decide each one once.
    decisions: dict[str, bool] = {}
    # One variable per registration, so that several recorders on one app each see every request;
    # each request runs in its own task, so the value never leaks between requests.
    started: ContextVar[float | None] = ContextVar("exporters_request_started", default=None)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started.set(asyncio.get_running_loop().time())
        return await handler(request)

    async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
        start = started.get()
        if start is None:  # not through our middleware, or already reported for this request
            return
        started.set(None)
        route = route_label(request)
        skip = decisions.get(route)
        if skip is None:
            skip = decisions[route] = is_excluded(route, excluded)
        if skip:
            return
        elapsed = asyncio.get_running_loop().time() - start
        record(method_label(request.method), route, response.status, elapsed)

    app.middlewares.insert(0, middleware)
    app.on_response_prepare.append(on_response_prepare)


def instrument(
    app: web.Application,
    registry: CollectorRegistry | None = None,
    *,
    exclude_routes: Collection[str] = DEFAULT_EXCLUDED_ROUTES,
) -> None:
    """Record ``http_server_request_duration_seconds`` for every request `app` answers.

    See `record_requests` for what is recorded and when (`exclude_routes`: routes not to record,
    default `DEFAULT_EXCLUDED_ROUTES`). Each (method, route, status) child is looked up once.
    Added in 0.1.0.
    """
    record_requests(app, RequestMetrics(registry), exclude_routes=exclude_routes)


def metrics_handler(registry: CollectorRegistry | None = None) -> Handler:
    """A handler serving the registry's exposition (OpenMetrics when the scraper asks for it)."""

    async def handle(request: web.Request) -> web.Response:
        body, content_type = exposition(registry, request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handle


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process is up and its event loop answers."""
    return web.Response(text="ok\n")


def readyz_handler(readiness: Readiness | None = None) -> Handler:
    """Readiness: 200 while no critical policy's breaker is open, else 503 naming them."""

    async def handle(request: web.Request) -> web.Response:
        status, text = readiness_answer(readiness)
        return web.Response(status=status, text=text)

    return handle


def setup(
    app: web.Application,
    *,
    registry: CollectorRegistry | None = None,
    readiness: Readiness | None = None,
    metrics_path: str = "/metrics",
    middleware: bool = True,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    exclude_routes: Collection[str] = DEFAULT_EXCLUDED_ROUTES,
) -> None:
    """Add the HTTP SLI (`instrument`), ``/metrics``, ``/healthz``, ``/readyz`` and `extra_routes`.

    `readiness` defaults to the process-wide `Readiness` hook (installed on first use). Scrapes,
    probes and admin endpoints are not user traffic: requests to `exclude_routes` (default
    `DEFAULT_EXCLUDED_ROUTES`: ``/metrics``, ``/healthz``, ``/readyz``, everything under
    ``/admin``) and to `metrics_path` (always) are left out of the SLI; ``exclude_routes=()``
    counts the others. Added in 0.1.0.
    """
    if middleware:
        instrument(app, registry, exclude_routes=(*exclude_routes, metrics_path))
    app.router.add_get(metrics_path, metrics_handler(registry))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz_handler(readiness or default_readiness()))
    app.add_routes(list(extra_routes))


@dataclass
class MetricsServer:
    """A running `start_http_server`; `close()` stops it and joins its thread."""

    host: str
    port: int
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _runner: web.AppRunner = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9464``."""
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        """Stop serving and join the server thread."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def start_http_server(
    port: int = 0,
    addr: str = "127.0.0.1",
    *,
    registry: CollectorRegistry | None = None,
    readiness: Readiness | None = None,
) -> MetricsServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on `addr`:`port` from a daemon thread.

    Port 0 picks a free port (see `MetricsServer.port`). Binds loopback unless told otherwise.
    Added in 0.1.0.
    """
    app = web.Application()
    setup(app, registry=registry, readiness=readiness, middleware=False)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    started: list[int] = []
    failed: list[BaseException] = []
    ready = threading.Event()

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, addr, port)
        await site.start()
        started.append(int(runner.addresses[0][1]))

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # reported to the starting thread below
            failed.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="exporters-http", daemon=True)
    thread.start()
    ready.wait()
    if failed:
        raise failed[0]
    return MetricsServer(addr, started[0], loop, runner, thread)
