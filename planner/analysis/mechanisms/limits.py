"""The adaptive mechanisms of issue 21: an entry point's adaptive limit and criticality shares,
and outlier detection for a dependency with spare replicas.

Adaptive limit (every entry point with a bulkhead, i.e. with rps):

- ``algorithm`` gradient2 (`resilience.adaptive`): it compares a short and a long RTT average.
  Measured through a real `Policy` in virtual time (README, "Adaptive concurrency"), it settles
  at the new knee when capacity halves (59 for a knee of 50) where Vegas, whose queue allowance
  is absolute (3–6 × log10(limit) calls), sits 15–35 % above knees under ~100, the size of most
  entry points' bulkheads; and it does not creep upwards over a long saturated run;
- ``max_limit`` = the inbound bulkhead B (Little's law, `inbound.py`): the limit only lowers
  the concurrency the plan sized, never raises it;
- ``initial_limit`` = B: the traffic the plan expects is admitted from the first request; the
  limit comes down only when the latency it measures shows a queue;
- ``min_limit`` = 1, the runtime's (Netflix concurrency-limits') default: when the capacity
  collapses, the limit may follow it down to one request at a time;
- ``shares`` {default: 1, sheddable: 1} where the spec declares no request criticality: one
  class, every request may use the whole limit.

Criticality shares (only where the spec declares ``request_criticality``): with c, d, s the
declared traffic shares of critical, default and sheddable requests, L the requests in flight
at planned load and B the bulkhead,

- ``shares.default`` = max(⌊1 − c⌋₀.₀₁, ⌈L / B⌉₀.₀₁): under saturation default and sheddable
  requests stop at 1 − c of the limit, so critical requests keep their share of the capacity;
- ``shares.sheddable`` = max(⌊s⌋₀.₀₁, ⌈L / B⌉₀.₀₁): sheddable requests stop at their own share,
  so critical and default ones keep c + d of it and sheddable traffic absorbs the shedding;
- the floor L / B keeps every class admitted at planned load while the limit is at B (a share
  below it would shed requests with no overload at all).

Outlier detection (a dependency whose target is called per replica over HTTP — a service,
search or vector database, `EJECTABLE_KINDS` — and has R ≥ 3 replicas and needs k = its
``min_healthy``, with R − k ≥ 1): Envoy's defaults (consecutive_5xx 5, interval 10 s,
base_ejection_time 30 s, max_ejection_time 300 s, success-rate sweep over ≥ 5 hosts with ≥ 100
requests each per interval, stdev factor 1.9), except ``max_ejection_percent`` =
⌈100 × (R − k) / R⌉₀.₀₀₀₁ (Envoy's default is 10): ejection never leaves fewer than k replicas
serving (the runtime ejects while (ejected + 1) × 100 ≤ percent × hosts). Two replicas get none:
ejecting one of two halves the capacity on a guess. The policy's breaker then becomes one per
host (`resilience.keyed.KeyedBreaker`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

from planner.analysis.graph import Graph
from planner.analysis.mechanisms.common import EdgePlan, format_count
from planner.model import Figure, MechanismRow
from planner.spec import Component, RequestCriticality
from planner.units import format_spec_duration as fmt

__all__ = [
    "EJECTABLE_KINDS",
    "ENVOY_OUTLIER_DEFAULTS",
    "MIN_REPLICAS_FOR_EJECTION",
    "adaptive_limit",
    "ejectable",
    "max_ejection_percent",
    "outlier_detection",
]

MIN_REPLICAS_FOR_EJECTION = 3
"""Fewer replicas get no outlier detection: ejecting one of two halves the capacity."""

EJECTABLE_KINDS = frozenset({"service", "search", "vector_db"})
"""Kinds whose replicas a client calls one by one over HTTP (the integrations key each call by
host:port): a database, cache or queue client holds connections rather than choosing a host
per request, and an external API, LLM API, CDN or object store shows one address for all of
its replicas, so there is no host to eject."""

ENVOY_OUTLIER_DEFAULTS: dict[str, float] = {
    "consecutive_5xx": 5,
    "interval": 10.0,
    "base_ejection_time": 30.0,
    "max_ejection_time": 300.0,
    "success_rate_minimum_hosts": 5,
    "success_rate_request_volume": 100,
    "success_rate_stdev_factor": 1.9,
}
"""Envoy's outlier-detection defaults (also `resilience.keyed.OutlierDetector`'s), as planned."""

ALGORITHM = "gradient2"
MIN_LIMIT = 1
NO_CLASSES = {"default": 1.0, "sheddable": 1.0}
"""The shares of a spec that declares no request criticality: one class, the whole limit (the
runtime's own defaults, 0.9 and 0.5, would shed requests nobody marked as sheddable)."""


def _probability(p: float) -> str:
    """A small probability without scientific notation: 0.12 %, or 3.1 × 10^-15."""
    if p <= 0:
        return "0"
    if p >= 1e-4:
        return f"{p:.2%}"
    exponent = math.floor(math.log10(p))
    return f"{p / 10**exponent:.2g} × 10^{exponent}"


def _ceil2(value: float) -> float:
    return math.ceil(round(value * 100, 6)) / 100


def _floor2(value: float) -> float:
    return math.floor(round(value * 100, 6)) / 100


def adaptive_limit(
    entry: str,
    policy: str,
    in_flight: float,
    bulkhead: int,
    criticality: RequestCriticality | None,
) -> tuple[dict[str, Any], list[MechanismRow]]:
    """(the ``adaptive_limiter`` section, its report rows) of one entry point's inbound policy."""
    section: dict[str, Any] = {
        "algorithm": ALGORITHM,
        "initial_limit": bulkhead,
        "min_limit": MIN_LIMIT,
        "max_limit": bulkhead,
    }
    row = MechanismRow(
        policy,
        "",
        entry,
        "adaptive_limiter",
        "Prevention",
        f"{ALGORITHM}, limit {MIN_LIMIT}…{bulkhead:,}, starts at {bulkhead:,}",
        "Latency rising above the measured no-load RTT",
        f"starts at the bulkhead {bulkhead:,} (Little's law, below) and never exceeds it, so"
        " the traffic the plan expects is admitted from the first request; Gradient2 (which"
        " settles at a small knee where Vegas overshoots it) lowers the limit when its short"
        " RTT average rises above its long one, down to"
        f" {MIN_LIMIT} (the runtime's default minimum) if the capacity collapses; a request"
        " over the limit is refused at once (LimitExceededError: answer 503 with Retry-After)",
        {
            "max_limit": Figure(
                bulkhead, "count", "the inbound bulkhead (Little's law)", {"bulkhead": bulkhead}
            ),
            "initial_limit": Figure(
                bulkhead, "count", "max_limit: planned traffic admitted at once", {}
            ),
        },
        True,
    )
    rows = [row]
    if criticality is None:
        section["shares"] = dict(NO_CLASSES)  # every request may use the whole limit
    else:
        section["shares"], shed_row = _shares(entry, policy, in_flight, bulkhead, criticality)
        rows.append(shed_row)
    return section, rows


def _shares(
    entry: str, policy: str, in_flight: float, bulkhead: int, declared: RequestCriticality
) -> tuple[dict[str, float], MechanismRow]:
    critical, default, sheddable = declared.shares()
    floor = _ceil2(in_flight / bulkhead)
    shares = {
        "default": max(_floor2(1 - critical), floor),
        "sheddable": max(_floor2(sheddable), floor),
    }
    inputs: dict[str, float | int | str] = {
        "critical": critical,
        "default": default,
        "sheddable": sheddable,
        "in_flight": round(in_flight, 6),
        "bulkhead": bulkhead,
        "from": f"{entry}.request_criticality",
    }

    def why(share: float, declared: float, what: str) -> str:
        told = f"{what} {declared:.0%}"
        return f"{told}, raised to the floor" if share > _floor2(declared) else told

    default_why = why(shares["default"], 1 - critical, "1 − critical share")
    sheddable_why = why(shares["sheddable"], sheddable, "their share")
    reason = (
        f"{entry}.request_criticality: {critical:.0%} critical, {default:.0%} default,"
        f" {sheddable:.0%} sheddable requests; under saturation default and sheddable ones stop"
        f" at {shares['default']:.0%} of the limit ({default_why}) so critical requests keep"
        f" their share of the capacity, and sheddable ones at {shares['sheddable']:.0%}"
        f" ({sheddable_why}) so they absorb the shedding first; the floor is {floor:.0%} ="
        f" {format_count(in_flight)} in flight at planned load / bulkhead {bulkhead:,}, so no"
        " class is shed without overload (class from the X-Request-Criticality header;"
        " missing or unknown is default)"
    )
    row = MechanismRow(
        policy,
        "",
        entry,
        "load_shedder",
        "Prevention",
        f"default ≤{shares['default']:.0%}, sheddable ≤{shares['sheddable']:.0%} of the limit",
        "In flight above a class's share of the limit",
        reason,
        {
            "default_share": Figure(
                shares["default"], "ratio", "max(floor(1 − critical), ceil(L / B))", inputs
            ),
            "sheddable_share": Figure(
                shares["sheddable"], "ratio", "max(floor(sheddable), ceil(L / B))", inputs
            ),
        },
        True,
    )
    return shares, row


def max_ejection_percent(replicas: int, needed: int) -> float:
    """The percent of `replicas` the runtime may eject so that `needed` stay: it ejects while
    (ejected + 1) × 100 ≤ percent × hosts, so percent = 100 × (R − k) / R rounded up to 1e-4."""
    return math.ceil(round(100 * (replicas - needed) / replicas * 10**4, 6)) / 10**4


def ejectable(target: Component) -> bool:
    """Whether calls to `target` get outlier detection: an ejectable kind with 3 or more
    replicas, at least one to spare over its min_healthy."""
    replicas = target.replicas
    return (
        target.kind in EJECTABLE_KINDS
        and replicas >= MIN_REPLICAS_FOR_EJECTION
        and replicas - target.min_healthy >= 1
    )


def outlier_detection(
    graph: Graph, plan: EdgePlan
) -> tuple[dict[str, Any] | None, list[MechanismRow]]:
    """(the ``outlier_detection`` section or None, its report rows) of one dependency edge."""
    target = graph.components[plan.edge.target]
    if not ejectable(target):
        return None, []
    availability = graph.facts[target.name].availability.value
    shape = _ejection(target.replicas, target.min_healthy, availability, graph.edge_rps(plan.edge))
    section: dict[str, Any] = {**_PLANNED_DEFAULTS, "max_ejection_percent": shape.percent}
    row = MechanismRow(
        plan.policy,
        plan.edge.caller,
        target.name,
        "outlier_detection",
        "Isolation",
        shape.config,
        shape.trigger,
        target.name + shape.reason_tail,
        {"max_ejection_percent": shape.percent_figure, "false_ejection": shape.false_figure},
    )
    return section, [row]


#: ENVOY_OUTLIER_DEFAULTS as the plan writes them: its counts as ints
_PLANNED_DEFAULTS: dict[str, float] = {
    key: int(value)
    if key in ("consecutive_5xx", "success_rate_minimum_hosts", "success_rate_request_volume")
    else value
    for key, value in ENVOY_OUTLIER_DEFAULTS.items()
}


class _Ejection(NamedTuple):
    """An edge's outlier detection, from its target's replicas and availability and its rps."""

    percent: float
    config: str
    trigger: str
    reason_tail: str  # the reason after the target's name
    percent_figure: Figure
    false_figure: Figure


# The values repeat across a large system's edges (replicas, min_healthy and availability from
# a few choices, rps from the entry points' shares): each combination is worked out once.
@functools.lru_cache(maxsize=4096, typed=True)
def _ejection(replicas: int, needed: int, availability: float, rps: float | None) -> _Ejection:
    """`outlier_detection`'s figures and texts, but for the target's name."""
    percent = max_ejection_percent(replicas, needed)
    d = ENVOY_OUTLIER_DEFAULTS
    false_run = (1 - availability / 100) ** d["consecutive_5xx"]
    reason_tail = (
        f" runs {replicas} replicas and needs {needed} (min_healthy): a host"
        f" failing {d['consecutive_5xx']:g} calls in a row is ejected for"
        f" {fmt(d['base_ejection_time'])} × its ejection count (≤ {fmt(d['max_ejection_time'])});"
        f" at most {percent:g} % of the hosts at once = 100 × ({replicas} − {needed}) / {replicas},"
        f" so ejection never leaves fewer than {needed} serving (Envoy's default is 10 %);"
        f" a healthy host at {availability:g} % fails {d['consecutive_5xx']:g} in a row with"
        f" probability {_probability(false_run)}; {_sweep(replicas, rps)}; the circuit breaker"
        " becomes one per host (host:port, as the aiohttp and httpx integrations key calls)"
        " with the settings above, each seeing its host's share of the calls. Other settings"
        " are Envoy's defaults"
    )
    inputs: dict[str, float | int | str] = {"replicas": replicas, "min_healthy": needed}
    return _Ejection(
        percent,
        f"{d['consecutive_5xx']:g} consecutive failures eject a host for"
        f" {fmt(d['base_ejection_time'])}+, ≤{percent:g} % of hosts",
        f"{d['consecutive_5xx']:g} failures in a row from one host",
        reason_tail,
        Figure(percent, "%", "ceil(100 × (replicas − min_healthy) / replicas)", inputs),
        Figure(
            false_run,
            "probability",
            "(1 − availability)^consecutive_5xx",
            {"availability": availability, "consecutive_5xx": int(d["consecutive_5xx"])},
        ),
    )


def _sweep(replicas: int, rps: float | None) -> str:
    """Whether the success-rate sweep can act, in words."""
    d = ENVOY_OUTLIER_DEFAULTS
    hosts, volume = int(d["success_rate_minimum_hosts"]), int(d["success_rate_request_volume"])
    if replicas < hosts:
        return (
            f"the success-rate sweep needs ≥ {hosts} hosts (with fewer, no host can lie"
            f" {d['success_rate_stdev_factor']:g} σ below the mean: √(n − 1) ≤ √3 < 1.9), so with"
            f" {replicas} only consecutive failures eject"
        )
    if rps is None:
        return "the success-rate sweep's volume is unknown (no rps for the caller)"
    per_host = rps * d["interval"] / replicas
    if per_host < volume:
        return (
            f"each host gets {format_count(per_host)} calls per {fmt(d['interval'])} interval"
            f" ({rps:g}/s ÷ {replicas}), under the sweep's {volume}: only consecutive failures"
            " eject"
        )
    return (
        f"the success-rate sweep also ejects a host {d['success_rate_stdev_factor']:g} σ below"
        f" the mean ({format_count(per_host)} calls per host per {fmt(d['interval'])})"
    )
