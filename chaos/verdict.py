"""The verdict of a chaos run as text for the terminal (`reliability chaos run`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.runner import Verdict

__all__ = ["format_verdict"]


def format_verdict(verdict: Verdict) -> str:
    """The verdict as a few lines of text for the terminal."""

    def held(value: bool | None) -> str:
        return {True: "held", False: "DEVIATED", None: "not checked"}[value]

    lines = [
        f"experiment: {verdict.title}",
        f"status: {verdict.status}",
        f"steady state before the method: {held(verdict.held_before)}",
        f"steady state after the method: {held(verdict.held_after)}",
    ]
    if verdict.deviations:
        lines.append("deviations:")
        lines.extend(f"  - {d}" for d in verdict.deviations)
    if verdict.failed_activities:
        lines.append("failed actions:")
        lines.extend(f"  - {a}" for a in verdict.failed_activities)
    if verdict.unreachable is not None:
        lines.append(f"{verdict.unreachable}; nothing was injected")
    lines.append(f"rollbacks: {verdict.rollbacks_run} run, {verdict.rollbacks_failed} failed")
    if verdict.status == "unreachable":
        lines.append("verdict: the hypothesis could not be checked")
    else:
        lines.append(
            "verdict: the hypothesis held"
            if verdict.held
            else "verdict: the hypothesis did NOT hold"
        )
    return "\n".join(lines)
