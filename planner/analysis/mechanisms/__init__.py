"""Mechanisms per dependency, derived from the spec, each with its reason.

For every edge caller → target (policy named after the target, or `caller.target` when the target
has several callers):

- attempt timeout = target p99 × 1.5 (headroom), rounded up to 10 ms, clipped to the deadline;
- deadline = (the caller's latency budget − its own p50 − the p99 of each other call × ⌈calls per
  request⌉ − the time its fallback component needs) / ⌈this call's calls per request⌉: a call
  made twice spends its deadline twice, and a rare call still costs its whole p99 on the
  requests that make it; a caller without a declared budget gets the attempt timeout its own
  callers give it;
- retries only when the call is idempotent (declared, or by the target's kind: database and
  queue calls are writes, other kinds reads), the target has transient failure modes and no
  fallback answers sooner (a cache or a soft dependency with a fallback is not retried), and only
  as many attempts (≤ 3) as fit: attempts × timeout + worst-case backoff ≤ deadline; a retry
  budget (20 % of calls + 3/s, Envoy/Finagle style) so retries never multiply an outage;
- circuit breaker: 50 % failure rate; minimum calls = what half of the edge's rps brings in 10 s
  (5…100), so a dip in traffic still trips it, in a time window that holds that many calls at
  half traffic (10 s … 1 h); open duration grows from MTTR/10 to MTTR/2 (5 s…5 min) so probes
  catch a recovery without hammering a long outage;
- bulkhead for a slowdown: each call holds its slot up to the attempt timeout, so
  L = rps × attempt timeout; max concurrent = L × 1.5, at least L + 3√L (Poisson bursts) and at
  least 10;
- rate limiter from a declared quota, split between callers by their traffic;
- fallback wherever the edge is soft or declares a fallback; a fallback component's call is
  named with its policy and checked against its quota or capacity for the load moved onto it
  (planner.analysis.mechanisms.fallback); a fallback component the caller does not declare as a
  dependency gets a policy of its own, `caller.fallback`, sized for the load it takes during the
  primary's outage (planner.analysis.mechanisms.fallback_call).

- outlier detection (per-host ejection, one breaker per host) where the target is a service,
  search or vector database called per replica over HTTP and runs 3 or more replicas with at
  least one to spare over its min_healthy (planner.analysis.mechanisms.limits).

Each entry point also gets an inbound policy (bulkhead, adaptive limit bounded by it, shedding
by request criticality where declared, deadline, load shedding at a declared capacity): see
planner.analysis.mechanisms.inbound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from pydantic import TypeAdapter, ValidationError

from planner.analysis.graph import Edge, Graph
from planner.analysis.mechanisms.common import (
    BULKHEAD_HEADROOM,
    MAX_ATTEMPTS,
    TIMEOUT_HEADROOM,
    Budget,
    EdgePlan,
    bulkhead_capacity,
    latency,
    policy_name,
    transient_modes,
    worst_backoff,
)
from planner.analysis.mechanisms.edge_rules import derive_edge
from planner.analysis.mechanisms.fallback_call import (
    FallbackCall,
    derive_fallback_call,
    fallback_calls,
)
from planner.analysis.mechanisms.inbound import InboundPlan, derive_inbound, inbound_policy_name
from planner.analysis.mechanisms.limits import outlier_detection
from planner.analysis.mechanisms.targets import target_rules
from planner.errors import PlannerError
from planner.model import MechanismRow
from planner.pipeline import MECHANISM_ORDER, pipeline_rank
from resilience.config import PolicyConfig

__all__ = [
    "BULKHEAD_HEADROOM",
    "MAX_ATTEMPTS",
    "TIMEOUT_HEADROOM",
    "EdgePlan",
    "InboundPlan",
    "Mechanisms",
    "PolicyNames",
    "bulkhead_capacity",
    "check",
    "check_tables",
    "derive",
    "latency",
    "policy_name",
    "policy_names",
    "transient_modes",
    "worst_backoff",
]


@dataclass(frozen=True)
class Mechanisms:
    """Rows for the report, the loadable table, per-edge plans and the entry points' plans.

    What the plan does on each edge — whether it degrades instead of failing, which component
    its fallback calls — is read from here by every analysis (availability, blast radius,
    failures, recovery, redundancy, runbooks), never again from the spec's edges.
    """

    graph: Graph
    rows: tuple[MechanismRow, ...]
    table: Mapping[str, Any]
    edges: tuple[EdgePlan, ...]
    by_target: Mapping[str, tuple[EdgePlan, ...]]
    inbound: Mapping[str, InboundPlan]  # entry point → its inbound policy
    # calls only a fallback makes, to a component its caller does not declare (caller.fallback);
    # their edges are not the graph's, so they are kept apart from `edges` and `by_target`
    fallback_calls: tuple[EdgePlan, ...] = ()
    # the graph's own Edge objects (kept alive by their plans) → their plan
    _by_edge: dict[int, EdgePlan] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # the edges that degrade (ids), for the blast radius' and closures' hot loops
    _degrading: set[int] = field(default_factory=set, init=False, repr=False, compare=False)
    _mandatory: dict[str, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_edge.update({id(plan.edge): plan for plan in self.edges})
        self._degrading.update(id(plan.edge) for plan in self.edges if plan.has_fallback)

    def plan_of(self, edge: Edge) -> EdgePlan:
        """The plan of one of the graph's edges."""
        return self._by_edge[id(edge)]

    def degrades(self, edge: Edge) -> bool:
        """True when the plan turns a failure of the edge's target into degradation."""
        return id(edge) in self._degrading

    def fallback_component(self, edge: Edge) -> str | None:
        """The component the edge's fallback calls (None: none, or a free-text answer)."""
        return self._by_edge[id(edge)].fallback_component

    def mandatory_closure(self, name: str) -> frozenset[str]:
        """Like `Graph.hard_closure`, but edges the plan gives a fallback are not followed."""
        found = self._mandatory.get(name)
        if found is None:
            found = self._mandatory[name] = self.graph.closure(
                name, lambda e: e.hard and not self.degrades(e)
            )
        return found


@dataclass(frozen=True)
class PolicyNames:
    """The name of every policy `derive` makes, given before any is derived."""

    edges: dict[int, str]  # id(edge) of the graph's edges → its policy (`policy_name`)
    fallback_calls: list[FallbackCall]  # each named `caller.fallback` (`FallbackCall.policy`)
    inbound: dict[str, str]  # entry point → its inbound policy (`inbound_policy_name`)


def policy_names(graph: Graph) -> PolicyNames:
    """Every policy's name; PlannerError when a fallback call's or an entry point's would be
    another policy's.

    With `derive`'s table check off (`check_tables`), this is all of `derive` that can refuse a
    valid spec: `reliability validate` runs it alone (`check`), so a new refusal belongs here.
    """
    edges = _edge_policies(graph)
    taken = set(edges.values())
    calls = fallback_calls(graph, edges)
    for call in calls:
        if call.policy in taken:
            raise PlannerError(
                f"policy {call.policy!r} of {call.edge.caller}'s fallback call to"
                f" {call.edge.target} is already the policy of another edge (rename a component)"
            )
        taken.add(call.policy)
    inbound = {entry: inbound_policy_name(entry, taken) for entry in sorted(graph.entry_shares)}
    return PolicyNames(edges, calls, inbound)


def _edge_policies(graph: Graph) -> dict[int, str]:
    """`policy_name` of every edge (by id), target by target: one look-up of each target's
    callers rather than one per edge."""
    edges: dict[int, str] = {}
    for target, callers in graph.callers.items():
        if len(callers) == 1:
            edges[id(callers[0])] = target
        else:
            for e in callers:
                edges[id(e)] = f"{e.caller}.{target}"
    return edges


def check(graph: Graph) -> None:
    """Raise the PlannerError `derive(graph)` would, deriving no more than that takes: the
    policy names, or everything when tables are checked (a table is checked once built)."""
    if _CHECK["tables"]:
        derive(graph)
    else:
        policy_names(graph)


def derive(graph: Graph) -> Mechanisms:
    """Derive every edge's mechanisms, callers before their targets (budgets flow downwards).

    Refuses a spec only through `policy_names` and, when tables are checked, `validate_table`.
    """
    names = policy_names(graph)
    budget: dict[str, Budget | None] = {}
    # the tightest attempt timeout offered to each component so far, with the offering policy:
    # its budget's text is written once the component is a caller, not at every better offer
    offers: dict[str, tuple[float, str]] = {}
    groups: dict[str, list[MechanismRow]] = {}  # policy → its rows
    table: dict[str, Any] = {}
    plans: list[EdgePlan] = []
    for caller in reversed(graph.order):
        comp = graph.components[caller]
        if comp.latency_budget is not None:
            budget[caller] = (comp.latency_budget, f"{caller}.latency_budget")
        else:
            offer = offers.get(caller)
            budget[caller] = None if offer is None else (offer[0], f"{offer[1]} attempt timeout")
        for edge in graph.edges[caller]:
            rules = target_rules(graph, edge.target)
            plan, policy, edge_rows = derive_edge(
                graph, edge, budget[caller], names.edges[id(edge)], rules
            )
            plans.append(plan)
            if rules.ejectable:
                detection, detection_rows = outlier_detection(graph, plan)
                if detection is not None:
                    policy["outlier_detection"] = detection
                    edge_rows += detection_rows
            _group(groups, plan.policy, edge_rows)  # every row of an edge has its policy
            table[plan.policy] = policy
            # the target may spend at most one attempt timeout of its tightest caller
            previous = offers.get(edge.target)
            timeout = plan.timeout.value
            if previous is None or timeout < previous[0]:
                offers[edge.target] = (timeout, plan.policy)
    rows: list[MechanismRow] = []
    calls = _fallback_calls(graph, budget, names.fallback_calls, table, rows)
    inbound, inbound_table, inbound_rows = derive_inbound(graph, names.inbound)
    table.update(inbound_table)
    for row in (*rows, *inbound_rows):
        _group(groups, row.policy, [row])
    plans.sort(key=attrgetter("policy"))
    by_target: dict[str, list[EdgePlan]] = {}
    for plan in plans:
        by_target.setdefault(plan.edge.target, []).append(plan)
    policies = sorted(table)
    ordered = {name: table[name] for name in policies}
    if _CHECK["tables"]:
        validate_table(ordered)
    if groups.keys() != table.keys():  # not so far: every policy has rows (a timeout at least)
        policies = sorted(groups)
    return Mechanisms(
        graph,
        _outside_in(groups, policies),
        ordered,
        tuple(plans),
        {k: tuple(v) for k, v in by_target.items()},
        {plan.entry: plan for plan in inbound},
        calls,
    )


def _group(groups: dict[str, list[MechanismRow]], policy: str, rows: list[MechanismRow]) -> None:
    """Add `rows`, all of `policy`, after the rows `groups` already has of it."""
    group = groups.get(policy)
    if group is None:
        groups[policy] = rows
    else:
        group += rows


def _outside_in(
    groups: dict[str, list[MechanismRow]], policies: list[str]
) -> tuple[MechanismRow, ...]:
    """The rows by policy (`policies`: the groups' keys, sorted), each policy's in pipeline
    order (outside-in).

    The order of a stable sort of all rows, in the order they were derived, by (policy, pipeline
    rank), from sorting the policies and then each policy's few rows: comparing a tuple per row
    was most of the sort's time. The edges' rows come in a handful of sequences of mechanisms
    (timeout, deadline, retry, …), so each sequence's order is sorted out once (`_stable_order`)
    and then only applied, without a rank look-up per row.
    """
    out: list[MechanismRow] = []
    orders: dict[tuple[str, ...], tuple[int, ...] | None] = {}
    for policy in policies:
        group = groups[policy]
        mechanisms = tuple(map(_MECHANISM, group))
        if mechanisms in orders:
            order = orders[mechanisms]
        else:
            order = orders[mechanisms] = _stable_order(mechanisms)
        if order is None:
            out += group
        else:
            out += [group[i] for i in order]
    return tuple(out)


_MECHANISM = attrgetter("mechanism")
_RANKS = {mechanism: pipeline_rank(mechanism) for mechanism in MECHANISM_ORDER}
_UNKNOWN = len(MECHANISM_ORDER)  # pipeline_rank of a name it does not know: last


def _stable_order(mechanisms: tuple[str, ...]) -> tuple[int, ...] | None:
    """The positions of `mechanisms` in pipeline order (a stable sort by `pipeline_rank`);
    None when they already are."""
    order = tuple(sorted(range(len(mechanisms)), key=lambda i: _RANKS.get(mechanisms[i], _UNKNOWN)))
    return None if order == tuple(range(len(mechanisms))) else order


def _fallback_calls(
    graph: Graph,
    budget: Mapping[str, Budget | None],
    calls: list[FallbackCall],
    table: dict[str, Any],
    rows: list[MechanismRow],
) -> tuple[EdgePlan, ...]:
    """Policies for the calls fallbacks make to components their callers do not declare."""
    out: list[EdgePlan] = []
    for call in calls:
        plan, policy, call_rows = derive_fallback_call(graph, call, budget[call.edge.caller])
        out.append(plan)
        table[plan.policy] = policy
        rows.extend(call_rows)
    return tuple(out)


_TABLE: TypeAdapter[dict[str, PolicyConfig]] = TypeAdapter(dict[str, PolicyConfig])

#: Whether `derive` validates each table it builds (`check_tables`); off outside the tests.
_CHECK = {"tables": False}


def check_tables(enabled: bool) -> None:
    """Validate every derived mechanism table against the runtime's models (`validate_table`).

    The test suite turns this on (tests/planner/conftest.py), so every plan a test builds — the
    examples, the golden files, the generated systems of the property tests — is checked to be
    what `resilience.load_plan` accepts. Planning leaves it off: the rules build the table from
    the validated spec, a second validation of every policy was a large part of the mechanisms'
    time on a large system, and `load_plan` validates the table whenever a plan is loaded.
    """
    _CHECK["tables"] = enabled


def validate_table(table: Mapping[str, Any]) -> None:
    """Validate a mechanism table against the runtime's models in one pass; PlannerError names
    the first field that fails.

    The table is built as plain data (constructing ~7 models per edge dominated planning time at
    10,000 components); validating it whole keeps one pass over it.
    """
    try:
        _TABLE.validate_python(table)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PlannerError(
            f"derived mechanism table: mechanisms.{where}: {first['msg']} (extreme spec values?)"
        ) from None
