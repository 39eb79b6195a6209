"""reliability-os exporters: resilience events as Prometheus metrics, OpenTelemetry data and logs.

Every exporter is a hook: install it for all policies with ``resilience.add_hook(hook)`` or for
one with ``Policy(..., hooks=[hook])``.

- `PrometheusHook` — DESIGN.md's ``resilience_*`` metrics (or resilience4j's names);
- `LoggingHook` — one structured line per retry, breaker transition and rejection;
- ``exporters.opentelemetry.OpenTelemetryHook`` — OTel metrics and span events (needs the
  ``otel`` extra);
- `setup` adds the HTTP SLI middleware, ``/metrics``, ``/healthz`` and ``/readyz`` to an aiohttp
  application; `start_http_server` serves the last three for services that are not aiohttp.
- ``exporters.asgi`` does the same for FastAPI, Starlette and any ASGI app (``setup(app)`` or
  ``SLIMiddleware(app)``), with the same series.

Added in 0.1.0.
"""

from exporters.aiohttp import instrument, setup, start_http_server
from exporters.health import Readiness, ReadinessReport, default_readiness
from exporters.logging import LoggingHook
from exporters.prometheus import PrometheusHook

__all__ = [
    "LoggingHook",
    "PrometheusHook",
    "Readiness",
    "ReadinessReport",
    "default_readiness",
    "instrument",
    "setup",
    "start_http_server",
]
