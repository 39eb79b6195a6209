"""Markdown runbooks (one per P1/P2 failure mode) and the post-mortem template."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from planner.model import Plan, PostmortemTemplate, Runbook

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def runbook_filename(runbook: Runbook) -> str:
    """`<slug>.md`, with anything that is not safe in a file name replaced by `-`."""
    stem = _UNSAFE.sub("-", runbook.slug).strip("-.") or runbook.failure_mode_id.lower()
    return f"{stem}.md"


def _numbered(items: tuple[str, ...]) -> list[str]:
    return [f"{i}. {item}" for i, item in enumerate(items, 1)] or ["_Nothing planned._"]


def _bulleted(items: tuple[str, ...]) -> list[str]:
    return [f"- {item}" for item in items] or ["_Nothing planned._"]


def runbook_markdown(runbook: Runbook, system: str) -> str:
    """One runbook: symptoms, the alert that fires, diagnosis queries, mitigation, recovery,
    verification."""
    title = runbook.title
    if not title.startswith(runbook.failure_mode_id):
        title = f"{runbook.failure_mode_id}: {title}"
    lines = [
        f"# {title}",
        "",
        f"- **System:** {system}",
        f"- **Component:** {runbook.component}",
        f"- **Priority:** {runbook.priority} ({runbook.severity})",
        "",
        "## Symptoms",
        "",
        *_bulleted(runbook.symptoms),
        "",
        "## Alert",
        "",
        runbook.alert,
        "",
        "## Diagnosis",
        "",
    ]
    if not runbook.diagnosis:
        lines.append("_No query planned._")
    for query in runbook.diagnosis:
        lines += [f"- {query.description}", "", "  ```promql", f"  {query.promql}", "  ```", ""]
    if lines[-1] == "":
        lines.pop()
    lines += [
        "",
        "## Mitigation",
        "",
        *_numbered(runbook.mitigation),
        "",
        "## Recovery",
        "",
        *_numbered(runbook.recovery),
        "",
        "## Verification",
        "",
        *_bulleted(runbook.verification),
    ]
    return "\n".join(lines) + "\n"


def runbook_names(runbooks: tuple[Runbook, ...]) -> list[str]:
    """The file name of each runbook, in order, as `reliability runbook -o DIR` writes them."""
    names: list[str] = []
    taken: set[str] = set()  # the names so far (searching the list was quadratic)
    for runbook in runbooks:
        name = runbook_filename(runbook)
        if name in taken:  # two slugs that sanitise alike: keep both, told apart by the id
            name = f"{runbook.failure_mode_id.lower()}-{name}"
        names.append(name)
        taken.add(name)
    return names


def runbook_files(plan: Plan) -> dict[str, str]:
    """File name → markdown for every runbook of the plan, in priority order."""
    runbooks = plan.monitoring.runbooks
    return {
        name: runbook_markdown(runbook, plan.header.system)
        for name, runbook in zip(runbook_names(runbooks), runbooks, strict=True)
    }


def postmortem_markdown_of(
    template: PostmortemTemplate, measured: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The post-mortem: per section, what the data says (`measured`, by heading), the plan's
    figures, then the prompts still to fill in."""
    lines = [f"# {template.title}"]
    for section in template.sections:
        lines += ["", f"## {section.heading}", ""]
        found = (measured or {}).get(section.heading, ())
        if found:
            lines += ["From the data:", ""]
            lines += [f"- {item}" for item in found]
            lines.append("")
        if section.prefilled:
            lines += ["From the plan:", ""]
            lines += [f"- {item}" for item in section.prefilled]
            lines.append("")
        if section.prompts:
            lines += ["To fill in:", ""]
            lines += [f"- **{prompt}**" for prompt in section.prompts]
        elif lines[-1] == "":
            lines.pop()
    return "\n".join(lines) + "\n"


def postmortem_markdown(plan: Plan) -> str:
    """The plan's post-mortem template as markdown (`reliability postmortem SPEC`)."""
    return postmortem_markdown_of(plan.monitoring.postmortem)
