"""Status tones: which words of the plan a page colours, and how (bad, warn, good, muted).

Tones are keyed by the model's own literal values (a failure mode's `priority`, a recovery
scenario's `status`, an SLA row's `status`), never by parsing a rendered sentence.
"""

from __future__ import annotations

__all__ = ["TONES", "below_target_tone", "tone"]

#: Every tone a table cell may carry; "" is none.
TONES = ("bad", "warn", "good", "muted")

_TONE = {
    # FailureMode.priority / Runbook.priority / SeverityLevel.priority
    "P1": "bad",
    "P2": "warn",
    "P3": "muted",
    # RecoveryScenario.status
    "breached": "bad",
    "met": "good",
    "no target": "muted",
    # SlaRow.status
    "Breached": "bad",
    "Risk": "warn",
    "OK": "good",
    "No data": "muted",
}


def tone(status: str) -> str:
    """The tone of a priority or status value of the model, "" when it has none."""
    return _TONE.get(status, "")


def below_target_tone(below: bool) -> str:
    """A cap below the target is bad; one above it is fine."""
    return "bad" if below else "good"
