"""OpenTelemetryHook: metrics via the SDK's in-memory reader, span events on the current span."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from exporters._watch import BREAKER_STATES
from exporters.aiohttp import instrument
from exporters.opentelemetry import OpenTelemetryHook, instrument_aiohttp
from resilience import (
    ChaosInjected,
    CircuitOpenError,
    FallbackUsed,
    PolicyInfo,
    TimedOut,
    TimeoutKind,
)
from resilience.breaker import CircuitBreaker
from resilience.events import Emitter, StorageError
from resilience.policy import Policy
from resilience.retry import Retry


@pytest.fixture
def otel() -> tuple[InMemoryMetricReader, TracerProvider, InMemorySpanExporter]:
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return reader, tracer_provider, spans


def points(reader: InMemoryMetricReader) -> dict[str, dict[tuple[tuple[str, Any], ...], Any]]:
    """instrument name → {sorted attributes: value (sum, gauge value, or histogram count)}."""
    data = reader.get_metrics_data()
    assert data is not None
    out: dict[str, dict[tuple[tuple[str, Any], ...], Any]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            assert sm.scope.name == "reliability-os"
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = (
                        (p.count, p.sum)
                        if isinstance(p, HistogramDataPoint)
                        else getattr(p, "value", None)
                    )
                    key = tuple(sorted((p.attributes or {}).items()))
                    out.setdefault(metric.name, {})[key] = value
    return out


async def test_policy_calls_become_metrics_and_span_events(
    otel: tuple[InMemoryMetricReader, TracerProvider, InMemorySpanExporter],
) -> None:
    reader, tracer_provider, spans = otel
    hook = OpenTelemetryHook(MeterProvider(metric_readers=[reader]))
    breaker = CircuitBreaker(
        "llm", minimum_calls=4, window_size=4, failure_rate_threshold=0.5, open_duration=30
    )
    policy = Policy(
        "llm", retry=Retry(max_attempts=3, wait=0.1), circuit_breaker=breaker, hooks=[hook]
    )
    failures_left = {"n": 2}

    @policy
    async def flaky() -> str:
        if failures_left["n"]:
            failures_left["n"] -= 1
            raise OSError("connection reset")
        return "ok"

    @policy
    async def down() -> str:
        raise OSError("down")

    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request-1"):
        assert await flaky() == "ok"  # fail, fail, success: 2 retries, window 3 calls
    with tracer.start_as_current_span("request-2"), pytest.raises(CircuitOpenError):
        await down()  # 4th outcome trips the breaker; the retry is then refused

    got = points(reader)
    assert got["resilience.calls"] == {
        (("outcome", "success"), ("policy", "llm")): 1,
        (("outcome", "rejected"), ("policy", "llm")): 1,
    }
    assert got["resilience.call.duration"][(("policy", "llm"),)][0] == 2
    assert got["resilience.retries"] == {(("policy", "llm"),): 3}
    assert got["resilience.rejections"] == {
        (("mechanism", "circuit_breaker"), ("policy", "llm")): 1
    }
    assert got["resilience.circuit_breaker.transitions"] == {
        (("from_state", "closed"), ("policy", "llm"), ("to_state", "open")): 1
    }
    assert got["resilience.circuit_breaker.state"] == {
        (("policy", "llm"), ("state", s)): int(s == "open") for s in BREAKER_STATES
    }

    by_span = {
        s.name: [(e.name, dict(e.attributes or {})) for e in s.events]
        for s in spans.get_finished_spans()
    }
    assert by_span["request-1"] == [
        (
            "resilience.retry",
            {"policy": "llm", "attempt": 1, "wait": 0.1, "exception.type": "OSError"},
        ),
        (
            "resilience.retry",
            {"policy": "llm", "attempt": 2, "wait": 0.1, "exception.type": "OSError"},
        ),
    ]
    names = [name for name, _ in by_span["request-2"]]
    assert sorted(names) == [
        "resilience.circuit_breaker.state_change",
        "resilience.rejected",
        "resilience.retry",
    ]
    assert dict(by_span["request-2"])["resilience.circuit_breaker.state_change"] == {
        "policy": "llm",
        "from_state": "closed",
        "to_state": "open",
    }
    assert names.index("resilience.rejected") == 2  # refused after the breaker opened


def test_fallback_and_timeout_span_events_and_bulkhead_gauges(
    otel: tuple[InMemoryMetricReader, TracerProvider, InMemorySpanExporter],
) -> None:
    reader, tracer_provider, spans = otel
    in_flight = {"n": 3}
    info = PolicyInfo(
        "search",
        ("bulkhead", "fallback", "timeout"),
        bulkhead_in_flight=lambda: in_flight["n"],
        bulkhead_capacity=lambda: 10,
    )
    emitter = Emitter(info, [OpenTelemetryHook(MeterProvider(metric_readers=[reader]))])
    with tracer_provider.get_tracer("test").start_as_current_span("request"):
        emitter.emit(TimedOut("search", TimeoutKind.ATTEMPT, 0.25))
        emitter.emit(FallbackUsed("search", TimeoutError()))
        emitter.emit(ChaosInjected("search", "latency"))
        emitter.emit(StorageError("search", "redis", "acquire", "ConnectionError"))
    emitter.emit(FallbackUsed("search"))  # no current span: metrics only, nothing to attach to

    (span,) = spans.get_finished_spans()
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("resilience.timeout", {"policy": "search", "kind": "attempt", "timeout": 0.25}),
        ("resilience.fallback", {"policy": "search", "exception.type": "TimeoutError"}),
        ("resilience.chaos", {"policy": "search", "fault": "latency"}),
        (
            "resilience.storage_error",
            {
                "policy": "search",
                "backend": "redis",
                "operation": "acquire",
                "error": "ConnectionError",
            },
        ),
    ]
    got = points(reader)
    assert got["resilience.timeouts"] == {(("kind", "attempt"), ("policy", "search")): 1}
    assert got["resilience.chaos.injections"] == {(("fault", "latency"), ("policy", "search")): 1}
    assert got["resilience.storage.errors"] == {(("operation", "acquire"), ("policy", "search")): 1}
    assert got["resilience.bulkhead.in_flight"] == {(("policy", "search"),): 3}
    in_flight["n"] = 7
    assert points(reader)["resilience.bulkhead.in_flight"] == {(("policy", "search"),): 7}
    assert points(reader)["resilience.bulkhead.capacity"] == {(("policy", "search"),): 10}


def test_span_events_can_be_turned_off(
    otel: tuple[InMemoryMetricReader, TracerProvider, InMemorySpanExporter],
) -> None:
    reader, tracer_provider, spans = otel
    emitter = Emitter(
        PolicyInfo("q"),
        [OpenTelemetryHook(MeterProvider(metric_readers=[reader]), span_events=False)],
    )
    with tracer_provider.get_tracer("test").start_as_current_span("request"):
        emitter.emit(TimedOut("q", TimeoutKind.DEADLINE, 1.0))
    (span,) = spans.get_finished_spans()
    assert span.events == ()
    assert points(reader)["resilience.timeouts"] == {(("kind", "deadline"), ("policy", "q")): 1}


@pytest.mark.real_time
async def test_http_server_duration_next_to_the_prometheus_sli(
    otel: tuple[InMemoryMetricReader, TracerProvider, InMemorySpanExporter],
) -> None:
    reader = otel[0]
    reg = CollectorRegistry()

    async def item(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["id"])

    app = web.Application()
    app.router.add_get("/items/{id}", item)
    instrument_aiohttp(app, MeterProvider(metric_readers=[reader]))
    instrument(app, reg)  # both recorders see every request
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for path in ("/items/1", "/items/2", "/nope"):
            await client.get(path)

    got = points(reader)["http.server.request.duration"]
    assert {k: v[0] for k, v in got.items()} == {
        (
            ("http.request.method", "GET"),
            ("http.response.status_code", 200),
            ("http.route", "/items/{id}"),
        ): 2,
        (
            ("http.request.method", "GET"),
            ("http.response.status_code", 404),
            ("http.route", "unmatched"),
        ): 1,
    }
    assert (
        reg.get_sample_value(
            "http_server_request_duration_seconds_count",
            {
                "http_request_method": "GET",
                "http_route": "/items/{id}",
                "http_response_status_code": "200",
            },
        )
        == 2
    )
