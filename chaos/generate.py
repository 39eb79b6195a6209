"""Experiments generated from a plan: one per P1/P2 failure mode, testing what the plan predicts.

For each P1/P2 failure mode whose component is a dependency with a policy in the plan's mechanism
table, the experiment:

1. switches on, through the service's chaos admin endpoint, the strategy of that mode's fault on
   every policy protecting the component: ``fault`` (an exception) for crashes, errors, overload;
   ``latency`` for slowness, twice the planned attempt timeout so that the timeout must fire;
   ``outcome`` (a wrong result: the service's fake 429 or bad answer) for rate limiting, degraded
   quality and bad data. The rate is 1.0 for a dependency that is down (a crash, or a mode that
   is not transient) and 0.5 for a partial failure;
2. drives load against the entry point, then checks what the plan predicts for this mode (its
   ``mechanisms`` list): for a full outage, the breaker opened within the planned trip time at the
   planned rate (``resilience_circuit_breaker_transitions_total{to_state="open"}`` increased; with
   a time window, injection waits one window length first so the steady-state probe's successes
   have left it); the fallback served (``resilience_calls_total{outcome="fallback"}`` increased);
3. rolls back (switches the strategy off), always.

Its steady-state hypothesis: the entry point's error ratio stays within the plan's figures — the
SLO's error budget (1 − SLO), or the users the plan says this failure still impacts with its
mechanisms, whichever is larger (a partial fault impacts at most as many as the full one).
Requests may take the entry's latency budget (from the plan's deadline derivation).

The plan's data comes in as plain values (`PlanFacts`) or as the planner's JSON document
(`facts_from_plan_dict`): chaos does not import the planner. Added in 0.1.0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chaos.experiment import (
    MAX_LATENCY,
    MAX_PAUSE,
    MAX_RATE,
    MAX_REQUESTS,
    MAX_TIMEOUT,
    Experiment,
    parse_experiment,
)
from resilience.durations import parse_duration

DEFAULT_CONFIGURATION: dict[str, str] = {
    "base_url": "http://127.0.0.1:8080/",
    "admin_url": "http://127.0.0.1:8080/admin/chaos",
    "metrics_url": "http://127.0.0.1:8080/metrics",
}
"""Where the generated experiments look for the service; edit `configuration` in each file."""

FULL_OUTAGE_RATE = 1.0
PARTIAL_RATE = 0.5
PROBE_REQUESTS = 200
PROBE_CONCURRENCY = 10
LATENCY_OVER_TIMEOUT = 2.0

_FAULT_BY_CATEGORY = {
    "latency": "latency",
    "rate_limit": "outcome",  # the dependency answers 429: a result, not an exception
    "quality": "outcome",  # degraded answers: a wrong result
    "data": "outcome",  # stale or corrupt data: a wrong result
}


@dataclass(frozen=True)
class FailureModeFacts:
    """What the generator needs from one failure mode of the plan."""

    id: str
    component: str
    name: str
    failure: str
    category: str
    priority: str
    transient: bool
    users_impacted: float  # percent, without mechanisms
    users_impacted_with: float  # percent, with the planned mechanisms
    mechanisms: tuple[str, ...] = ()  # "policy: mechanism" entries the plan says contain it
    # succeeds at the transport level (wrong or stale answers at HTTP 200): the error ratio and
    # the breakers cannot see it, so no experiment on them can check what the plan predicts
    silent: bool = False


@dataclass(frozen=True)
class BreakerFacts:
    """The planned trip time of one policy's breaker: a full outage opens it within `trip` s."""

    trip_seconds: float | None
    minimum_calls: int
    rps: float | None


@dataclass(frozen=True)
class PlanFacts:
    """The plan's data the generator uses, as plain values."""

    system: str
    slo: float  # percent
    failure_modes: Sequence[FailureModeFacts]
    policies: Mapping[str, Mapping[str, Any]]  # the mechanism table (policy → its sections)
    breakers: Mapping[str, BreakerFacts] = field(default_factory=dict)
    request_timeout: float | None = None  # the entry points' latency budget, seconds
    # entry point → its own (inbound) policy: no dependency call runs inside it to inject into
    inbound: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def protecting(self) -> dict[str, list[str]]:
        """Component → the policies protecting calls to it, sorted: named after it, or
        ``caller.component`` (a name may hold dots: every suffix after a dot is indexed).
        Made once; searching the table for each failure mode was quadratic (a 10,000-component
        plan's experiments took minutes)."""
        index: dict[str, list[str]] = {}
        for policy in sorted(self.policies):
            index.setdefault(policy, []).append(policy)
            dot = policy.find(".")
            while dot >= 0:
                index.setdefault(policy[dot + 1 :], []).append(policy)
                dot = policy.find(".", dot + 1)
        return index

    def policies_for(self, component: str) -> list[str]:
        """The policies protecting calls to `component` (see `protecting`)."""
        return list(self.protecting.get(component, ()))


@dataclass(frozen=True)
class Skipped:
    """A P1/P2 failure mode no experiment was generated for, and why."""

    id: str
    reason: str


@dataclass(frozen=True)
class Generated:
    """One generated experiment: the file name, its data (with ``${...}`` placeholders)."""

    filename: str
    data: dict[str, Any]
    experiment: Experiment


def _value(item: Any) -> Any:
    return item.get("value") if isinstance(item, Mapping) else item


def facts_from_plan_dict(plan: Mapping[str, Any]) -> PlanFacts:
    """`PlanFacts` from the planner's JSON/YAML document (``reliability plan --format json``),
    as `--derivations refs` or `full` writes it: a compact one (the CLI's default) is read
    through `planner.decode.decode` first (as ``reliability chaos generate`` does).

    Raises ValueError for a compact document."""
    report = plan.get("report") or {}
    if isinstance(report, Mapping) and "figures" in report:
        raise ValueError(
            "a compact plan document (report.figures): read it with planner.decode.decode"
        )
    modes = []
    for fm in report.get("failure_modes") or []:
        # the refs document leaves `users_impacted_with` out when the mechanisms do not reduce it
        users = float(_value(fm.get("users_impacted")) or 0.0)
        modes.append(
            FailureModeFacts(
                id=str(fm["id"]),
                component=str(fm["component"]),
                name=str(fm.get("name", "")),
                failure=str(fm.get("failure", "")),
                category=str(fm.get("category", "")),
                priority=str(fm["priority"]),
                transient=bool(fm.get("transient", True)),
                users_impacted=users,
                users_impacted_with=float(_value(fm.get("users_impacted_with", users)) or 0.0),
                mechanisms=tuple(str(m) for m in fm.get("mechanisms") or ()),
                silent=bool(fm.get("silent", False)),
            )
        )
    mechanisms = report.get("mechanisms") or {}
    rows = mechanisms.get("rows", []) if isinstance(mechanisms, Mapping) else mechanisms
    breakers: dict[str, BreakerFacts] = {}
    budgets: list[float] = []
    # an inbound policy is named after its entry point: the refs document leaves `target` out
    inbound = {
        str(row.get("target", row["policy"])): str(row["policy"])
        for row in rows or []
        if row.get("inbound")
    }
    for row in rows or []:
        if row.get("mechanism") == "deadline":
            budget = (((row.get("figures") or {}).get("deadline") or {}).get("inputs") or {}).get(
                "budget"
            )
            if isinstance(budget, int | float):
                budgets.append(float(budget))
        if row.get("mechanism") != "circuit_breaker":
            continue
        trip = (row.get("figures") or {}).get("trip") or {}
        inputs = trip.get("inputs") or {}
        seconds = trip.get("unit") == "s"
        breakers[str(row["policy"])] = BreakerFacts(
            trip_seconds=float(trip["value"]) if seconds else None,
            minimum_calls=int(inputs.get("minimum_calls", trip.get("value", 0)) or 0),
            rps=float(inputs["rps"]) if seconds and "rps" in inputs else None,
        )
    table = plan.get("mechanisms") or {}
    return PlanFacts(
        system=str(plan.get("system", "")),
        slo=float(plan.get("slo", 0.0)),
        failure_modes=tuple(modes),
        policies={
            k: v
            for k, v in table.items()
            if k != "defaults" and k not in inbound.values() and isinstance(v, Mapping)
        },
        breakers=breakers,
        request_timeout=max(budgets) if budgets else None,
        inbound=inbound,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _fault_and_rate(mode: FailureModeFacts) -> tuple[str, float]:
    fault = _FAULT_BY_CATEGORY.get(mode.category, "fault")
    down = mode.category == "crash" or not mode.transient
    return fault, FULL_OUTAGE_RATE if down and fault == "fault" else PARTIAL_RATE


def _timeout(policy: Mapping[str, Any]) -> float | None:
    """The planned attempt timeout (else the deadline)."""
    raw = policy.get("timeout") or policy.get("deadline")
    return None if raw is None else parse_duration(raw)


def _deadline(policy: Mapping[str, Any]) -> float | None:
    """The planned deadline over all attempts (else the attempt timeout)."""
    raw = policy.get("deadline") or policy.get("timeout")
    return None if raw is None else parse_duration(raw)


def _request_timeout(facts: PlanFacts) -> float | None:
    """How long a probe request may take: the entry's latency budget, else every policy's
    deadline (or timeout) in a row, the most a request calling them all in turn can need."""
    if facts.request_timeout is not None:
        return facts.request_timeout
    total = sum(t for p in facts.policies.values() if (t := _deadline(p)) is not None)
    return round(total + 1.0, 3) if total else None


def _metric_probe(name: str, metric: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "provider": {
            "type": "metric",
            "url": "${metrics_url}",
            "name": metric,
            "labels": labels,
            "mode": "increase",
        },
        "tolerance": {"type": "range", "range": [1, math.inf]},
    }


def generate_one(
    mode: FailureModeFacts,
    facts: PlanFacts,
    configuration: Mapping[str, str],
    injection_rate: float | None = None,
) -> Generated | Skipped:
    """The experiment of one failure mode, or why there is none."""
    skipped = _skip_reason(mode, facts)
    if skipped is not None:
        return Skipped(mode.id, skipped)
    policies = facts.policies_for(mode.component)
    fault, rate = _fault_and_rate(mode)
    if injection_rate is not None:
        rate = injection_rate
    switch: dict[str, Any] = {"fault": fault, "enabled": True, "injection_rate": rate}
    if fault == "latency":
        timeouts = [t for p in policies if (t := _timeout(facts.policies[p])) is not None]
        if not timeouts:
            return Skipped(
                mode.id,
                f"{', '.join(policies)}: no timeout planned, so no latency "
                "that the plan predicts it contains",
            )
        switch["latency"] = min(MAX_LATENCY, round(LATENCY_OVER_TIMEOUT * max(timeouts), 3))
    budget = max(0.0, 1.0 - facts.slo / 100.0)
    allowed = max(budget, mode.users_impacted_with / 100.0)
    prediction = (
        f"the SLO holds (error ratio ≤ {budget:.4%})"
        if allowed == budget
        else f"errors stay within the plan's blast radius ({allowed:.2%} of users)"
    )
    timeout = _request_timeout(facts)
    traffic: dict[str, Any] = {"requests": PROBE_REQUESTS, "concurrency": PROBE_CONCURRENCY}
    if timeout is not None:
        traffic["timeout"] = min(MAX_TIMEOUT, timeout)  # the schema's bound
    load: dict[str, Any] = {"type": "load", "url": "${base_url}", **traffic}
    full_outage = rate >= FULL_OUTAGE_RATE and fault == "fault"
    breaker_checks, settle = _breaker_checks(mode, facts, policies, load, full_outage)
    method, rollbacks = _injections(policies, fault, switch, settle)
    method.append({"type": "action", "name": "drive-load", "provider": load})
    method.extend(breaker_checks)
    method.extend(_fallback_checks(mode, facts, policies))
    data: dict[str, Any] = {
        "version": 1,
        "title": f"{mode.id} {mode.component} {mode.name}: {prediction}",
        "description": (
            f"{mode.failure} ({mode.priority}). Injects {fault} at rate {rate:g} on "
            f"{', '.join(policies)}; the plan predicts {prediction}. Generated from the "
            f"{facts.system} plan; set the admin token in $RELIABILITY_CHAOS_TOKEN."
        ),
        "tags": ["planner-generated", facts.system, mode.id, mode.priority, mode.component],
        "contributions": {"reliability": "high" if mode.priority == "P1" else "medium"},
        "configuration": dict(configuration),
        "steady-state-hypothesis": {
            "title": prediction,
            "probes": [
                {
                    "type": "probe",
                    "name": "entry-error-ratio",
                    "provider": {"type": "http", "url": "${base_url}", **traffic},
                    "tolerance": {
                        "type": "range",
                        "range": [0, round(allowed, 6)],
                        "target": "error_ratio",
                    },
                }
            ],
        },
        "method": method,
        "rollbacks": rollbacks,
    }
    filename = f"{_slug(mode.id)}-{_slug(mode.component)}-{_slug(mode.name or mode.category)}.yaml"
    experiment = parse_experiment(data, filename)  # what we write must load
    return Generated(filename, data, experiment)


def _skip_reason(mode: FailureModeFacts, facts: PlanFacts) -> str | None:
    """Why a mode gets no experiment (invisible to the error ratio, or nothing to inject into)."""
    if mode.silent:
        return (
            f"{mode.component}'s answers succeed at the transport level (HTTP"
            " 200): the error ratio and the breakers cannot see the fault;"
            " verify answer validation instead"
        )
    if not facts.policies_for(mode.component):
        own = " other than its inbound one" if mode.component in facts.inbound else ""
        return (
            f"{mode.component} has no policy in the mechanism table{own} (the"
            " fault cannot be injected through a dependency call)"
        )
    return None


def _breaker_checks(
    mode: FailureModeFacts,
    facts: PlanFacts,
    policies: list[str],
    load: dict[str, Any],
    full_outage: bool,
) -> tuple[list[dict[str, Any]], float]:
    """A probe per breaker the plan counts on to open, with the load sized to open it in the
    planned time; and the seconds for the steady-state probe's calls to leave its window."""
    checks: list[dict[str, Any]] = []
    settle = 0.0
    for policy in policies:
        breaker = facts.breakers.get(policy)
        config = facts.policies[policy].get("circuit_breaker")
        if breaker is None or not isinstance(config, Mapping):
            continue
        if f"{policy}: circuit_breaker" not in mode.mechanisms:
            continue  # the plan does not count on this breaker for this mode
        if not full_outage:
            continue  # the plan's trip time is for a full outage only
        if config.get("window_type") == "time":
            # The probe's successes would dilute the outage's failure rate inside the window.
            settle = max(settle, float(config.get("window_size", 0)))
        if breaker.trip_seconds is not None and breaker.rps is not None:
            # The planned rate for the planned time: the breaker must open within it.
            # (paced at most at the schema's MAX_RATE: the same calls then take longer)
            load["rate"] = min(MAX_RATE, breaker.rps)
            # rounded first: the plan's figures keep 12 significant digits, so 100 calls / 150
            # calls/s comes back as 0.666666666667 s, and × 150 must still be 100 requests
            calls = round(breaker.trip_seconds * breaker.rps, 6)
            load["requests"] = min(MAX_REQUESTS, math.ceil(calls))
            within = f"{breaker.trip_seconds:.3g}s"
        else:
            load["requests"] = min(MAX_REQUESTS, max(load["requests"], breaker.minimum_calls))
            within = f"{breaker.minimum_calls} calls"
        checks.append(
            _metric_probe(
                f"breaker-{policy}-opened-within-{_slug(within)}",
                "resilience_circuit_breaker_transitions_total",
                {"policy": policy, "to_state": "open"},
            )
        )
    return checks, settle


def _injections(
    policies: list[str], fault: str, switch: dict[str, Any], settle: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the method's injection actions, the rollbacks that switch them off)."""
    method: list[dict[str, Any]] = []
    rollbacks: list[dict[str, Any]] = []
    for policy in policies:
        target = {"type": "injection", "admin_url": "${admin_url}", "policy": policy}
        action: dict[str, Any] = {
            "type": "action",
            "name": f"inject-{fault}-{policy}",
            "provider": {**target, **switch},
        }
        if settle and not method:
            action["pauses"] = {"before": min(MAX_PAUSE, settle)}
        method.append(action)
        rollbacks.append(
            {
                "type": "action",
                "name": f"stop-{fault}-{policy}",
                "provider": {**target, "fault": fault, "enabled": False},
            }
        )
    return method, rollbacks


def _fallback_checks(
    mode: FailureModeFacts, facts: PlanFacts, policies: list[str]
) -> list[dict[str, Any]]:
    """A probe per fallback the plan counts on: it served."""
    return [
        _metric_probe(
            f"fallback-{policy}-served",
            "resilience_calls_total",
            {"policy": policy, "outcome": "fallback"},
        )
        for policy in policies
        if f"{policy}: fallback" in mode.mechanisms and "fallback" in facts.policies[policy]
    ]


def generate(
    facts: PlanFacts,
    configuration: Mapping[str, str] | None = None,
    *,
    injection_rate: float | None = None,
) -> tuple[list[Generated], list[Skipped]]:
    """One experiment per P1/P2 failure mode, and the modes skipped with the reason."""
    config = {**DEFAULT_CONFIGURATION, **(configuration or {})}
    made: list[Generated] = []
    skipped: list[Skipped] = []
    for mode in facts.failure_modes:
        if mode.priority not in ("P1", "P2"):
            continue
        result = generate_one(mode, facts, config, injection_rate)
        if isinstance(result, Generated):
            made.append(result)
        else:
            skipped.append(result)
    return made, skipped
