"""What the aiohttp and the ASGI server integrations share, free of either framework.

The SLI histogram (one per registry), its bounded labels, the child cache of `RequestMetrics`,
the ``/metrics`` exposition, and the ``/healthz`` / ``/readyz`` answers. `exporters.aiohttp` and
`exporters.asgi` only adapt these to their framework, so both record the same series.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.exposition import choose_encoder

from exporters.health import Readiness, default_readiness
from exporters.prometheus import DURATION_BUCKETS

REQUEST_HISTOGRAM = "http_server_request_duration_seconds"
"""The SLI's name (OpenTelemetry HTTP semantic conventions)."""

UNMATCHED_ROUTE = "unmatched"
"""The ``http_route`` label of requests that matched no route (real templates start with /)."""

OTHER_METHOD = "_OTHER"
"""The ``http_request_method`` label of non-standard methods (OpenTelemetry's convention)."""

KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

DEFAULT_EXCLUDED_ROUTES: tuple[str, ...] = ("/metrics", "/healthz", "/readyz", "/admin")
"""Routes left out of the user-facing SLI by default: scrapes, health probes, admin endpoints
(the chaos admin endpoint is mounted under ``/admin/chaos``). An entry excludes the route template
equal to it and every template under it (``/admin`` excludes ``/admin/chaos/{policy}``, not
``/administrators``). Added in 0.1.0."""


def is_excluded(route: str, excluded: Collection[str]) -> bool:
    """Whether route template `route` is one of `excluded` or lies under one of them."""
    return any(route == path or route.startswith(path.rstrip("/") + "/") for path in excluded)


_histograms: weakref.WeakKeyDictionary[CollectorRegistry, Histogram] = weakref.WeakKeyDictionary()
_histograms_lock = threading.Lock()


def request_histogram(registry: CollectorRegistry) -> Histogram:
    """The registry's ``http_server_request_duration_seconds`` (created once per registry)."""
    with _histograms_lock:
        found = _histograms.get(registry)
        if found is None:
            found = _histograms[registry] = Histogram(
                REQUEST_HISTOGRAM,
                "Duration of HTTP server requests.",
                ["http_request_method", "http_route", "http_response_status_code"],
                buckets=DURATION_BUCKETS,
                registry=registry,
            )
        return found


def method_label(method: str) -> str:
    """`method`, or `OTHER_METHOD` when it is not a standard one (bounded cardinality)."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


class RequestMetrics:
    """Observes one request in the SLI histogram; each (method, route, status) child is looked up
    once and cached, so a request costs one dict lookup and one observation."""

    __slots__ = ("_children", "_histogram")

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._histogram = request_histogram(registry if registry is not None else REGISTRY)
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def child(self, method: str, route: str, status: int) -> Histogram:
        """The histogram child of these labels (looked up once)."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = self._histogram.labels(method, route, str(status))
        return found

    def __call__(self, method: str, route: str, status: int, seconds: float) -> None:
        self.child(method, route, status).observe(seconds)


def exposition(registry: CollectorRegistry | None, accept: str) -> tuple[bytes, str]:
    """The registry's metrics as (body, content type): OpenMetrics when `accept` asks for it."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry if registry is not None else REGISTRY), content_type


def readiness_answer(readiness: Readiness | None) -> tuple[int, str]:
    """``/readyz``: (200 or 503, body) from the critical policies' breakers."""
    report = (readiness or default_readiness()).check()
    return (200 if report.ready else 503), report.text() + "\n"
