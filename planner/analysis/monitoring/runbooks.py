"""Runbooks: one per P1/P2 failure mode — symptoms, the alert that fires, diagnosis queries,
mitigation, recovery and verification, each taken from the plan's own analysis.

A mode that succeeds at the transport level (`FailureMode.silent`: wrong or stale answers at HTTP
200) gets a runbook of its own kind: no breaker opens, no fallback serves and the error SLI stays
flat, so it names answer validation as the detection, the users it reaches with the mechanisms as
without them, and switching to the fallback by hand (or mapping a failed validation to an error)
as the recovery.
"""

from __future__ import annotations

import functools

from planner.analysis.graph import Graph
from planner.analysis.mechanisms import EdgePlan, Mechanisms
from planner.model import DiagnosisQuery, FailureMode, RecoveryScenario, Runbook
from planner.slo.definition import SloDefinition
from planner.slo.rules import ALERT_NAME
from planner.units import format_duration, format_percent

SEVERITY = {"P1": "SEV1", "P2": "SEV2", "P3": "SEV3"}

#: `format_duration`, remembered: the runbooks of a large plan write the same few timeouts,
#: deadlines and RTOs tens of thousands of times.
human = functools.lru_cache(maxsize=4096)(format_duration)


def _sli(slo: SloDefinition, window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}{slo.selector_labels}"


def _queries(
    mode: FailureMode, callers: _Callers, first: DiagnosisQuery
) -> tuple[DiagnosisQuery, ...]:
    """The diagnosis queries of one mode, after `first` (the user-facing error ratio)."""
    out = [first]
    if not callers.plans:
        out.append(
            DiagnosisQuery(
                f"is {mode.component} being scraped (1 = up)", f'up{{job="{mode.component}"}}'
            )
        )
        out.append(
            DiagnosisQuery(
                "CPU use", f'rate(process_cpu_seconds_total{{job="{mode.component}"}}[5m])'
            )
        )
        return tuple(out)
    match = callers.match
    out.append(
        DiagnosisQuery(
            "breaker state of the callers' policies (1 = current state)",
            f"resilience_circuit_breaker_state{{{match}}} == 1",
        )
    )
    out.append(
        DiagnosisQuery(
            "call outcomes per second",
            f"sum by (policy, outcome) (rate(resilience_calls_total{{{match}}}[5m]))",
        )
    )
    if mode.category in ("latency", "overload"):
        out.append(
            DiagnosisQuery(
                "p99 of the calls",
                "histogram_quantile(0.99, sum by (policy, le) (rate("
                f"resilience_call_duration_seconds_bucket{{{match}}}[5m])))",
            )
        )
        out.append(
            DiagnosisQuery(
                "timeouts per second",
                f"sum by (policy, kind) (rate(resilience_timeouts_total{{{match}}}[5m]))",
            )
        )
    if mode.category in ("rate_limit", "overload"):
        out.append(
            DiagnosisQuery(
                "rejections by our own mechanisms",
                f"sum by (policy, mechanism) (rate(resilience_rejections_total{{{match}}}[5m]))",
            )
        )
    if mode.transient:
        out.append(
            DiagnosisQuery(
                "retries per second",
                f"sum by (policy) (rate(resilience_retries_total{{{match}}}[5m]))",
            )
        )
    return tuple(out)


_SYMPTOMS = {
    "crash": "{c} stops answering: connection errors, then its breakers open",
    "errors": "{c} answers with errors (5xx)",
    "deploy": "errors start right after a deploy or configuration change of {c}",
    "latency": "{c} gets slow: p99 rises, timeouts fire",
    "overload": "{c} saturates: queueing, timeouts and rejections",
    "rate_limit": "{c} answers 429 (rate limited); our rate limiter rejects calls",
    "data": "{c} serves stale or missing data",
    "quality": "{c} answers succeed but are wrong, truncated or refused",
    "zone": "every replica in {c} is lost at once; several alerts fire together",
    "region": "the whole region {c} is lost",
}

_MITIGATION = {
    "crash": (
        "restart or replace the failed instances; if the breaker is open, callers already fail fast"
    ),
    "errors": (
        "check the provider's status page or the recent changes; fail over to the fallback"
        " if the breaker has not"
    ),
    "deploy": "roll back to the previous version now; investigate afterwards",
    "latency": (
        "shed non-critical traffic; scale out; the timeouts and bulkheads keep callers responsive"
    ),
    "overload": "scale out or shed load; the bulkhead caps concurrency so callers are not starved",
    "rate_limit": (
        "cut non-critical callers, ask the provider for more quota; retries honour Retry-After"
    ),
    "data": "stop the writes that make it worse; check replication and the last good backup",
    "quality": (
        "switch traffic to the fallback provider or a pinned model version; add answer validation"
    ),
    "zone": "drain the zone at the load balancer; rebuild what cannot run elsewhere",
    "region": "declare a disaster; follow the DR strategy",
}


#: Which recovery scenarios answer a failure category (all of the component's when unlisted).
_DISRUPTIONS: dict[str, frozenset[str]] = {
    "data": frozenset({"data_loss"}),
    "deploy": frozenset({"software"}),
    "crash": frozenset({"host", "software"}),
    "errors": frozenset({"software", "host"}),
    "zone": frozenset({"zone"}),
    "region": frozenset({"region"}),
}


class _Callers:
    """One component's callers' plans as each of its runbooks reads them, made once."""

    __slots__ = ("lines", "match", "names", "plans", "sel")

    def __init__(self, plans: tuple[EdgePlan, ...]) -> None:
        self.plans = plans
        policies = sorted(p.policy for p in plans)
        self.names = ", ".join(policies)
        self.sel = "|".join(policies)
        self.match = f'policy=~"{self.sel}"' if len(plans) > 1 else f'policy="{self.sel}"'
        self.lines = [_settings(p) for p in plans]  # each plan's line of the mitigation


def _settings(p: EdgePlan) -> str:
    fallback = None
    if p.fallback is not None or p.has_fallback:
        fallback = p.fallback or "degraded answer"
    return p.policy + _settings_text(p.timeout.value, p.deadline.value, p.max_attempts, fallback)


@functools.lru_cache(maxsize=4096)
def _settings_text(timeout: float, deadline: float, attempts: int, fallback: str | None) -> str:
    """A plan's settings as the mitigation writes them after its policy's name, remembered: a
    large plan has few distinct settings and a line for each caller of a runbook's component."""
    text = f": timeout {human(timeout)}, deadline {human(deadline)}," + (
        f" {attempts} attempts" if attempts > 1 else " 1 attempt (no retry)"
    )
    if fallback is not None:
        text += f", fallback → {fallback}"
    return text


class Runbooks:
    """Writes the runbooks of one plan; what they share — the SLO's query and alert, each
    component's callers — is worked out once, not once per failure mode."""

    def __init__(
        self,
        mech: Mechanisms,
        scenarios: dict[str, list[RecoveryScenario]],
        slo: SloDefinition,
    ) -> None:
        self.mech = mech
        self.scenarios = scenarios
        self.slo = slo
        self.sli5 = _sli(slo, "5m")
        self.error_ratio = DiagnosisQuery("user-facing error ratio over 5 minutes", self.sli5)
        self.page = (
            f'{ALERT_NAME}{{service="{slo.service}",slo="{slo.name}",severity="page"}}'
            " (fast burn of the error budget)"
        )
        self.back = f"{self.sli5} back below {(100.0 - slo.objective) / 100:g} (burn rate < 1)"
        self._callers: dict[str, _Callers] = {}

    def callers(self, component: str) -> _Callers:
        """The component's callers' plans, read once."""
        found = self._callers.get(component)
        if found is None:
            plans = self.mech.by_target.get(component, ())
            found = self._callers[component] = _Callers(plans)
        return found

    def runbook(self, mode: FailureMode) -> Runbook:
        """The runbook of one failure mode, from the plan's mechanisms and recovery scenarios."""
        c = mode.component
        callers = self.callers(c)
        plans = callers.plans
        if mode.silent:
            return _silent_runbook(mode, plans)
        symptoms = [_SYMPTOMS.get(mode.category, "{c}: " + mode.failure).format(c=c), mode.failure]
        if mode.users_impacted.value > 0:
            symptoms.append(
                f"up to {format_percent(mode.users_impacted.value, 2)}% of users see failures"
                " without the mechanisms,"
                f" {format_percent(mode.users_impacted_with.value, 2)}% with them"
            )
        paged_by: str | None = None
        if mode.users_impacted.value > 0 or not plans:
            paged_by = self.slo.name
            alert = self.page
        else:
            alert = (
                f"circuit breaker open on {callers.names}"
                ' (resilience_circuit_breaker_state{state="open"} == 1)'
            )
        mitigation = [_MITIGATION.get(mode.category, "apply the mitigation: " + mode.mitigation)]
        mitigation += callers.lines
        if mode.mitigation:
            mitigation.append("planned containment: " + mode.containment)
        verification = [self.back]
        if plans:
            verification.append(
                f'resilience_circuit_breaker_state{{policy=~"{callers.sel}",state="closed"}} == 1'
                " for every policy"
            )
        verification.append("the alert has resolved and stayed resolved for 30 minutes")
        return _book(
            mode,
            symptoms,
            alert,
            _queries(mode, callers, self.error_ratio),
            mitigation,
            self._recovery(mode),
            verification,
            slo=paged_by,
        )

    def _recovery(self, mode: FailureMode) -> list[str]:
        """The first three recovery scenarios of the component that answer the mode's category."""
        steps = self.scenarios.get(mode.component, [])
        relevant = _DISRUPTIONS.get(mode.category)
        if relevant is not None and any(s.disruption in relevant for s in steps):
            steps = [s for s in steps if s.disruption in relevant]
        recovery_steps = [
            f"{s.scenario}: {s.procedure} (RTO ≈ {human(s.rto.value)})" for s in steps[:3]
        ]
        return recovery_steps or ["restore the lost placement: " + mode.containment]


def runbook(
    graph: Graph,
    mode: FailureMode,
    mech: Mechanisms,
    scenarios: dict[str, list[RecoveryScenario]],
    slo: SloDefinition,
) -> Runbook:
    """The runbook of one failure mode, from the plan's mechanisms and recovery scenarios."""
    return Runbooks(mech, scenarios, slo).runbook(mode)


def _book(
    mode: FailureMode,
    symptoms: list[str],
    alert: str,
    diagnosis: tuple[DiagnosisQuery, ...],
    mitigation: list[str],
    recovery: list[str],
    verification: list[str],
    *,
    slo: str | None = None,
) -> Runbook:
    c = mode.component
    return Runbook(
        failure_mode_id=mode.id,
        slug=f"{mode.id.lower()}-{c.replace(':', '-')}-{mode.name}",
        title=f"{mode.id} {c}: {mode.failure}",
        component=c,
        priority=mode.priority,
        severity=SEVERITY[mode.priority],
        symptoms=tuple(symptoms),
        alert=alert,
        diagnosis=diagnosis,
        mitigation=tuple(mitigation),
        recovery=tuple(recovery),
        verification=tuple(verification),
        slo=slo,
    )


def _silent_runbook(mode: FailureMode, plans: tuple[EdgePlan, ...]) -> Runbook:
    """A mode that succeeds at the transport level (wrong or stale answers at HTTP 200): no
    breaker opens, no fallback serves and the error SLI stays flat, so the runbook says what
    does see it (answer validation) and how to switch to the fallback by hand."""
    c = mode.component
    what = "stale results" if mode.category == "data" else "wrong answers"
    symptoms = [_SYMPTOMS.get(mode.category, "{c}: " + mode.failure).format(c=c), mode.failure]
    if mode.users_impacted.value > 0:  # as the other runbooks: no line for 0 % of users
        symptoms.append(
            f"up to {format_percent(mode.users_impacted.value, 2)}% of users get {what}, with or"
            " without the mechanisms: the calls succeed, so no breaker opens and no fallback serves"
        )
    alert = (
        f"no availability alert fires (the calls succeed): answer validation of {c} — a quality"
        " SLI, e.g. the ratio of answers failing validation — is what detects it"
    )
    if plans:
        sel = "|".join(sorted(p.policy for p in plans))
        match = f'policy=~"{sel}"' if len(plans) > 1 else f'policy="{sel}"'
        diagnosis: tuple[DiagnosisQuery, ...] = (
            DiagnosisQuery(
                f"call outcomes per second (they stay success: {what} are not failures)",
                f"sum by (policy, outcome) (rate(resilience_calls_total{{{match}}}[5m]))",
            ),
        )
    else:
        diagnosis = (
            DiagnosisQuery(
                f"is {c} being scraped (1 = up): it is, and answering", f'up{{job="{c}"}}'
            ),
        )
    mitigation = [_MITIGATION.get(mode.category, "apply the mitigation: " + mode.mitigation)]
    fallbacks = [p for p in plans if p.fallback is not None or p.has_fallback]
    for p in fallbacks:
        mitigation.append(
            f"{p.policy}: force its breaker open so the fallback →"
            f" {p.fallback or 'degraded answer'} serves (its timeouts and retries do not see"
            f" {what})"
        )
    mitigation.append("planned containment: " + mode.containment)
    if fallbacks:
        names = ", ".join(sorted(p.policy for p in fallbacks))
        recovery = [
            f"switch to the fallback by hand: force {names} open (forced_open) until {c} answers"
            " validate again",
            "or map a failed validation to an error (failure_if_result on the policy) so the"
            " breaker opens by itself and the fallback serves",
            f"lift the forced open once a sample of {c}'s answers validates",
        ]
    elif mode.category == "data":
        recovery = [f"resync or rebuild {c} from the source of truth, then compare a sample"]
    else:
        recovery = [
            f"pin a known-good version of {c}, or take the feature offline until it validates again"
        ]
    verification = [
        f"the share of {c}'s answers failing validation is back at its baseline",
        "the answer-validation alert has resolved and stayed resolved for 30 minutes",
    ]
    if fallbacks:
        sel = "|".join(sorted(p.policy for p in fallbacks))
        verification.insert(
            1,
            f'resilience_circuit_breaker_state{{policy=~"{sel}",state="closed"}} == 1'
            " again once the forced open is lifted",
        )
    return _book(mode, symptoms, alert, diagnosis, mitigation, recovery, verification)
