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


#: heading → (the data's lines, indices of the prompts they answer)
Answers = dict[str, tuple[list[str], set[int]]]


def fill(
    plan: Plan, incident: Incident, time_to_page: float
) -> tuple[PostmortemTemplate, dict[str, tuple[str, ...]]]:
    """The plan's template without the prompts the data answers, and the data's lines by
    section heading (for `postmortem_markdown_of`)."""
    start = incident.first("failures_start")
    users_failing = incident.first("sli_errors_start")
    # the incident began with the first failure seen: a dependency's, or the users' requests'
    began = min((e.at for e in (start, users_failing) if e is not None), default=None)
    answered: Answers = {}
    _timeline(incident, answered)
    _summary(plan, incident, answered)
    _impact(plan, incident, answered)
    _detection(incident, began, time_to_page, answered)
    _recovery(plan, incident, began, answered)
    template = plan.monitoring.postmortem
    sections = []
    measured: dict[str, tuple[str, ...]] = {}
    for section in template.sections:
        lines, done = answered.get(section.heading, ([], set()))
        prompts = tuple(p for i, p in enumerate(section.prompts) if i not in done)
        sections.append(replace(section, prompts=prompts))
        measured[section.heading] = tuple(lines)
    return PostmortemTemplate(template.title, tuple(sections)), measured


def _timeline(incident: Incident, answered: Answers) -> None:
    page = incident.first("page_fired", "page")
    timeline = [f"{_at(e.at)} — {e.text}" for e in incident.events]
    if page is None:
        timeline.append(f"No page fired between {_at(incident.start)} and {_at(incident.end)}.")
    elif incident.still_firing:
        timeline.append(f"The page was still firing at {_at(incident.end)}.")
    answered["Timeline"] = (timeline, {0})


def _summary(plan: Plan, incident: Incident, answered: Answers) -> None:
    start = incident.first("failures_start")
    matched = match_failure_mode(plan, incident)
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


def _impact(plan: Plan, incident: Incident, answered: Answers) -> None:
    if incident.requests is None or incident.failed is None:
        answered["Impact"] = (["No SLI series in the range: requests and failures unknown."], set())
        return
    share = incident.failed / incident.requests if incident.requests > 0 else 0.0
    impact = [
        f"Failed requests: {incident.failed:.0f} of {incident.requests:.0f}"
        f" ({100 * share:.3g}%) between {_at(incident.start)} and {_at(incident.end)}"
    ]
    if plan.header.users is not None:
        impact.append(
            f"Users impacted: ≈ {plan.header.users * share:.0f}"
            f" (users {plan.header.users} × failed share)"
        )
    budget = 1.0 - plan.header.target.value / 100.0
    bad_seconds = share * (incident.end - incident.start)
    period = plan.header.period_seconds.value
    spent = 100.0 * bad_seconds / (budget * period) if budget > 0 else float("inf")
    impact.append(
        f"Error budget consumed: {format_duration(bad_seconds)} of full outage"
        f" ({spent:.3g}% of the {plan.header.period_label} budget)"
    )
    answered["Impact"] = (impact, {1, 2})
    answered["Error budget"] = ([impact[-1]], set())


def _detection(
    incident: Incident, began: float | None, time_to_page: float, answered: Answers
) -> None:
    page = incident.first("page_fired", "page")
    if began is None:
        return
    if page is not None:
        took = page.at - began
        verdict = "within" if took <= time_to_page else "later than"
        line = (
            f"Paged at {_at(page.at)}, {format_duration(max(0.0, took))} after the first failure:"
            f" {verdict} the expected {format_duration(time_to_page)}"
        )
        answered["Detection"] = ([line], {0, 1})
        return
    served = " (the fallbacks served)" if incident.first("fallback_start") else ""
    answered["Detection"] = (
        [f"No page fired: users' requests did not burn the budget fast{served}"],
        {0},
    )


def _recovery(plan: Plan, incident: Incident, began: float | None, answered: Answers) -> None:
    if began is None:
        return
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
    still = incident.first("sli_errors_start") is not None and users_ok is None
    if policy in incident.breaker_open_at_end or not ends or still:
        what = f"{policy} still failing over" if policy else "users' requests still failing"
        answered["Response and recovery"] = (
            [f"Not recovered by {_at(incident.end)}: {what}"],
            set(),
        )
        return
    took = max(ends) - began
    line = f"Recovered at {_at(max(ends))}, {format_duration(took)} after the first failure"
    if planned is not None:
        verdict = "within" if took <= planned.value else "over"
        line += f": {verdict} the planned RTO {format_duration(planned.value)}"
    answered["Response and recovery"] = ([line], set())
