"""OpenTelemetry metrics and span events from resilience events (opentelemetry-api).

``resilience.add_hook(OpenTelemetryHook())`` records, on one meter named ``reliability-os``, the
same signals as `exporters.prometheus` (an OTel-to-Prometheus exporter turns these names into the
Prometheus ones: ``resilience.calls`` → ``resilience_calls_total``):

================================================ ============== ===============================
instrument                                       kind           attributes
================================================ ============== ===============================
``resilience.calls``                             counter        policy, outcome
``resilience.call.duration`` (s)                 histogram      policy
``resilience.retries``                           counter        policy
``resilience.rejections``                        counter        policy, mechanism
``resilience.timeouts``                          counter        policy, kind
``resilience.circuit_breaker.transitions``       counter        policy, from_state, to_state
``resilience.chaos.injections``                  counter        policy, fault
``resilience.storage.errors``                    counter        policy, operation
``resilience.circuit_breaker.state``             observable     policy, state (one-hot)
``resilience.bulkhead.in_flight``, ``.capacity`` observable     policy
================================================ ============== ===============================

`instrument_aiohttp(app)` adds the HTTP server SLI, ``http.server.request.duration`` with the
semantic conventions' attributes (the OTel twin of ``http_server_request_duration_seconds``).

Observable gauges are read from the live policies at collection time. Retries, breaker
transitions, rejections, timeouts, fallbacks, chaos injections and storage errors are also added as
events to the current span (the span of the call that caused them), when it is recording. Requires
``opentelemetry-api`` (``pip install reliability-os[otel]`` brings the SDK).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Iterable

from aiohttp import web
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from exporters._watch import BREAKER_STATES, PolicyWatch
from exporters.aiohttp import DEFAULT_EXCLUDED_ROUTES, record_requests
from exporters.prometheus import DURATION_BUCKETS
from resilience import (
    CallFinished,
    CallOutcome,
    ChaosInjected,
    FallbackUsed,
    PolicyInfo,
    Rejected,
    RetryScheduled,
    StateChanged,
    TimedOut,
)
from resilience.events import Event, EventHandler, StorageError

METER_NAME = "reliability-os"
"""The instrumentation scope of every instrument."""


class _Instruments:
    """One meter's instruments, shared by every hook using that meter provider."""

    def __init__(self, meter: Meter) -> None:
        self.watch = PolicyWatch()
        self.calls = meter.create_counter(
            "resilience.calls",
            unit="{call}",
            description="Calls through a policy, by final outcome.",
        )
        self.duration = meter.create_histogram(
            "resilience.call.duration",
            unit="s",
            description="Duration of calls through a policy, retries included.",
        )
        self.retries = meter.create_counter(
            "resilience.retries", unit="{retry}", description="Retries scheduled."
        )
        self.rejections = meter.create_counter(
            "resilience.rejections",
            unit="{call}",
            description="Calls or retries refused by our own mechanisms.",
        )
        self.timeouts = meter.create_counter(
            "resilience.timeouts",
            unit="{timeout}",
            description="Attempt timeouts and deadlines hit.",
        )
        self.transitions = meter.create_counter(
            "resilience.circuit_breaker.transitions",
            unit="{transition}",
            description="Circuit breaker state transitions.",
        )
        self.chaos = meter.create_counter(
            "resilience.chaos.injections",
            unit="{fault}",
            description="Faults injected by chaos strategies.",
        )
        self.storage_errors = meter.create_counter(
            "resilience.storage.errors",
            unit="{error}",
            description="Shared-state backend failures (local state used instead).",
        )
        meter.create_observable_gauge(
            "resilience.circuit_breaker.state",
            [self._states],
            unit="1",
            description="1 for the circuit breaker's current state, 0 for the others.",
        )
        meter.create_observable_gauge(
            "resilience.bulkhead.in_flight",
            [self._in_flight],
            unit="{call}",
            description="Calls holding a bulkhead slot.",
        )
        meter.create_observable_gauge(
            "resilience.bulkhead.capacity",
            [self._capacity],
            unit="{call}",
            description="Maximum concurrent calls the bulkhead admits.",
        )

    def _states(self, options: CallbackOptions) -> Iterable[Observation]:
        for view in self.watch.views():
            if view.state is not None:
                for label in BREAKER_STATES:
                    yield Observation(
                        int(label == view.state), {"policy": view.name, "state": label}
                    )

    def _in_flight(self, options: CallbackOptions) -> Iterable[Observation]:
        for view in self.watch.views():
            if view.bulkhead is not None:
                yield Observation(view.bulkhead[0], {"policy": view.name})

    def _capacity(self, options: CallbackOptions) -> Iterable[Observation]:
        for view in self.watch.views():
            if view.bulkhead is not None:
                yield Observation(view.bulkhead[1], {"policy": view.name})


_instruments: weakref.WeakKeyDictionary[MeterProvider, _Instruments] = weakref.WeakKeyDictionary()
_instruments_lock = threading.Lock()


def _instruments_for(provider: MeterProvider) -> _Instruments:
    with _instruments_lock:
        found = _instruments.get(provider)
        if found is None:
            found = _instruments[provider] = _Instruments(provider.get_meter(METER_NAME))
        return found


def _exception_type(exc: BaseException | None) -> str:
    return type(exc).__name__ if exc is not None else ""


class _Handler:
    """Records one policy's events; attribute sets are built once, at bind time."""

    __slots__ = ("_calls", "_ins", "_policy", "_spans")

    def __init__(self, ins: _Instruments, info: PolicyInfo, spans: bool) -> None:
        self._ins = ins
        self._policy = {"policy": info.name}
        self._calls = {o: {"policy": info.name, "outcome": o.value} for o in CallOutcome}
        self._spans = spans

    def __call__(self, event: Event) -> None:
        kind = type(event)
        if kind is CallFinished:
            assert isinstance(event, CallFinished)
            self._ins.calls.add(1, self._calls[event.outcome])
            self._ins.duration.record(event.duration, self._policy)
            return
        name, attributes = self._describe(event)
        if not name:
            return
        if self._spans:
            span = trace.get_current_span()
            if span.is_recording():
                span.add_event(name, attributes)

    def _describe(self, event: Event) -> tuple[str, dict[str, str | int | float]]:
        """Count `event` and return its span event (name, attributes); name "" for none."""
        ins, policy = self._ins, self._policy["policy"]
        if isinstance(event, RetryScheduled):
            ins.retries.add(1, self._policy)
            return "resilience.retry", {
                "policy": policy,
                "attempt": event.attempt,
                "wait": event.wait,
                "exception.type": _exception_type(event.exception),
            }
        if isinstance(event, Rejected):
            ins.rejections.add(1, {"policy": policy, "mechanism": event.mechanism})
            attributes: dict[str, str | int | float] = {
                "policy": policy,
                "mechanism": event.mechanism,
            }
            if event.retry_after is not None:
                attributes["retry_after"] = event.retry_after
            return "resilience.rejected", attributes
        if isinstance(event, TimedOut):
            ins.timeouts.add(1, {"policy": policy, "kind": event.kind})
            return "resilience.timeout", {
                "policy": policy,
                "kind": event.kind,
                "timeout": event.timeout,
            }
        if isinstance(event, StateChanged):
            attrs = {"policy": policy, "from_state": event.from_state, "to_state": event.to_state}
            ins.transitions.add(1, attrs)
            ins.watch.last_state[policy] = event.to_state  # for breakers without a live readout
            return "resilience.circuit_breaker.state_change", dict(attrs)
        if isinstance(event, FallbackUsed):
            return "resilience.fallback", {
                "policy": policy,
                "exception.type": _exception_type(event.exception),
            }
        if isinstance(event, ChaosInjected):  # so a trace shows which failures were injected
            ins.chaos.add(1, {"policy": policy, "fault": event.fault})
            return "resilience.chaos", {"policy": policy, "fault": event.fault}
        if isinstance(event, StorageError):
            ins.storage_errors.add(1, {"policy": policy, "operation": event.operation})
            return "resilience.storage_error", {
                "policy": policy,
                "backend": event.backend,
                "operation": event.operation,
                "error": event.error,
            }
        return "", {}


def instrument_aiohttp(
    app: web.Application,
    meter_provider: MeterProvider | None = None,
    *,
    exclude_routes: Collection[str] = DEFAULT_EXCLUDED_ROUTES,
) -> None:
    """Record ``http.server.request.duration`` (s) for every request `app` answers.

    Attributes follow the OpenTelemetry HTTP semantic conventions: ``http.request.method``,
    ``http.route`` (the route template, ``unmatched`` when none matched) and
    ``http.response.status_code`` (the status the client received); see
    `exporters.aiohttp.record_requests` (`exclude_routes`: routes not to record, default
    `exporters.aiohttp.DEFAULT_EXCLUDED_ROUTES`).
    Added in 0.1.0.
    """
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    meter = provider.get_meter(METER_NAME)
    description = "Duration of HTTP server requests."
    try:
        histogram = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description=description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
    except TypeError:  # opentelemetry-api < 1.23 has no bucket advice: the SDK's defaults apply
        histogram = meter.create_histogram(
            "http.server.request.duration", unit="s", description=description
        )
    attributes: dict[tuple[str, str, int], dict[str, str | int]] = {}

    def record(method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        attrs = attributes.get(key)
        if attrs is None:
            attrs = attributes[key] = {
                "http.request.method": method,
                "http.route": route,
                "http.response.status_code": status,
            }
        histogram.record(seconds, attrs)

    record_requests(app, record, exclude_routes=exclude_routes)


class OpenTelemetryHook:
    """A hook recording every policy's events as OpenTelemetry metrics and span events.

    `meter_provider` defaults to the global one (``opentelemetry.metrics``); `span_events=False`
    turns the span events off. Hooks sharing a meter provider share its instruments.
    Added in 0.1.0.
    """

    def __init__(
        self, meter_provider: MeterProvider | None = None, *, span_events: bool = True
    ) -> None:
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self._ins = _instruments_for(provider)
        self.span_events = span_events

    def bind(self, policy: PolicyInfo) -> EventHandler | None:
        """Prepare the attribute sets of `policy` and watch its breaker and bulkhead."""
        if policy.storage is None:  # a storage's emitter has no breaker or bulkhead to watch
            self._ins.watch.add(policy)
        if "circuit_breaker" in policy.mechanisms and policy.breaker_state is None:
            self._ins.watch.last_state.setdefault(policy.name, "closed")
        return _Handler(self._ins, policy, self.span_events)

    def __repr__(self) -> str:
        return f"OpenTelemetryHook(span_events={self.span_events})"
