"""resilience4j-micrometer's metric names for resilience events: `PrometheusHook(names=...)`.

``PrometheusHook(names="resilience4j")`` (or ``"both"``) records these families instead of (or as
well as) DESIGN.md's ``resilience_*`` ones, so Grafana dashboards written for resilience4j work
unchanged:

====================================================== ========= ===============================
metric                                                 type      labels
====================================================== ========= ===============================
``resilience4j_circuitbreaker_calls_seconds``          summary   name, kind (successful, failed,
                                                                 ignored)
``resilience4j_circuitbreaker_not_permitted_calls``    counter   name, kind (not_permitted)
``resilience4j_circuitbreaker_state``                  gauge     name, state (one-hot)
``resilience4j_retry_calls``                           counter   name, kind ({successful,failed}
                                                                 _with[out]_retry)
``resilience4j_bulkhead_available_concurrent_calls``   gauge     name
``resilience4j_bulkhead_max_allowed_concurrent_calls`` gauge     name
====================================================== ========= ===============================

The gauges are read from the live policies at scrape time, by `exporters.prometheus` (one
collector for both namings). Added in 0.1.0.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Summary
from prometheus_client.core import GaugeMetricFamily

from exporters._watch import PolicyWatch
from resilience import CallFinished, CallOutcome, PolicyInfo, Rejected, StateChanged
from resilience.events import Event

__all__ = ["Resilience4jHandler", "Resilience4jNames", "resilience4j_gauges"]


def resilience4j_gauges() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """Empty (state, available slots, capacity) gauge families, filled at each scrape."""
    return (
        GaugeMetricFamily(
            "resilience4j_circuitbreaker_state",
            "The states of the circuit breaker",
            labels=["name", "state"],
        ),
        GaugeMetricFamily(
            "resilience4j_bulkhead_available_concurrent_calls",
            "The number of available permissions",
            labels=["name"],
        ),
        GaugeMetricFamily(
            "resilience4j_bulkhead_max_allowed_concurrent_calls",
            "The maximum number of available permissions",
            labels=["name"],
        ),
    )


class Resilience4jNames:
    """resilience4j-micrometer's metric names and labels (reference: resilience-anchors §2.13).

    ``resilience4j_circuitbreaker_calls_seconds{name,kind}`` is recorded once per call through
    the policy (our events report calls, not single attempts), with kind ``successful`` for a
    success, ``failed`` for a failure or a call served by the fallback, ``ignored`` for a call
    refused by an inner bulkhead or rate limiter; calls the breaker refused count in
    ``resilience4j_circuitbreaker_not_permitted_calls_total``. Micrometer's ``_max`` series is
    not exported.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Summary(
            "resilience4j_circuitbreaker_calls_seconds",
            "Total number of calls which finished successfully or failed",
            ["name", "kind"],
            registry=registry,
        )
        self.not_permitted = Counter(
            "resilience4j_circuitbreaker_not_permitted_calls",
            "Total number of not permitted calls",
            ["name", "kind"],
            registry=registry,
        )
        self.retry_calls = Counter(
            "resilience4j_retry_calls",
            "The number of successful or failed calls with or without retry",
            ["name", "kind"],
            registry=registry,
        )


_R4J_KIND = {
    CallOutcome.SUCCESS: "successful",
    CallOutcome.FAILURE: "failed",
    CallOutcome.FALLBACK: "failed",
}


def _r4j_retry_kind(ok: bool, retried: bool) -> str:
    return f"{'successful' if ok else 'failed'}_with{'' if retried else 'out'}_retry"


class Resilience4jHandler:
    """Records one policy's events under resilience4j's names."""

    __slots__ = ("_calls", "_ignored", "_name", "_not_permitted", "_retry", "_watch")

    def __init__(self, m: Resilience4jNames, info: PolicyInfo, watch: PolicyWatch) -> None:
        name = self._name = info.name
        self._watch = watch
        has_breaker = "circuit_breaker" in info.mechanisms or info.breaker_state is not None
        self._calls: dict[CallOutcome, Summary] = {}
        self._ignored: Summary | None = None
        self._not_permitted: Counter | None = None
        if has_breaker:
            self._calls = {o: m.calls.labels(name, k) for o, k in _R4J_KIND.items()}
            self._ignored = m.calls.labels(name, "ignored")
            self._not_permitted = m.not_permitted.labels(name, "not_permitted")
        self._retry: dict[tuple[bool, bool], Counter] = {}
        if "retry" in info.mechanisms:
            self._retry = {
                (ok, retried): m.retry_calls.labels(name, _r4j_retry_kind(ok, retried))
                for ok in (True, False)
                for retried in (True, False)
            }

    def __call__(self, event: Event) -> None:
        kind = type(event)
        if kind is CallFinished:
            assert isinstance(event, CallFinished)
            outcome = event.outcome
            if self._calls:
                if outcome is CallOutcome.REJECTED:
                    if getattr(event.exception, "mechanism", "") != "circuit_breaker":
                        assert self._ignored is not None
                        self._ignored.observe(event.duration)
                else:
                    self._calls[outcome].observe(event.duration)
            if self._retry:
                self._retry[outcome is CallOutcome.SUCCESS, event.attempts > 1].inc()
        elif kind is Rejected:
            assert isinstance(event, Rejected)
            if event.mechanism == "circuit_breaker" and self._not_permitted is not None:
                self._not_permitted.inc()
        elif kind is StateChanged:
            assert isinstance(event, StateChanged)
            self._watch.last_state[self._name] = event.to_state
