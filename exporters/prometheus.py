"""Prometheus metrics from resilience events (prometheus-client).

``resilience.add_hook(PrometheusHook())`` records the metrics of DESIGN.md's table for every
policy, into the default registry or the `CollectorRegistry` given:

=============================================== ========= ======================================
metric                                          type      labels
=============================================== ========= ======================================
``resilience_calls_total``                      counter   policy, outcome (success, failure,
                                                          rejected, fallback)
``resilience_call_duration_seconds``            histogram policy
``resilience_retries_total``                    counter   policy
``resilience_rejections_total``                 counter   policy, mechanism (circuit_breaker,
                                                          bulkhead, rate_limiter, retry_budget,
                                                          adaptive_limiter, load_shedder,
                                                          outlier_detection)
``resilience_timeouts_total``                   counter   policy, kind (attempt, deadline)
``resilience_circuit_breaker_state``            gauge     policy, state (one-hot)
``resilience_circuit_breaker_transitions_total`` counter  policy, from_state, to_state
``resilience_bulkhead_in_flight``               gauge     policy (read at scrape time)
``resilience_bulkhead_capacity``                gauge     policy (read at scrape time)
``resilience_adaptive_limit``                   gauge     policy (read at scrape time: the
                                                          `AdaptiveLimiter`'s current limit)
``resilience_storage_errors_total``             counter   policy, operation (shared state, Redis)
``resilience_chaos_injections_total``           counter   policy, fault (fault, latency, outcome,
                                                          behaviour: `chaos` strategies)
=============================================== ========= ======================================

Label children are bound once per policy in `bind`, so a call costs a counter increment and a
histogram observation, no label lookup. The series of the mechanisms a policy has exist (at 0) as
soon as it is built, so ``rate()`` and alerts work before the first failure. The breaker state
(present from the moment the policy is built) and the bulkhead gauges are read from the policy when
Prometheus scrapes, at no cost per call.

``PrometheusHook(names="resilience4j")`` (or ``"both"``) exports resilience4j's names instead (or
as well), so existing resilience4j Grafana dashboards work unchanged; the names and how events map
to them are in `exporters.resilience4j`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters._watch import BREAKER_STATES, PolicyWatch
from exporters.resilience4j import Resilience4jHandler, Resilience4jNames, resilience4j_gauges
from resilience import (
    CallFinished,
    CallOutcome,
    ChaosInjected,
    ConfigError,
    PolicyInfo,
    Rejected,
    RetryScheduled,
    StateChanged,
    TimedOut,
)
from resilience.events import Event, EventHandler, StorageError

__all__ = ["DURATION_BUCKETS", "Names", "PrometheusHook", "Resilience4jNames", "ResilienceNames"]

Names = Literal["resilience", "resilience4j", "both"]

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Histogram buckets in seconds: the OpenTelemetry HTTP semantic conventions' recommendation."""

_REJECTING = {
    "circuit_breaker": "circuit_breaker",
    "bulkhead": "bulkhead",
    "rate_limiter": "rate_limiter",
    "retry": "retry_budget",
    "adaptive_limiter": "adaptive_limiter",
}
"""Mechanism listed in a policy → the `mechanism` label of the rejections it can cause."""


class _LiveGauges(Collector):
    """Breaker state and bulkhead gauges, read from the live policies at scrape time.

    Reading the breaker's own state when Prometheus scrapes (rather than replaying transitions)
    keeps every series right however often a policy is bound, and also for a breaker whose own
    emitter (named after the breaker) never sees the transitions it makes inside a policy. A
    breaker without a live readout shows the last state its events reported ("closed" at first).
    """

    def __init__(self) -> None:
        self.watch = PolicyWatch()
        self.resilience = False
        self.resilience4j = False

    def describe(self) -> Iterable[Metric]:
        return [*(f for group in self._groups() for f in group[0]), *self._limit_family()]

    def _limit_family(self) -> list[GaugeMetricFamily]:
        if not self.resilience:
            return []
        return [
            GaugeMetricFamily(
                "resilience_adaptive_limit",
                "The adaptive concurrency limiter's current limit.",
                labels=["policy"],
            )
        ]

    def _groups(
        self,
    ) -> list[tuple[tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily], bool]]:
        """(state, bulkhead A, bulkhead B) families per enabled naming; True for resilience4j's,
        whose bulkhead A gauge is the *available* slots rather than the slots in use."""
        groups: list[
            tuple[tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily], bool]
        ] = []
        if self.resilience:
            groups.append(
                (
                    (
                        GaugeMetricFamily(
                            "resilience_circuit_breaker_state",
                            "1 for the circuit breaker's current state, 0 for the others.",
                            labels=["policy", "state"],
                        ),
                        GaugeMetricFamily(
                            "resilience_bulkhead_in_flight",
                            "Calls holding a bulkhead slot now.",
                            labels=["policy"],
                        ),
                        GaugeMetricFamily(
                            "resilience_bulkhead_capacity",
                            "Maximum concurrent calls the bulkhead admits.",
                            labels=["policy"],
                        ),
                    ),
                    False,
                )
            )
        if self.resilience4j:
            groups.append((resilience4j_gauges(), True))
        return groups

    def collect(self) -> Iterable[Metric]:
        groups = self._groups()
        limits = self._limit_family()
        for view in self.watch.views():
            if limits and view.adaptive_limit is not None:
                limits[0].add_metric([view.name], view.adaptive_limit)
            states = (
                ()
                if view.state is None
                else (*BREAKER_STATES, *(() if view.state in BREAKER_STATES else (view.state,)))
            )
            for (state, bulkhead_a, bulkhead_b), available in groups:
                for label in states:
                    state.add_metric([view.name, label], int(label == view.state))
                if view.bulkhead is not None:
                    in_flight, capacity = view.bulkhead
                    bulkhead_a.add_metric(
                        [view.name], capacity - in_flight if available else in_flight
                    )
                    bulkhead_b.add_metric([view.name], capacity)
        return [*(f for group in groups for f in group[0]), *limits]


class _Instruments:
    """The metric objects of one registry, shared by every hook that records into it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # no reference back to `registry`: it is the key of a WeakKeyDictionary
        self.gauges = _LiveGauges()
        registry.register(self.gauges)
        self.lock = threading.Lock()
        self.native: ResilienceNames | None = None
        self.r4j: Resilience4jNames | None = None

    def enable(self, registry: CollectorRegistry, names: Names) -> None:
        with self.lock:
            if names in ("resilience", "both") and self.native is None:
                self.native = ResilienceNames(registry)
                self.gauges.resilience = True
            if names in ("resilience4j", "both") and self.r4j is None:
                self.r4j = Resilience4jNames(registry)
                self.gauges.resilience4j = True


_instruments: weakref.WeakKeyDictionary[CollectorRegistry, _Instruments] = (
    weakref.WeakKeyDictionary()
)
_instruments_lock = threading.Lock()


def _instruments_for(registry: CollectorRegistry) -> _Instruments:
    with _instruments_lock:
        found = _instruments.get(registry)
        if found is None:
            found = _instruments[registry] = _Instruments(registry)
        return found


class ResilienceNames:
    """The metric families of DESIGN.md's table (one set per registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "resilience_calls",
            "Calls through a policy, by final outcome.",
            ["policy", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "resilience_call_duration_seconds",
            "Duration of calls through a policy, retries included.",
            ["policy"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "resilience_retries",
            "Retries scheduled (attempts after the first).",
            ["policy"],
            registry=registry,
        )
        self.rejections = Counter(
            "resilience_rejections",
            "Calls or retries refused by our own mechanisms.",
            ["policy", "mechanism"],
            registry=registry,
        )
        self.timeouts = Counter(
            "resilience_timeouts",
            "Attempt timeouts and total deadlines hit.",
            ["policy", "kind"],
            registry=registry,
        )
        self.transitions = Counter(
            "resilience_circuit_breaker_transitions",
            "Circuit breaker state transitions.",
            ["policy", "from_state", "to_state"],
            registry=registry,
        )
        self.chaos = Counter(
            "resilience_chaos_injections",
            "Faults injected by chaos strategies (chaos package).",
            ["policy", "fault"],
            registry=registry,
        )


class _NativeHandler:
    """Records one policy's events under DESIGN.md's names, through pre-bound children."""

    __slots__ = (
        "_calls",
        "_chaos",
        "_duration",
        "_m",
        "_name",
        "_rejections",
        "_retries",
        "_timeouts",
        "_transitions",
        "_watch",
    )

    def __init__(self, m: ResilienceNames, info: PolicyInfo, watch: PolicyWatch) -> None:
        name = self._name = info.name
        self._m = m
        self._calls = {o: m.calls.labels(name, o.value) for o in CallOutcome}
        self._duration = m.duration.labels(name)
        self._retries = m.retries.labels(name) if "retry" in info.mechanisms else None
        self._rejections = {
            _REJECTING[k]: m.rejections.labels(name, _REJECTING[k])
            for k in info.mechanisms
            if k in _REJECTING
        }
        if "adaptive_limiter" in info.mechanisms:
            self._rejections["load_shedder"] = m.rejections.labels(name, "load_shedder")
        self._timeouts: dict[str, Counter] = {}
        self._transitions: dict[tuple[str, str], Counter] = {}
        self._chaos: dict[str, Counter] = {}
        self._watch = watch

    def __call__(self, event: Event) -> None:
        kind = type(event)
        if kind is CallFinished:
            assert isinstance(event, CallFinished)
            self._calls[event.outcome].inc()
            self._duration.observe(event.duration)
        elif kind is RetryScheduled:
            if self._retries is None:
                self._retries = self._m.retries.labels(self._name)
            self._retries.inc()
        elif kind is Rejected:
            assert isinstance(event, Rejected)
            child = self._rejections.get(event.mechanism)
            if child is None:
                child = self._rejections[event.mechanism] = self._m.rejections.labels(
                    self._name, event.mechanism
                )
            child.inc()
        elif kind is TimedOut:
            assert isinstance(event, TimedOut)
            timeout = self._timeouts.get(event.kind)
            if timeout is None:
                timeout = self._timeouts[event.kind] = self._m.timeouts.labels(
                    self._name, event.kind
                )
            timeout.inc()
        elif kind is StateChanged:
            assert isinstance(event, StateChanged)
            key = (event.from_state, event.to_state)
            transition = self._transitions.get(key)
            if transition is None:
                transition = self._transitions[key] = self._m.transitions.labels(self._name, *key)
            transition.inc()
            self._watch.last_state[self._name] = event.to_state
        elif kind is ChaosInjected:
            assert isinstance(event, ChaosInjected)
            injected = self._chaos.get(event.fault)
            if injected is None:
                injected = self._chaos[event.fault] = self._m.chaos.labels(self._name, event.fault)
            injected.inc()


def _both(first: EventHandler, second: EventHandler) -> EventHandler:
    def handle(event: Event) -> None:
        first(event)
        second(event)

    return handle


class PrometheusHook:
    """A hook recording every policy's events as Prometheus metrics.

    `registry` defaults to prometheus-client's global registry. `names` picks the metric names:
    ``"resilience"`` (DESIGN.md's table), ``"resilience4j"`` (resilience4j-micrometer's, for
    existing dashboards) or ``"both"``. Several hooks on one registry share its metrics.
    Added in 0.1.0.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, names: Names = "resilience"
    ) -> None:
        if names not in ("resilience", "resilience4j", "both"):
            raise ConfigError(
                f"PrometheusHook: names must be 'resilience', 'resilience4j' or "
                f"'both', got {names!r}"
            )
        self.registry = registry if registry is not None else REGISTRY
        self.names = names
        self._instruments = _instruments_for(self.registry)
        self._instruments.enable(self.registry, names)

    def bind(self, policy: PolicyInfo) -> EventHandler | None:
        """Bind the label children of `policy` and watch its breaker state and bulkhead."""
        if policy.storage is not None:  # a shared-state backend's emitter (storage/)
            return _StorageErrors(self.registry, policy)
        ins = self._instruments
        watch = ins.gauges.watch
        watch.add(policy)
        if "circuit_breaker" in policy.mechanisms and policy.breaker_state is None:
            watch.last_state.setdefault(policy.name, "closed")  # no live readout: follow events
        native = (
            _NativeHandler(ins.native, policy, watch)
            if ins.native and self.names != ("resilience4j")
            else None
        )
        r4j = (
            Resilience4jHandler(ins.r4j, policy, watch)
            if ins.r4j and self.names != "resilience"
            else None
        )
        if native is not None and r4j is not None:
            return _both(native, r4j)
        return native or r4j

    def __repr__(self) -> str:
        return f"PrometheusHook(names={self.names!r})"


# ------------------------------------------------------------------ shared-state storage errors

_storage_counters: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = (
    weakref.WeakKeyDictionary()
)


class _StorageErrors:
    """Counts `StorageError` events as ``resilience_storage_errors_total{policy, operation}``.

    A storage (e.g. `resilience.storage.RedisStorage`) emits them when Redis failed and a
    mechanism fell back to local state; `operation` is one of a few fixed names.
    """

    __slots__ = ("_children", "_counter", "_name")

    def __init__(self, registry: CollectorRegistry, info: PolicyInfo) -> None:
        with _instruments_lock:
            counter = _storage_counters.get(registry)
            if counter is None:
                counter = _storage_counters[registry] = Counter(
                    "resilience_storage_errors",
                    "Shared-state backend failures (the mechanism used local state instead).",
                    ["policy", "operation"],
                    registry=registry,
                )
        self._counter = counter
        self._name = info.name
        self._children: dict[str, Counter] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, StorageError):
            child = self._children.get(event.operation)
            if child is None:
                child = self._children[event.operation] = self._counter.labels(
                    self._name, event.operation
                )
            child.inc()
