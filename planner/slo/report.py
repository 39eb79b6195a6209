"""The SLA TRACKING section as plain text (the seed's table), for `reliability sla`."""

from __future__ import annotations

from collections.abc import Callable

from planner.model import SlaSection
from planner.render import figures as fmt

__all__ = ["sla_text"]


def sla_text(section: SlaSection, paint: Callable[[str], str] | None = None) -> str:
    """The seed's SLA TRACKING table plus budget, burn rates, projected exhaustion and notes.

    `paint` styles each row's padded status cell (colour on a terminal).
    """
    headers = ("Period", "Target", "Actual", "Budget Used", "Status", "Coverage")
    rows = [
        (
            row.period,
            fmt.percent(row.target),
            fmt.figure(row.actual) if row.actual is not None else "no data",
            fmt.figure(row.budget_used),
            row.status,
            fmt.figure(row.coverage),
        )
        for row in section.rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...], status_column: int | None = None) -> str:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        if paint is not None and status_column is not None:
            padded[status_column] = paint(padded[status_column])
        return "| " + " | ".join(padded) + " |"

    out = [
        f"SLA TRACKING — {section.slo}",
        "─" * 36,
        line(headers),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(line(r, headers.index("Status")) for r in rows),
        "",
    ]
    if section.budget_remaining_minutes is None:
        out.append("Error Budget: no data this month")
    else:
        out.append(
            f"Error Budget: {section.budget_remaining_minutes.value:.1f} minutes remaining this"
            " month"
        )
    if section.burn_rates:
        rates = ", ".join(f"{w} {fmt.figure(f)}" for w, f in section.burn_rates.items())
        out.append(f"Burn rate now: {rates}")
        remaining = section.budget_remaining_minutes
        if remaining is not None and remaining.value <= 0:
            out.append("Budget exhausted in: already exhausted this month")
        elif remaining is not None:
            projections = []
            for window in section.burn_rates:
                fig = section.projected_exhaustion.get(window)
                when = fmt.duration(fig.value) if fig is not None else "never (no errors)"
                projections.append(f"at the {window} rate {when}")
            out.append("Budget exhausted in: " + ", ".join(projections))
    out.append(f"Measured {section.measured_at} from {section.source}.")
    out.extend(f"Note: {n}" for n in section.notes)
    return "\n".join(out)
