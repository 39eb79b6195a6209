"""Mechanisms per dependency, derived from the spec, each with its reason.

For every edge caller → target (policy named after the target, or `caller.target` when the target
has several callers):

- attempt timeout = target p99 × 1.5 (headroom), rounded up to 10 ms, clipped to the deadline;
- deadline = the caller's latency budget − its own p50 − the p99 of its other calls − the time
  its fallback component needs; a caller without a declared budget gets the attempt timeout its
  own callers give it;
- retries only when the target has transient failure modes and the call is idempotent, and only
  as many attempts (≤ 3) as fit: attempts × timeout + worst-case backoff ≤ deadline; a retry
  budget (20 % of calls + 3/s, Envoy/Finagle style) so retries never multiply an outage;
- circuit breaker: 50 % failure rate over a time window sized from the edge's rps so that a full
  outage trips it within ~10 s (minimum calls = rps × 10 s, 5…100); open duration grows from
  MTTR/10 to MTTR/2 (5 s…5 min) so probes catch a recovery without hammering a long outage;
- bulkhead by Little's law: L = rps × p99 calls in flight; max concurrent = L × 1.5, and at
  least L + 3√L (Poisson arrivals: a few slots at a small L would reject bursts);
- rate limiter from a declared quota, split between callers by their traffic;
- fallback wherever the edge is soft or declares a fallback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from planner.catalog import CATALOG, KIND_DEFAULTS
from planner.errors import PlannerError
from planner.graph import Edge, Graph
from planner.model import Figure, MechanismRow
from planner.units import format_spec_duration as fmt
from resilience.config import PolicyConfig

TIMEOUT_HEADROOM = 1.5
MAX_ATTEMPTS = 3
FAILURE_RATE = 0.5
TRIP_WITHIN = 10.0
MIN_CALLS_FLOOR, MIN_CALLS_CEIL = 5, 100
BUDGET_RATIO, BUDGET_MIN_PER_S = 0.2, 3.0
BULKHEAD_HEADROOM = 1.5


@dataclass(frozen=True)
class EdgePlan:
    """The derived settings of one edge, for the other analyses (runbooks, recovery, failures)."""

    edge: Edge
    policy: str
    timeout: Figure
    deadline: Figure
    max_attempts: int
    has_breaker: bool
    has_fallback: bool
    fallback: str | None
    rate_limited: bool
    bulkhead: int | None
    trip: Figure  # seconds (or calls, without rps) until a full outage opens the breaker


@dataclass(frozen=True)
class Mechanisms:
    """Rows for the report, the loadable table and per-edge plans."""

    rows: tuple[MechanismRow, ...]
    table: Mapping[str, Any]
    edges: tuple[EdgePlan, ...]
    by_target: Mapping[str, tuple[EdgePlan, ...]]


def _ceil_to(seconds: float, step: float = 0.01) -> float:
    return round(math.ceil(round(seconds / step, 6)) * step, 6)


def _floor_to(seconds: float, step: float = 0.01) -> float:
    # a deadline is rounded down: rounding up would overspend the caller's budget
    return round(math.floor(round(seconds / step, 6)) * step, 6)


def policy_name(graph: Graph, edge: Edge) -> str:
    """The target's name, or `caller.target` when the target has several callers."""
    return edge.target if len(graph.callers[edge.target]) == 1 else f"{edge.caller}.{edge.target}"


def latency(graph: Graph, name: str) -> tuple[float, float, str]:
    """(p50, p99, source) of one call to a component."""
    comp = graph.components[name]
    defaults = KIND_DEFAULTS[comp.kind]
    if comp.latency is None:
        return defaults.p50, defaults.p99, "catalog default"
    p50 = comp.latency.p50 if comp.latency.p50 is not None else min(defaults.p50, comp.latency.p99)
    return p50, comp.latency.p99, "declared"


def transient_modes(graph: Graph, name: str) -> list[str]:
    """Names of the target's failure modes a retry can outlast."""
    comp = graph.components[name]
    names = [m.name for m in CATALOG[comp.kind] if m.transient]
    declared = {m.name: m.transient for m in comp.failure_modes}
    names = [n for n in names if declared.get(n, True)]
    names += [n for n, t in declared.items() if t and n not in names]
    return sorted(names)


def _has_rate_limit(graph: Graph, name: str) -> bool:
    comp = graph.components[name]
    return comp.quota is not None or any(m.category == "rate_limit" for m in CATALOG[comp.kind])


def _mttr(graph: Graph, name: str) -> tuple[float, str]:
    comp = graph.components[name]
    if comp.mttr is not None:
        return comp.mttr, "declared"
    return KIND_DEFAULTS[comp.kind].mttr, "catalog default"


def derive(graph: Graph) -> Mechanisms:
    """Derive every edge's mechanisms, callers before their targets (budgets flow downwards)."""
    budget: dict[str, tuple[float, str] | None] = {}
    rows: list[MechanismRow] = []
    table: dict[str, Any] = {}
    plans: list[EdgePlan] = []
    for caller in reversed(graph.order):
        comp = graph.components[caller]
        if comp.latency_budget is not None:
            budget[caller] = (comp.latency_budget, f"{caller}.latency_budget")
        elif caller not in budget:
            budget[caller] = None
        for edge in graph.edges[caller]:
            plan, policy, edge_rows = _edge(graph, edge, budget[caller])
            plans.append(plan)
            rows.extend(edge_rows)
            table[plan.policy] = policy
            # the target may spend at most one attempt timeout of its tightest caller
            previous = budget.get(edge.target)
            offer = (plan.timeout.value, f"{plan.policy} attempt timeout")
            if graph.components[edge.target].latency_budget is None and (
                previous is None or offer[0] < previous[0]
            ):
                budget[edge.target] = offer
    plans.sort(key=lambda p: p.policy)
    rows.sort(key=lambda r: (r.policy, _ORDER.get(r.mechanism, 99)))
    by_target: dict[str, list[EdgePlan]] = {}
    for plan in plans:
        by_target.setdefault(plan.edge.target, []).append(plan)
    ordered = {name: table[name] for name in sorted(table)}
    _validate(ordered)
    return Mechanisms(
        tuple(rows),
        ordered,
        tuple(plans),
        {k: tuple(v) for k, v in by_target.items()},
    )


_ORDER = {
    "timeout": 0,
    "deadline": 1,
    "retry": 2,
    "circuit_breaker": 3,
    "bulkhead": 4,
    "rate_limiter": 5,
    "fallback": 6,
}


def _edge(
    graph: Graph, edge: Edge, caller_budget: tuple[float, str] | None
) -> tuple[EdgePlan, dict[str, Any], list[MechanismRow]]:
    name = policy_name(graph, edge)
    caller, target = edge.caller, edge.target
    p50, p99, lat_src = latency(graph, target)
    rows: list[MechanismRow] = []

    def add(mech: str, kind: str, config: str, trigger: str, reason: str, **figs: Figure) -> None:
        rows.append(MechanismRow(name, caller, target, mech, kind, config, trigger, reason, figs))

    # -- deadline -----------------------------------------------------------------------------
    fallback = graph.fallback_of(edge)
    raw_timeout = max(0.001, _ceil_to(p99 * TIMEOUT_HEADROOM))
    deadline_value: float | None = None
    deadline_fig: Figure | None = None
    if caller_budget is not None:
        caller_latency = graph.components[caller].latency
        own = (caller_latency.p50 if caller_latency is not None else None) or 0.0
        siblings = math.fsum(
            latency(graph, e.target)[1] * e.dep.calls_per_request
            for e in graph.edges[caller]
            if e is not edge and e.target != fallback
        )
        reserve = _ceil_to(latency(graph, fallback)[1] * TIMEOUT_HEADROOM) if fallback else 0.0
        available = caller_budget[0] - own - siblings - reserve
        deadline_value = _floor_to(available) if available > 0 else 0.0
        deadline_fig = Figure(
            deadline_value,
            "s",
            "budget - caller p50 - Σ other calls' p99 × calls - fallback timeout",
            {
                "budget": caller_budget[0],
                "budget_from": caller_budget[1],
                "caller_p50": own,
                "other_calls_p99": round(siblings, 6),
                "fallback_timeout": reserve,
            },
        )
    timeout_value = raw_timeout
    timeout_reason = f"{target} p99 {fmt(p99)} ({lat_src}) × {TIMEOUT_HEADROOM} headroom"
    if deadline_value is not None and deadline_value < raw_timeout:
        if deadline_value <= 0:
            # the budget is already spent by the caller's other calls: one attempt at p99 × 1.5,
            # and the report says the budget cannot hold it
            deadline_value = raw_timeout
            assert deadline_fig is not None
            deadline_fig = Figure(
                raw_timeout, "s", "attempt timeout (budget exhausted)", dict(deadline_fig.inputs)
            )
            timeout_reason += (
                f"; {caller}'s latency budget is used up by its other calls, so this call"
                " alone overruns it: raise latency_budget or cut the other calls"
            )
        else:
            timeout_value = deadline_value
            timeout_reason += (
                f" = {fmt(raw_timeout)} exceeds the {fmt(deadline_value)} deadline, clipped to it:"
                f" calls slower than that fail (raise {caller}.latency_budget to avoid it)"
            )
    timeout_fig = Figure(
        timeout_value,
        "s",
        "min(ceil_10ms(p99 × headroom), deadline)",
        {"p99": p99, "headroom": TIMEOUT_HEADROOM, "p99_source": lat_src},
    )
    add(
        "timeout",
        "Containment",
        f"{fmt(timeout_value)} per attempt",
        f"Attempt latency >{fmt(timeout_value)}",
        timeout_reason,
        timeout=timeout_fig,
    )

    # -- retry ----------------------------------------------------------------------------------
    transient = transient_modes(graph, target)
    initial = _ceil_to(min(max(p50, 0.05), 1.0))
    cap = initial * 8
    attempts = 1
    retry_reason: str
    if not edge.dep.idempotent:
        retry_reason = "not idempotent (idempotent: false): a retry could repeat a side effect"
    elif not transient:
        retry_reason = f"{target} has no transient failure mode: a retry would fail the same way"
    else:
        limit = deadline_value
        for n in range(MAX_ATTEMPTS, 0, -1):
            worst = n * timeout_value + _worst_backoff(n, initial, cap)
            if limit is None or worst <= limit + 1e-9:
                attempts = n
                break
        if attempts > 1:
            retry_reason = (
                f"transient modes ({', '.join(transient)}); {attempts} attempts"
                f" × {fmt(timeout_value)}"
                f" + worst-case backoff {fmt(_worst_backoff(attempts, initial, cap))}"
                + (
                    f" fit the {fmt(limit)} deadline"
                    if limit is not None
                    else " (no latency budget)"
                )
            )
        else:
            retry_reason = (
                f"a second attempt (2 × {fmt(timeout_value)} + backoff) does not fit the"
                f" {fmt(limit or 0)} deadline"
            )
    if deadline_value is None:
        deadline_value = _ceil_to(attempts * timeout_value + _worst_backoff(attempts, initial, cap))
        deadline_fig = Figure(
            deadline_value,
            "s",
            "attempts × timeout + worst-case backoff (no latency budget)",
            {"attempts": attempts, "timeout": timeout_value, "initial": initial, "max": cap},
        )
    assert deadline_fig is not None
    add(
        "deadline",
        "Containment",
        f"{fmt(deadline_value)} total",
        f"Total latency >{fmt(deadline_value)}",
        "from " + (caller_budget[1] if caller_budget else "the retries it must bound"),
        deadline=deadline_fig,
    )
    retry_cfg: dict[str, Any] | None = None
    rate_limit = _has_rate_limit(graph, target)
    if attempts > 1:
        extra: dict[str, Any] = {}
        if rate_limit:
            extra["max_retry_after"] = max(0.0, _ceil_to(deadline_value - timeout_value))
        retry_cfg = {
            "max_attempts": attempts,
            "wait": {"kind": "random_exponential", "multiplier": initial, "max": cap},
            "budget": {"ratio": BUDGET_RATIO, "min_per_second": BUDGET_MIN_PER_S},
            **extra,
        }
        add(
            "retry",
            "Recovery",
            f"{attempts} attempts, {fmt(initial)}–{fmt(cap)} full-jitter backoff",
            "Transient error",
            retry_reason,
            max_attempts=Figure(
                attempts,
                "count",
                "max n ≤ 3: n × timeout + backoff ≤ deadline",
                {
                    "timeout": timeout_value,
                    "deadline": deadline_value,
                    "initial": initial,
                    "max": cap,
                },
            ),
        )
        add(
            "retry_budget",
            "Recovery",
            f"{BUDGET_RATIO:.0%} of calls + {BUDGET_MIN_PER_S:g}/s",
            "Retry storm",
            "retries may add at most 20% load (+3/s floor for low traffic), Envoy/Finagle defaults,"
            " so an outage is not multiplied by the attempts",
        )
    else:
        add("retry", "Recovery", "none", "-", "no retry: " + retry_reason)

    # -- circuit breaker -------------------------------------------------------------------------
    rps = graph.edge_rps(edge)
    mttr, mttr_src = _mttr(graph, target)
    open_initial = min(max(mttr / 10, 5.0), 60.0)
    open_max = max(open_initial, min(mttr / 2, 300.0))
    if rps is not None:
        min_calls = min(MIN_CALLS_CEIL, max(MIN_CALLS_FLOOR, math.floor(rps * TRIP_WITHIN)))
        trip = min_calls / rps
        # a window must hold minimum_calls calls at normal traffic; capped at an hour
        window = min(3600, max(int(TRIP_WITHIN), math.ceil(trip)))
        breaker = {
            "failure_rate_threshold": FAILURE_RATE,
            "minimum_calls": min_calls,
            "window_type": "time",
            "window_size": window,
            "half_open_calls": min(10, max(1, round(rps))),
            "open_duration": {"initial": open_initial, "multiplier": 2.0, "max": open_max},
        }
        breaker_text = f"{FAILURE_RATE:.0%} of ≥{min_calls} calls in {window}s"
        breaker_reason = (
            f"{rps:g} calls/s: a full outage reaches {min_calls} calls and trips it in"
            f" {fmt(trip)}; open {fmt(open_initial)} doubling to {fmt(open_max)}"
            f" from {target} MTTR {fmt(mttr)} ({mttr_src})"
        )
        trip_fig = Figure(
            trip, "s", "minimum_calls / rps", {"minimum_calls": min_calls, "rps": rps}
        )
    else:
        min_calls = 10
        breaker = {
            "failure_rate_threshold": FAILURE_RATE,
            "minimum_calls": min_calls,
            "window_type": "count",
            "window_size": 20,
            "open_duration": {"initial": open_initial, "multiplier": 2.0, "max": open_max},
        }
        breaker_text = f"{FAILURE_RATE:.0%} of the last 20 calls (≥{min_calls})"
        breaker_reason = (
            f"no rps in the spec for {caller}: a count window of 20 calls; open"
            f" {fmt(open_initial)} doubling to {fmt(open_max)} from {target} MTTR {fmt(mttr)}"
        )
        trip_fig = Figure(
            min_calls, "calls", "minimum_calls (no rps)", {"minimum_calls": min_calls}
        )
    add(
        "circuit_breaker",
        "Containment",
        breaker_text,
        f"Error rate >{FAILURE_RATE:.0%}",
        breaker_reason,
        trip=trip_fig,
        open_duration=Figure(open_initial, "s", "clamp(mttr / 10, 5s, 60s)", {"mttr": mttr}),
    )

    # -- bulkhead -------------------------------------------------------------------------------
    bulkhead_cfg: dict[str, Any] | None = None
    bulkhead_size: int | None = None
    if rps is not None:
        in_flight = rps * p99
        bulkhead_size = bulkhead_capacity(in_flight)
        bulkhead_cfg = {"max_concurrent": bulkhead_size}
        add(
            "bulkhead",
            "Isolation",
            f"{bulkhead_size} concurrent",
            "Load",
            f"Little's law: {rps:g} calls/s × p99 {fmt(p99)} = {in_flight:.3g} in flight;"
            f" × {BULKHEAD_HEADROOM} headroom, at least + 3√ of it for bursts",
            max_concurrent=Figure(
                bulkhead_size,
                "count",
                "ceil(max(L × headroom, L + 3√L)), L = rps × p99",
                {"rps": rps, "p99": p99, "headroom": BULKHEAD_HEADROOM},
            ),
        )

    # -- rate limiter ----------------------------------------------------------------------
    limiter_cfg: dict[str, Any] | None = None
    quota = graph.components[target].quota
    if quota is not None:
        callers = graph.callers[target]
        known = [graph.edge_rps(e) for e in callers]
        if rps is not None and all(k is not None for k in known):
            share = rps / math.fsum(k for k in known if k is not None)
        else:
            share = 1.0 / len(callers)
        rate = quota.rps * share
        burst = max(1, math.floor((quota.burst if quota.burst else quota.rps) * share))
        limiter_cfg = {"rate_per_s": float(f"{rate:.6g}"), "burst": burst}
        over = (
            f"; normal traffic {rps:g}/s exceeds it: expect rejections"
            if rps and rps > rate
            else ""
        )
        add(
            "rate_limiter",
            "Prevention",
            f"{rate:g}/s, burst {burst}",
            f">{rate:g} calls/s",
            f"{target} quota {quota.rps:g}/s × this caller's traffic share {share:.2f}{over}",
            rate_per_s=Figure(
                rate, "1/s", "quota × caller share", {"quota": quota.rps, "share": share}
            ),
        )

    # -- fallback --------------------------------------------------------------------------
    fallback_cfg: dict[str, Any] | None = None
    if edge.degrades:
        fallback_cfg = {}
        what = edge.dep.fallback or "a degraded answer without it (soft dependency)"
        add(
            "fallback",
            "Recovery",
            f"→ {what}",
            "Failure after retries / breaker open",
            f"{edge.dep.type} dependency with fallback {what!r}: the handler is supplied in code",
        )

    sections = {
        "retry": retry_cfg,
        "circuit_breaker": breaker,
        "bulkhead": bulkhead_cfg,
        "rate_limiter": limiter_cfg,
        "fallback": fallback_cfg,
    }
    data: dict[str, Any] = {
        "critical": edge.hard and not edge.degrades,
        "timeout": timeout_value,
        "deadline": deadline_value,
        **{key: value for key, value in sections.items() if value is not None},
    }
    plan = EdgePlan(
        edge,
        name,
        timeout_fig,
        deadline_fig,
        attempts,
        True,
        edge.degrades,
        edge.dep.fallback,
        limiter_cfg is not None,
        bulkhead_size,
        trip_fig,
    )
    return plan, data, rows


_TABLE: TypeAdapter[dict[str, PolicyConfig]] = TypeAdapter(dict[str, PolicyConfig])


def _validate(table: dict[str, Any]) -> None:
    """Validate the whole table against the runtime's models in one pass.

    The table is built as plain data (constructing ~7 models per edge dominated planning time at
    10,000 components); validating it here keeps it, by construction, what load_plan loads.
    """
    try:
        _TABLE.validate_python(table)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PlannerError(
            f"derived mechanism table: mechanisms.{where}: {first['msg']} (extreme spec values?)"
        ) from None


def bulkhead_capacity(in_flight: float) -> int:
    """Slots for `in_flight` mean concurrent calls: max(L × 1.5, L + 3√L), at least 1."""
    return max(
        1, math.ceil(max(in_flight * BULKHEAD_HEADROOM, in_flight + 3 * math.sqrt(in_flight)))
    )


def _worst_backoff(attempts: int, initial: float, cap: float) -> float:
    """Longest total wait before `attempts` attempts: Σ min(cap, initial × 2^(n−1))."""
    return math.fsum(min(cap, initial * 2 ** (n - 1)) for n in range(1, attempts))
