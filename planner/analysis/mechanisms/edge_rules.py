"""The rules that turn one dependency edge into its mechanisms (see planner.analysis.mechanisms).

One `_EdgeRules` per edge walks the rules in order — timing (deadline, attempt timeout), retry,
circuit breaker, bulkhead, rate limiter, fallback — collecting the table entry, the report rows
with their reasons and the `EdgePlan` the other analyses read.
"""

from __future__ import annotations

import math
from typing import Any

from planner.analysis.graph import Edge, Graph
from planner.analysis.mechanisms.by_value import (
    FAILURE_TEXT,
    breaker_shape,
    bulkhead_shape,
    deadline_texts,
    fitted_attempts,
    retry_shape,
    timeout_texts,
)
from planner.analysis.mechanisms.common import (
    BUDGET_MIN_PER_S,
    BUDGET_RATIO,
    FAILURE_RATE,
    TIMEOUT_HEADROOM,
    Budget,
    EdgePlan,
    calls_on_path,
    ceil_to,
    floor_to,
    other_calls_p99,
)
from planner.analysis.mechanisms.construct import new_figure, slot_constructor
from planner.analysis.mechanisms.fallback import fallback_reason
from planner.analysis.mechanisms.targets import TargetRules, target_rules, timeout_figure
from planner.model import Figure, MechanismRow
from planner.units import format_spec_duration as fmt


def derive_edge(
    graph: Graph,
    edge: Edge,
    caller_budget: Budget | None,
    policy: str,
    rules: TargetRules | None = None,
) -> tuple[EdgePlan, dict[str, Any], list[MechanismRow]]:
    """(the edge's plan, its mechanism-table entry, its report rows); `policy` is its name
    (`policy_name`, given by `policy_names`), `rules` its target's (`target_rules`) when the
    caller has them at hand."""
    t = rules if rules is not None else target_rules(graph, edge.target)
    if t.declared_rps is None:
        # `Graph.edge_rps` of a target without an rps of its own: the caller's × calls per
        # request, without reading the target's component again
        caller = graph.rps[edge.caller]
        rps = None if caller is None else caller * edge.dep.calls_per_request
    else:
        rps = graph.edge_rps(edge)
    return EdgeRules(graph, edge, caller_budget, policy, rps, t).run()


class EdgeRules:
    """The rules of one edge; `fallback_call` reuses them for a call only a fallback makes."""

    # slots: one instance per edge, whose attributes the rules read many times each
    __slots__ = (
        "budget",
        "caller",
        "edge",
        "fallback",
        "graph",
        "latency_source",
        "load_label",
        "name",
        "p50",
        "p99",
        "rows",
        "rps",
        "sections",
        "sections_timeout",
        "t",
        "target",
    )

    def __init__(
        self,
        graph: Graph,
        edge: Edge,
        budget: Budget | None,
        name: str,
        rps: float | None,
        rules: TargetRules | None = None,
    ) -> None:
        self.graph = graph
        self.edge = edge
        self.budget = budget
        self.name = name
        self.caller, self.target = edge.caller, edge.target
        # what depends on the target alone (a WeakKeyDictionary look-up: passed when at hand)
        self.t = t = rules if rules is not None else target_rules(graph, edge.target)
        self.p50, self.p99, self.latency_source = t.p50, t.p99, t.latency_source
        self.rps = rps
        self.load_label = "normal traffic"  # what `rps` is, as the rate limiter's reason says
        self.fallback = graph.fallback_of(edge)
        self.rows: list[MechanismRow] = []
        self.sections_timeout = 0.0  # the attempt timeout, once timing has derived it
        self.sections: dict[str, dict[str, Any]] = {}

    def add(
        self, mech: str, kind: str, config: str, trigger: str, reason: str, **figs: Figure
    ) -> None:
        row = _ROW(  # new_row(...), without its call
            self.name, self.caller, self.target, mech, kind, config, trigger, reason, figs, False
        )
        self.rows.append(row)

    def run(self) -> tuple[EdgePlan, dict[str, Any], list[MechanismRow]]:
        deadline, deadline_fig = self.deadline_from_budget()
        timeout_fig, deadline, deadline_fig = self.timeout(deadline, deadline_fig)
        self.sections_timeout = timeout_fig.value
        attempts, deadline, deadline_fig = self.retry(timeout_fig.value, deadline, deadline_fig)
        trip = self.circuit_breaker()
        bulkhead = self.bulkhead()
        limited = self.rate_limiter()
        self.fallback_section()
        data: dict[str, Any] = {
            "critical": self.edge.hard and not self.edge.degrades,
            "timeout": timeout_fig.value,
            "deadline": deadline,
            # retry, circuit_breaker, bulkhead, rate_limiter, fallback: the rules above run, and
            # add their sections, in the table's order
            **self.sections,
        }
        plan = _PLAN(  # EdgePlan(...), every field
            self.edge,
            self.name,
            timeout_fig,
            deadline_fig,
            attempts,
            True,
            self.edge.degrades,
            self.edge.dep.fallback,
            self.fallback,
            limited,
            bulkhead,
            trip,
        )
        return plan, data, self.rows

    # -- timing ---------------------------------------------------------------------------------

    def deadline_from_budget(self) -> tuple[float | None, Figure | None]:
        """(Budget − caller p50 − other calls' p99 × ⌈calls⌉ − the fallback's timeout) / ⌈calls⌉.

        A call made n times per request spends its deadline n times, and a rare call still costs
        its whole p99 on the requests that make it. None: no budget.
        """
        if self.budget is None:
            return None, None
        graph, caller = self.graph, self.caller
        caller_latency = graph.components[caller].latency
        own = (caller_latency.p50 if caller_latency is not None else None) or 0.0
        siblings = other_calls_p99(graph, self.edge, self.fallback)
        reserve = (
            ceil_to(graph.facts[self.fallback].p99.value * TIMEOUT_HEADROOM)
            if self.fallback
            else 0.0
        )
        calls = calls_on_path(self.edge.dep.calls_per_request)
        available = (self.budget[0] - own - siblings - reserve) / calls
        value = floor_to(available) if available > 0 else 0.0
        return value, new_figure(
            value,
            "s",
            "(budget - caller p50 - Σ other calls' p99 × ⌈calls⌉ - fallback timeout) / ⌈calls⌉",
            {
                "budget": self.budget[0],
                "budget_from": self.budget[1],
                "caller_p50": own,
                "other_calls_p99": round(siblings, 6),
                "fallback_timeout": reserve,
                "calls": calls,
            },
        )

    def timeout(
        self, deadline: float | None, deadline_fig: Figure | None
    ) -> tuple[Figure, float | None, Figure | None]:
        """p99 × headroom, clipped to the deadline (or the deadline raised when none is left)."""
        raw = self.t.timeout  # max(0.001, ceil_10ms(p99 × headroom))
        value = raw
        reason = self.t.timeout_reason
        if deadline is not None and deadline < raw:
            assert deadline_fig is not None
            if deadline <= 0:
                # the caller's other calls already spend the budget: one attempt at p99 × 1.5,
                # and the reason says the budget cannot hold it
                deadline = raw
                deadline_fig = new_figure(
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
        figure = timeout_figure(self.t, value)
        config, trigger = timeout_texts(value)
        self.add("timeout", "Containment", config, trigger, reason, timeout=figure)
        return figure, deadline, deadline_fig

    # -- retry ----------------------------------------------------------------------------------

    def retry(
        self, timeout: float, deadline: float | None, deadline_fig: Figure | None
    ) -> tuple[int, float, Figure]:
        """Attempts that fit the deadline; without a budget the deadline bounds the retries."""
        initial, cap = self.t.initial, self.t.cap  # ceil_10ms(clamp(p50, 50ms, 1s)), × 8
        attempts, reason = self._attempts(timeout, deadline)
        if deadline is None or deadline_fig is None:
            deadline = ceil_to(attempts * timeout + self.t.worst[attempts])
            deadline_fig = new_figure(
                deadline,
                "s",
                "attempts × timeout + worst-case backoff (no latency budget)",
                {"attempts": attempts, "timeout": timeout, "initial": initial, "max": cap},
            )
        config, trigger = deadline_texts(deadline)
        reason_text = self._deadline_reason(deadline, deadline_fig)
        self.add("deadline", "Containment", config, trigger, reason_text, deadline=deadline_fig)
        if attempts == 1:
            self.add("retry", "Recovery", "none", "—", reason)
            return attempts, deadline, deadline_fig
        section: dict[str, Any] = {
            "max_attempts": attempts,
            "wait": {"kind": "random_exponential", "multiplier": initial, "max": cap},
            "budget": {"ratio": BUDGET_RATIO, "min_per_second": BUDGET_MIN_PER_S},
        }
        if self.t.rate_limited:
            section["max_retry_after"] = max(0.0, ceil_to(deadline - timeout))
        self.sections["retry"] = section
        config, figure = retry_shape(attempts, timeout, deadline, initial, cap)
        self.add("retry", "Recovery", config, "Transient error", reason, max_attempts=figure)
        self.add(
            "retry_budget",
            "Recovery",
            _BUDGET_CONFIG,
            "Retry storm",
            _BUDGET_REASON,
        )
        return attempts, deadline, deadline_fig

    def _attempts(self, timeout: float, deadline: float | None) -> tuple[int, str]:
        """The most attempts (≤ MAX_ATTEMPTS) whose timeouts and backoff fit the deadline; why."""
        t = self.t
        transient, worst = t.transient, t.worst
        attempts = 1
        declared = self.edge.dep.idempotent  # the spec says so, or the target's kind
        if declared is None:
            repeatable, why = t.by_kind
        else:
            repeatable, why = declared, f"idempotent: {str(declared).lower()}"
        kind = t.kind
        if not repeatable:
            reason = f"not idempotent ({why}): a retry could repeat a side effect"
        elif self.edge.degrades and (kind == "cache" or self.edge.dep.type == "soft"):
            what = "a cache" if kind == "cache" else "a soft dependency"
            reason = (
                f"{self.target} is {what} with a fallback: answering from the fallback at once"
                " is cheaper than waiting for retries and their backoff"
            )
        elif not transient:
            reason = f"{self.target} has no transient failure mode: a retry would fail the same way"
        else:
            attempts, reason = fitted_attempts(transient, worst, timeout, deadline)
            if attempts > 1:
                reason += t.backoff_reason
        return attempts, reason

    def _deadline_reason(self, deadline: float, fig: Figure) -> str:
        """The deadline's arithmetic, term by term, as its figure derived it."""
        inputs = fig.inputs
        if fig.formula.startswith("attempts"):
            attempts = int(inputs["attempts"])
            backoff = self.t.worst[attempts]  # inputs' initial and max are the target's
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
        calls = int(inputs.get("calls", 1))
        available = (
            float(inputs["budget"])
            - math.fsum(
                float(inputs[k]) for k in ("caller_p50", "other_calls_p99", "fallback_timeout")
            )
        ) / calls
        rounded = " (rounded down to 10ms)" if abs(available - deadline) > 1e-6 else ""
        spent = " − ".join(terms)
        if calls > 1:
            spent = f"({spent}) ÷ {calls} calls per request"
        return spent + f" = {fmt(deadline)}{rounded}"

    # -- containment ----------------------------------------------------------------------------

    def circuit_breaker(self) -> Figure:
        """Window and minimum calls from rps; open duration from the target's MTTR."""
        t = self.t
        mttr, open_initial, open_max = t.mttr, t.open_initial, t.open_max
        opens = {"initial": open_initial, "multiplier": 2.0, "max": open_max}
        rps = self.rps
        if rps is not None:
            shape = breaker_shape(rps)
            section: dict[str, Any] = {
                "failure_rate_threshold": FAILURE_RATE,
                "minimum_calls": shape.min_calls,
                "window_type": "time",
                "window_size": shape.window,
                "half_open_calls": shape.half_open_calls,
                "open_duration": opens,
            }
            text, reason, trip = shape.text, shape.reason_head + t.opens_reason, shape.trip
        else:
            min_calls = 10
            section = {
                "failure_rate_threshold": FAILURE_RATE,
                "minimum_calls": min_calls,
                "window_type": "count",
                "window_size": 20,
                "open_duration": opens,
            }
            text = f"{FAILURE_TEXT} of the last 20 calls (≥{min_calls})"
            reason = (
                f"no rps in the spec for {self.caller}: a count window of 20 calls; open"
                f" {fmt(open_initial)} doubling to {fmt(open_max)} from {self.target}"
                f" MTTR {fmt(mttr)}"
            )
            trip = new_figure(
                min_calls, "calls", "minimum_calls (no rps)", {"minimum_calls": min_calls}
            )
        self.sections["circuit_breaker"] = section
        self.add(
            "circuit_breaker",
            "Containment",
            text,
            _BREAKER_TRIGGER,
            reason,
            trip=trip,
            open_duration=t.open_figure,
        )
        return trip

    def bulkhead(self) -> int | None:
        """Sized for a slowdown: every call holds its slot up to the attempt timeout; a floor."""
        if self.rps is None:
            return None
        size, config, trigger, reason, figure = bulkhead_shape(self.rps, self.sections_timeout)
        self.sections["bulkhead"] = {"max_concurrent": size}
        self.add("bulkhead", "Isolation", config, trigger, reason, max_concurrent=figure)
        return size

    def quota_share(self) -> tuple[float, str]:
        """(this caller's share of the target's quota, by traffic; how the reason says it)."""
        callers = self.graph.callers[self.target]
        if len(callers) == 1:
            return 1.0, f", all of it ({self.caller} is the only caller)"
        total = self.t.callers_rps  # Σ the callers' rps, None when one is unknown
        if self.rps is not None and total is not None:
            share = self.rps / total
        else:
            share = 1.0 / len(callers)
        return share, f" × {self.caller}'s traffic share {share:.2f}"

    def rate_limiter(self) -> bool:
        """This caller's share of the target's declared quota, by traffic."""
        quota = self.t.quota
        if quota is None:
            return False
        share, split = self.quota_share()
        rate = quota.rps * share
        burst = max(1, math.floor((quota.burst if quota.burst else quota.rps) * share))
        self.sections["rate_limiter"] = {"rate_per_second": float(f"{rate:.6g}"), "burst": burst}
        over = (
            f"; {self.load_label} {self.rps:g}/s exceeds it: expect rejections"
            if self.rps and self.rps > rate
            else ""
        )
        self.add(
            "rate_limiter",
            "Prevention",
            f"{rate:g}/s, burst {burst}",
            f">{rate:g} calls/s",
            f"{self.target} quota {quota.rps:g}/s{split}" + over,
            rate_per_second=new_figure(
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
        reason, figs = fallback_reason(self.graph, self.edge, self.rps)
        self.add(
            "fallback", "Recovery", f"→ {what}", "Retries spent or breaker open", reason, **figs
        )


_PLAN = slot_constructor(EdgePlan)
_ROW = slot_constructor(MechanismRow)

# the rows' fixed texts, formatted once
_BREAKER_TRIGGER = f"Error rate >{FAILURE_TEXT}"
_BUDGET_CONFIG = f"{BUDGET_RATIO:.0%} of calls + {BUDGET_MIN_PER_S:g}/s"
_BUDGET_REASON = (
    "retries may add at most 20% load (+3/s floor for low traffic), Envoy/Finagle defaults,"
    " so an outage is not multiplied by the attempts"
)
