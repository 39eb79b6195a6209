"""The rules that turn one dependency edge into its mechanisms (see planner.analysis.mechanisms).

One `_EdgeRules` per edge walks the rules in order — timing (deadline, attempt timeout), retry,
circuit breaker, bulkhead, rate limiter, fallback — collecting the table entry, the report rows
with their reasons and the `EdgePlan` the other analyses read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.analysis.catalog import CATALOG, KIND_DEFAULTS
from planner.analysis.graph import Edge, Graph
from planner.model import Figure, MechanismRow
from planner.units import format_spec_duration as fmt

TIMEOUT_HEADROOM = 1.5
MAX_ATTEMPTS = 3
FAILURE_RATE = 0.5
TRIP_WITHIN = 10.0
MIN_CALLS_FLOOR, MIN_CALLS_CEIL = 5, 100
BUDGET_RATIO, BUDGET_MIN_PER_S = 0.2, 3.0
BULKHEAD_HEADROOM = 1.5

Budget = tuple[float, str]
"""A latency budget in seconds and where it comes from."""


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


def ceil_to(seconds: float, step: float = 0.01) -> float:
    """`seconds` rounded up to `step` (10 ms), without float artefacts."""
    return round(math.ceil(round(seconds / step, 6)) * step, 6)


def floor_to(seconds: float, step: float = 0.01) -> float:
    """`seconds` rounded down to `step`: a deadline rounded up would overspend its budget."""
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


def bulkhead_capacity(in_flight: float) -> int:
    """Slots for `in_flight` mean concurrent calls: max(L × 1.5, L + 3√L), at least 1."""
    return max(
        1, math.ceil(max(in_flight * BULKHEAD_HEADROOM, in_flight + 3 * math.sqrt(in_flight)))
    )


def format_count(value: float) -> str:
    """A mean number of calls in flight, readable at any size (1,200, 18, 4.8 — not 1.2e+03)."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def worst_backoff(attempts: int, initial: float, cap: float) -> float:
    """Longest total wait before `attempts` attempts: Σ min(cap, initial × 2^(n−1))."""
    return math.fsum(min(cap, initial * 2 ** (n - 1)) for n in range(1, attempts))


def derive_edge(
    graph: Graph, edge: Edge, caller_budget: Budget | None
) -> tuple[EdgePlan, dict[str, Any], list[MechanismRow]]:
    """(the edge's plan, its mechanism-table entry, its report rows)."""
    return _EdgeRules(graph, edge, caller_budget).run()


class _EdgeRules:
    def __init__(self, graph: Graph, edge: Edge, caller_budget: Budget | None) -> None:
        self.graph = graph
        self.edge = edge
        self.budget = caller_budget
        self.name = policy_name(graph, edge)
        self.caller, self.target = edge.caller, edge.target
        self.p50, self.p99, self.latency_source = latency(graph, edge.target)
        self.rps = graph.edge_rps(edge)
        self.fallback = graph.fallback_of(edge)
        self.rows: list[MechanismRow] = []
        self.sections: dict[str, dict[str, Any]] = {}

    def add(
        self, mech: str, kind: str, config: str, trigger: str, reason: str, **figs: Figure
    ) -> None:
        self.rows.append(
            MechanismRow(
                self.name, self.caller, self.target, mech, kind, config, trigger, reason, figs
            )
        )

    def run(self) -> tuple[EdgePlan, dict[str, Any], list[MechanismRow]]:
        deadline, deadline_fig = self.deadline_from_budget()
        timeout_fig, deadline, deadline_fig = self.timeout(deadline, deadline_fig)
        attempts, deadline, deadline_fig = self.retry(timeout_fig.value, deadline, deadline_fig)
        trip = self.circuit_breaker()
        bulkhead = self.bulkhead()
        limited = self.rate_limiter()
        self.fallback_section()
        data: dict[str, Any] = {
            "critical": self.edge.hard and not self.edge.degrades,
            "timeout": timeout_fig.value,
            "deadline": deadline,
            **{key: self.sections[key] for key in _SECTIONS if key in self.sections},
        }
        plan = EdgePlan(
            self.edge,
            self.name,
            timeout_fig,
            deadline_fig,
            attempts,
            True,
            self.edge.degrades,
            self.edge.dep.fallback,
            limited,
            bulkhead,
            trip,
        )
        return plan, data, self.rows

    # -- timing ---------------------------------------------------------------------------------

    def deadline_from_budget(self) -> tuple[float | None, Figure | None]:
        """Budget − caller p50 − other calls' p99 − the fallback's timeout (None: no budget)."""
        if self.budget is None:
            return None, None
        graph, caller = self.graph, self.caller
        caller_latency = graph.components[caller].latency
        own = (caller_latency.p50 if caller_latency is not None else None) or 0.0
        siblings = math.fsum(
            latency(graph, e.target)[1] * e.dep.calls_per_request
            for e in graph.edges[caller]
            if e is not self.edge and e.target != self.fallback
        )
        reserve = (
            ceil_to(latency(graph, self.fallback)[1] * TIMEOUT_HEADROOM) if self.fallback else 0.0
        )
        available = self.budget[0] - own - siblings - reserve
        value = floor_to(available) if available > 0 else 0.0
        return value, Figure(
            value,
            "s",
            "budget - caller p50 - Σ other calls' p99 × calls - fallback timeout",
            {
                "budget": self.budget[0],
                "budget_from": self.budget[1],
                "caller_p50": own,
                "other_calls_p99": round(siblings, 6),
                "fallback_timeout": reserve,
            },
        )

    def timeout(
        self, deadline: float | None, deadline_fig: Figure | None
    ) -> tuple[Figure, float | None, Figure | None]:
        """p99 × headroom, clipped to the deadline (or the deadline raised when none is left)."""
        raw = max(0.001, ceil_to(self.p99 * TIMEOUT_HEADROOM))
        value = raw
        reason = (
            f"{self.target} p99 {fmt(self.p99)} ({self.latency_source})"
            f" × {TIMEOUT_HEADROOM} headroom"
        )
        if deadline is not None and deadline < raw:
            assert deadline_fig is not None
            if deadline <= 0:
                # the caller's other calls already spend the budget: one attempt at p99 × 1.5,
                # and the reason says the budget cannot hold it
                deadline = raw
                deadline_fig = Figure(
                    raw, "s", "attempt timeout (budget exhausted)", dict(deadline_fig.inputs)
                )
                reason += (
                    f"; {self.caller}'s latency budget is used up by its other calls, so this"
                    " call alone overruns it: raise latency_budget or cut the other calls"
                )
            else:
                value = deadline
                reason += (
                    f" = {fmt(raw)} exceeds the {fmt(deadline)} deadline, clipped to it: calls"
                    f" slower than that fail (raise {self.caller}.latency_budget to avoid it)"
                )
        figure = Figure(
            value,
            "s",
            "min(ceil_10ms(p99 × headroom), deadline)",
            {"p99": self.p99, "headroom": TIMEOUT_HEADROOM, "p99_source": self.latency_source},
        )
        self.add(
            "timeout",
            "Containment",
            f"{fmt(value)} per attempt",
            f"Attempt latency >{fmt(value)}",
            reason,
            timeout=figure,
        )
        return figure, deadline, deadline_fig

    # -- retry ----------------------------------------------------------------------------------

    def retry(
        self, timeout: float, deadline: float | None, deadline_fig: Figure | None
    ) -> tuple[int, float, Figure]:
        """Attempts that fit the deadline; without a budget the deadline bounds the retries."""
        transient = transient_modes(self.graph, self.target)
        initial = ceil_to(min(max(self.p50, 0.05), 1.0))
        cap = initial * 8
        attempts = 1
        if not self.edge.dep.idempotent:
            reason = "not idempotent (idempotent: false): a retry could repeat a side effect"
        elif not transient:
            reason = f"{self.target} has no transient failure mode: a retry would fail the same way"
        else:
            for n in range(MAX_ATTEMPTS, 0, -1):
                if (
                    deadline is None
                    or n * timeout + worst_backoff(n, initial, cap) <= deadline + 1e-9
                ):
                    attempts = n
                    break
            if attempts > 1:
                fit = (
                    f" fit the {fmt(deadline)} deadline"
                    if deadline is not None
                    else " (no latency budget)"
                )
                reason = (
                    f"transient modes ({', '.join(transient)}); {attempts} attempts"
                    f" × {fmt(timeout)} + worst-case backoff"
                    f" {fmt(worst_backoff(attempts, initial, cap))}{fit}; full-jitter"
                    f" exponential backoff from {fmt(initial)} ({self.target} p50 within"
                    f" 50ms–1s), capped at 8× = {fmt(cap)}"
                )
            else:
                reason = (
                    f"a second attempt (2 × {fmt(timeout)} + backoff) does not fit the"
                    f" {fmt(deadline or 0)} deadline"
                )
        if deadline is None or deadline_fig is None:
            deadline = ceil_to(attempts * timeout + worst_backoff(attempts, initial, cap))
            deadline_fig = Figure(
                deadline,
                "s",
                "attempts × timeout + worst-case backoff (no latency budget)",
                {"attempts": attempts, "timeout": timeout, "initial": initial, "max": cap},
            )
        self.add(
            "deadline",
            "Containment",
            f"{fmt(deadline)} total",
            f"Total latency >{fmt(deadline)}",
            self._deadline_reason(deadline, deadline_fig),
            deadline=deadline_fig,
        )
        if attempts == 1:
            self.add("retry", "Recovery", "none", "—", reason)
            return attempts, deadline, deadline_fig
        section: dict[str, Any] = {
            "max_attempts": attempts,
            "wait": {"kind": "random_exponential", "multiplier": initial, "max": cap},
            "budget": {"ratio": BUDGET_RATIO, "min_per_second": BUDGET_MIN_PER_S},
        }
        if self._rate_limited_kind():
            section["max_retry_after"] = max(0.0, ceil_to(deadline - timeout))
        self.sections["retry"] = section
        self.add(
            "retry",
            "Recovery",
            f"{attempts} attempts, backoff {fmt(initial)}–{fmt(cap)}",
            "Transient error",
            reason,
            max_attempts=Figure(
                attempts,
                "count",
                "max n ≤ 3: n × timeout + backoff ≤ deadline",
                {"timeout": timeout, "deadline": deadline, "initial": initial, "max": cap},
            ),
        )
        self.add(
            "retry_budget",
            "Recovery",
            f"{BUDGET_RATIO:.0%} of calls + {BUDGET_MIN_PER_S:g}/s",
            "Retry storm",
            "retries may add at most 20% load (+3/s floor for low traffic), Envoy/Finagle defaults,"
            " so an outage is not multiplied by the attempts",
        )
        return attempts, deadline, deadline_fig

    def _deadline_reason(self, deadline: float, fig: Figure) -> str:
        """The deadline's arithmetic, term by term, as its figure derived it."""
        inputs = fig.inputs
        if fig.formula.startswith("attempts"):
            attempts = int(inputs["attempts"])
            backoff = worst_backoff(attempts, float(inputs["initial"]), float(inputs["max"]))
            spend = (
                f"{attempts} attempt{'s' if attempts > 1 else ''} × {fmt(float(inputs['timeout']))}"
            )
            if backoff:
                spend += f" + worst-case backoff {fmt(backoff)}"
            return (
                f"{self.caller} has no latency budget (declare latency_budget): the deadline"
                f" bounds {spend}"
            )
        if fig.formula.startswith("attempt timeout"):
            return (
                f"{inputs['budget_from']} {fmt(float(inputs['budget']))} is spent by"
                f" {self.caller}'s other calls: one attempt timeout"
            )
        terms = [f"{inputs['budget_from']} {fmt(float(inputs['budget']))}"]
        for key, label in (
            ("caller_p50", f"{self.caller} p50"),
            ("other_calls_p99", "its other calls' p99"),
            ("fallback_timeout", "the fallback's timeout"),
        ):
            value = float(inputs[key])
            if value > 0:
                terms.append(f"{label} {fmt(value)}")
        available = float(inputs["budget"]) - math.fsum(
            float(inputs[k]) for k in ("caller_p50", "other_calls_p99", "fallback_timeout")
        )
        rounded = " (rounded down to 10ms)" if abs(available - deadline) > 1e-6 else ""
        return " − ".join(terms) + f" = {fmt(deadline)}{rounded}"

    def _rate_limited_kind(self) -> bool:
        comp = self.graph.components[self.target]
        return comp.quota is not None or any(m.category == "rate_limit" for m in CATALOG[comp.kind])

    # -- containment ----------------------------------------------------------------------------

    def circuit_breaker(self) -> Figure:
        """Window and minimum calls from rps; open duration from the target's MTTR."""
        comp = self.graph.components[self.target]
        mttr = comp.mttr if comp.mttr is not None else KIND_DEFAULTS[comp.kind].mttr
        mttr_source = "declared" if comp.mttr is not None else "catalog default"
        open_initial = min(max(mttr / 10, 5.0), 60.0)
        open_max = max(open_initial, min(mttr / 2, 300.0))
        opens = {"initial": open_initial, "multiplier": 2.0, "max": open_max}
        rps = self.rps
        if rps is not None:
            min_calls = min(MIN_CALLS_CEIL, max(MIN_CALLS_FLOOR, math.floor(rps * TRIP_WITHIN)))
            trip_s = min_calls / rps
            # a window must hold minimum_calls calls at normal traffic; capped at an hour
            window = min(3600, max(int(TRIP_WITHIN), math.ceil(trip_s)))
            section: dict[str, Any] = {
                "failure_rate_threshold": FAILURE_RATE,
                "minimum_calls": min_calls,
                "window_type": "time",
                "window_size": window,
                "half_open_calls": min(10, max(1, round(rps))),
                "open_duration": opens,
            }
            text = f"{FAILURE_RATE:.0%} of ≥{min_calls} calls in {window}s"
            reason = (
                f"{rps:g} calls/s: a full outage reaches {min_calls} calls and trips it in"
                f" {fmt(trip_s)}; open {fmt(open_initial)} doubling to {fmt(open_max)}"
                f" from {self.target} MTTR {fmt(mttr)} ({mttr_source})"
            )
            trip = Figure(
                trip_s, "s", "minimum_calls / rps", {"minimum_calls": min_calls, "rps": rps}
            )
        else:
            min_calls = 10
            section = {
                "failure_rate_threshold": FAILURE_RATE,
                "minimum_calls": min_calls,
                "window_type": "count",
                "window_size": 20,
                "open_duration": opens,
            }
            text = f"{FAILURE_RATE:.0%} of the last 20 calls (≥{min_calls})"
            reason = (
                f"no rps in the spec for {self.caller}: a count window of 20 calls; open"
                f" {fmt(open_initial)} doubling to {fmt(open_max)} from {self.target}"
                f" MTTR {fmt(mttr)}"
            )
            trip = Figure(
                min_calls, "calls", "minimum_calls (no rps)", {"minimum_calls": min_calls}
            )
        self.sections["circuit_breaker"] = section
        self.add(
            "circuit_breaker",
            "Containment",
            text,
            f"Error rate >{FAILURE_RATE:.0%}",
            reason,
            trip=trip,
            open_duration=Figure(open_initial, "s", "clamp(mttr / 10, 5s, 60s)", {"mttr": mttr}),
        )
        return trip

    def bulkhead(self) -> int | None:
        """Little's law with headroom and a burst floor; none without rps."""
        if self.rps is None:
            return None
        in_flight = self.rps * self.p99
        size = bulkhead_capacity(in_flight)
        self.sections["bulkhead"] = {"max_concurrent": size}
        self.add(
            "bulkhead",
            "Isolation",
            f"{size:,} concurrent",
            f"Load >{size:,} in flight",
            f"Little's law: {self.rps:g} calls/s × p99 {fmt(self.p99)} = {format_count(in_flight)}"
            f" in flight; × {BULKHEAD_HEADROOM} headroom, at least + 3√ of it for bursts",
            max_concurrent=Figure(
                size,
                "count",
                "ceil(max(L × headroom, L + 3√L)), L = rps × p99",
                {"rps": self.rps, "p99": self.p99, "headroom": BULKHEAD_HEADROOM},
            ),
        )
        return size

    def rate_limiter(self) -> bool:
        """This caller's share of the target's declared quota, by traffic."""
        quota = self.graph.components[self.target].quota
        if quota is None:
            return False
        callers = self.graph.callers[self.target]
        known = [self.graph.edge_rps(e) for e in callers]
        if self.rps is not None and all(k is not None for k in known):
            share = self.rps / math.fsum(k for k in known if k is not None)
        else:
            share = 1.0 / len(callers)
        rate = quota.rps * share
        burst = max(1, math.floor((quota.burst if quota.burst else quota.rps) * share))
        self.sections["rate_limiter"] = {"rate_per_second": float(f"{rate:.6g}"), "burst": burst}
        over = (
            f"; normal traffic {self.rps:g}/s exceeds it: expect rejections"
            if self.rps and self.rps > rate
            else ""
        )
        self.add(
            "rate_limiter",
            "Prevention",
            f"{rate:g}/s, burst {burst}",
            f">{rate:g} calls/s",
            (
                f"{self.target} quota {quota.rps:g}/s × {self.caller}'s traffic share {share:.2f}"
                if len(callers) > 1
                else f"{self.target} quota {quota.rps:g}/s, all of it ({self.caller} is the only"
                " caller)"
            )
            + over,
            rate_per_second=Figure(
                rate, "1/s", "quota × caller share", {"quota": quota.rps, "share": share}
            ),
        )
        return True

    def fallback_section(self) -> None:
        """A fallback wherever the edge is soft or declares one; the handler comes from code."""
        if not self.edge.degrades:
            return
        self.sections["fallback"] = {}
        what = self.edge.dep.fallback or "a degraded answer without it (soft dependency)"
        self.add(
            "fallback",
            "Recovery",
            f"→ {what}",
            "Retries spent or breaker open",
            f"{self.edge.dep.type} dependency with fallback {what!r}:"
            " the handler is supplied in code",
        )


_SECTIONS = ("retry", "circuit_breaker", "bulkhead", "rate_limiter", "fallback")
