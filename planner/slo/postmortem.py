"""The post-mortem filled from the data: the plan's template with what Prometheus recorded.

Every section keeps the plan's figures; the measured timeline, the first failing dependency
matched to the plan's failure mode and runbook, the impact, detection against the expected time
to page and recovery against the planned RTO are added as "From the data". A prompt stays only
where the data cannot answer it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from planner.model import FailureMode, Plan, PostmortemTemplate, Runbook
from planner.slo.incident import Incident
from planner.units import format_duration

__all__ = ["fill", "match_failure_mode"]

#: The failure-mode categories the runtime's signals tell apart, by what they saw.
_BY_SIGNAL = {"latency": ("latency",), "errors": ("errors", "crash", "dependency")}


def _at(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _target(plan: Plan, policy: str) -> str:
    for row in plan.mechanisms:
        if row.policy == policy:
            return row.target
    return policy


def match_failure_mode(plan: Plan, incident: Incident) -> tuple[FailureMode, Runbook | None] | None:
    """The plan's failure mode of the first failing dependency that its signals point to (attempt
    timeouts: a latency mode; else an error or crash mode), highest priority first."""
    if incident.first_failing is None:
        return None
    component = _target(plan, incident.first_failing)
    signal = "latency" if incident.attempt_timeouts > 0 else "errors"
    modes = [m for m in plan.failure_modes if m.component == component]
    for category in _BY_SIGNAL[signal]:
        for mode in modes:  # the plan lists them in priority order
            if mode.category == category:
                runbook = next(
                    (r for r in plan.monitoring.runbooks if r.failure_mode_id == mode.id), None
                )
                return mode, runbook
    return None


def fill(plan: Plan, incident: Incident, time_to_page: float) -> PostmortemTemplate:
    """The plan's post-mortem template with the incident's data in every section it answers."""
    template = plan.monitoring.postmortem
    start = incident.first("failures_start")
    users_failing = incident.first("sli_errors_start")
    # the incident began with the first failure seen: a dependency's, or the users' requests'
    began = min((e.at for e in (start, users_failing) if e is not None), default=None)
    page = incident.first("page_fired", "page")
    matched = match_failure_mode(plan, incident)
    answered: dict[str, tuple[list[str], set[int]]] = {}  # heading → (lines, prompts answered)

    timeline = [f"{_at(e.at)} — {e.text}" for e in incident.events]
    if page is None:
        timeline.append(f"No page fired between {_at(incident.start)} and {_at(incident.end)}.")
    elif incident.still_firing:
        timeline.append(f"The page was still firing at {_at(incident.end)}.")
    answered["Timeline"] = (timeline or ["Nothing changed in the range."], {0})

    summary: list[str] = []
    if matched is not None:
        mode, runbook = matched
        summary.append(
            f"First dependency whose error ratio rose: {incident.first_failing}"
            f" ({_at(start.at) if start else '?'}); failure mode {mode.id} {mode.name}"
            f" ({mode.failure}), priority {mode.priority}"
        )
        if runbook is not None:
            summary.append(f"Runbook: {runbook.slug}.md ({runbook.severity})")
    elif incident.first_failing is not None:
        summary.append(
            f"First failing dependency: {incident.first_failing}; no planned failure mode matches"
        )
    else:
        summary.append("No dependency's failures rose in the range.")
    answered["Summary"] = (summary, {1} if matched is not None else set())
    answered["Root cause and trigger"] = (summary[:1], set())

    impact: list[str] = []
    duration = incident.end - incident.start
    if incident.requests is None or incident.failed is None:
        impact.append("No SLI series in the range: requests and failures unknown.")
        answered["Impact"] = (impact, set())
    else:
        share = incident.failed / incident.requests if incident.requests > 0 else 0.0
        impact.append(
            f"Failed requests: {incident.failed:.0f} of {incident.requests:.0f}"
            f" ({100 * share:.3g}%) between {_at(incident.start)} and {_at(incident.end)}"
        )
        if plan.header.users is not None:
            impact.append(
                f"Users impacted: ≈ {plan.header.users * share:.0f}"
                f" (users {plan.header.users} × failed share)"
            )
        budget = 1.0 - plan.header.target.value / 100.0
        bad_seconds = share * duration
        period = plan.header.period_seconds.value
        spent = 100.0 * bad_seconds / (budget * period) if budget > 0 else float("inf")
        impact.append(
            f"Error budget consumed: {format_duration(bad_seconds)} of full outage"
            f" ({spent:.3g}% of the {plan.header.period_label} budget)"
        )
        answered["Impact"] = (impact, {1, 2})
        answered["Error budget"] = ([impact[-1]], set())

    detection: list[str] = []
    detected: set[int] = set()
    if page is not None and began is not None:
        took = page.at - began
        verdict = "within" if took <= time_to_page else "later than"
        detection.append(
            f"Paged at {_at(page.at)}, {format_duration(max(0.0, took))} after the first failure:"
            f" {verdict} the expected {format_duration(time_to_page)}"
        )
        detected = {0, 1}
    elif began is not None:
        detection.append(
            "No page fired: users' requests did not burn the budget fast"
            + (" (the fallbacks served)" if incident.first("fallback_start") else "")
        )
        detected = {0}
    answered["Detection"] = (detection, detected)

    recovery: list[str] = []
    if began is not None:
        policy = incident.first_failing or ""
        closed = incident.last("breaker_closed", policy)
        stop = incident.last("fallback_stop", policy)
        users_ok = incident.last("sli_errors_stop")
        ends = [e.at for e in (closed, stop, users_ok) if e is not None]
        entries = plan.availability.entry_points
        # no dependency failed: the users' requests did, at the entry point
        component = _target(plan, policy) if policy else entries[0].component if entries else ""
        scenario = next((s for s in plan.recovery.scenarios if s.component == component), None)
        planned = scenario.rto_target or scenario.rto if scenario is not None else None
        still = incident.first("sli_errors_start") and not users_ok
        if policy in incident.breaker_open_at_end or not ends or still:
            what = f"{policy} still failing over" if policy else "users' requests still failing"
            recovery.append(f"Not recovered by {_at(incident.end)}: {what}")
        else:
            took = max(ends) - began
            line = f"Recovered at {_at(max(ends))}, {format_duration(took)} after the first failure"
            if planned is not None:
                verdict = "within" if took <= planned.value else "over"
                line += f": {verdict} the planned RTO {format_duration(planned.value)}"
            recovery.append(line)
    answered["Response and recovery"] = (recovery, set())

    sections = []
    for section in template.sections:
        lines, done = answered.get(section.heading, ([], set()))
        prompts = tuple(p for i, p in enumerate(section.prompts) if i not in done)
        sections.append(replace(section, prompts=prompts, measured=tuple(lines)))
    return PostmortemTemplate(template.title, tuple(sections))
