"""The SLA TRACKING section as plain text (the seed's table), for `reliability sla`, and the
one-line verdict of `--check`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.model import Figure, SlaRow, SlaSection
from planner.render import figures as fmt
from planner.render.pictures import budget_picture

__all__ = ["budget_share", "check_failure", "sla_text"]


def budget_share(fig: Figure | None) -> str:
    """A share of an error budget: `61.2%`, and past ten budgets `6,000× the budget`, so a short
    run's ratio never reads as a six-digit percentage."""
    if fig is None:
        return fmt.NONE
    if fig.value >= 1000.0:
        return f"{fig.value / 100:,.0f}× the budget"
    return f"{fig.value:.0f}%" if fig.value >= 100 else f"{fig.value:.3g}%"


def _events(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.3g}"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    paint: Callable[[str], str] | None = None,
    painted: str | None = None,
) -> list[str]:
    """A Markdown-style table; `paint` styles the padded cells of the `painted` column."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    column = headers.index(painted) if paint is not None and painted is not None else None

    def line(cells: Sequence[str], styled: bool = False) -> str:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        if styled and paint is not None and column is not None:
            padded[column] = paint(padded[column])
        return "| " + " | ".join(padded) + " |"

    return [
        line(headers),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(line(r, styled=True) for r in rows),
    ]


def _runs_out(row: SlaRow) -> str:
    if row.exhaustion is not None:
        return f"in {fmt.duration(row.exhaustion.value)}"
    return row.exhaustion_note or fmt.NONE


def _left_minutes(row: SlaRow) -> str:
    if row.remaining_minutes is None:
        return fmt.NONE
    if row.remaining_minutes.value <= 0:
        return "none left"
    return fmt.figure(row.remaining_minutes)


def _burn(window: str, fig: Figure) -> str:
    bad, total = fig.inputs.get("bad"), fig.inputs.get("total")
    events = ""
    if isinstance(bad, float | int) and isinstance(total, float | int):
        events = f" ({_events(float(bad))} of {_events(float(total))} events bad)"
    return f"{window} {fmt.figure(fig)}{events}"


def _periods_table(rows: Sequence[SlaRow], paint: Callable[[str], str] | None) -> list[str]:
    """The seed's SLA TRACKING table, one row per period."""
    return _table(
        ("Period", "Target", "Actual", "Budget Used", "Pace", "Status", "Coverage"),
        [
            (
                r.period,
                fmt.percent(r.target),
                fmt.figure(r.actual) if r.actual is not None else "no data",
                budget_share(r.budget_used),
                budget_share(r.pace),
                r.status,
                fmt.figure(r.coverage),
            )
            for r in rows
        ],
        paint,
        "Status",
    )


def sla_text(section: SlaSection, paint: Callable[[str], str] | None = None) -> str:
    """The SLA table (budget used of the whole period, pace, status, coverage), the error budget
    left per period in events and clock minutes, burn rates with their events, projected
    exhaustion, gaps and notes. `paint` styles each row's status cell (colour on a terminal)."""
    rows = section.rows
    out = [
        f"SLA TRACKING — {section.slo}",
        "─" * 36,
        *_periods_table(rows, paint),
        "Budget Used: share of the whole period's error budget spent so far. Pace: the share"
        " spent by the period's end if the rest of it burns as it has so far.",
        "",
    ]
    measured = [r for r in rows if r.remaining is not None]
    if not measured:
        out.append("Error Budget: no data")
    else:
        basis = measured[0].remaining_minutes
        per_minute = basis.inputs.get("events_per_minute") if basis is not None else None
        how = basis.inputs.get("basis", "") if basis is not None else ""
        unit = measured[0].remaining.unit if measured[0].remaining is not None else "events"
        rate = f", {_events(per_minute)} {unit}/min" if isinstance(per_minute, float) else ""
        out.append(f"ERROR BUDGET in {unit} (minutes: of full outage at {how}{rate})")
        out.extend(
            _table(
                ("Period", "Budget", "Left", "Left (min)", "Runs out at the 1h burn"),
                [
                    (
                        r.period,
                        _events(r.remaining.value + float(r.actual.inputs["bad"]))
                        if r.remaining is not None and r.actual is not None
                        else fmt.NONE,
                        _events(r.remaining.value) if r.remaining is not None else fmt.NONE,
                        _left_minutes(r),
                        _runs_out(r),
                    )
                    for r in measured
                ],
            )
        )
    if section.burn_rates:
        rates = ", ".join(_burn(w, f) for w, f in section.burn_rates.items())
        out.append(f"Burn rate at {section.measured_at}: {rates}")
        budget_row = next((r for r in rows if r.period == section.budget_period), None)
        remaining = budget_row.remaining if budget_row is not None else None
        if remaining is not None and remaining.value <= 0:
            out.append(f"Budget of {section.budget_period.lower()}: already exhausted")
        elif remaining is not None:
            projections = []
            for window, rate_fig in section.burn_rates.items():
                fig = section.projected_exhaustion.get(window)
                if fig is not None:
                    when = f"in {fmt.duration(fig.value)}"
                elif rate_fig.value > 0:
                    when = "not before the period ends"
                else:
                    when = "never (no errors)"
                projections.append(f"at the {window} rate {when}")
            out.append(
                f"Budget of {section.budget_period.lower()} exhausted: " + ", ".join(projections)
            )
    series = budget_picture(section)
    if series is not None:
        out.append(f"{series.summary()} {series.sparkline()}")
    if section.gaps:
        out.append("Gaps without samples: " + "; ".join(section.gaps))
    out.append(f"Measured {section.measured_at} from {section.source}.")
    out.extend(f"Note: {n}" for n in section.notes)
    return "\n".join(out)


def check_failure(section: SlaSection) -> str | None:
    """Why `section` fails `reliability sla --check` (one line), or None when it passes.

    It fails when a period is Breached, and when the SLO's budget period has no data: no series
    matches the SLI (a typo in a selector) or nothing was counted, which must never pass a gate.
    """
    breached = [r for r in section.rows if r.status == "Breached"]
    if breached:
        what = ", ".join(
            f"{r.period.lower()} {fmt.figure(r.actual)} < {fmt.percent(r.target)}" for r in breached
        )
        return f"{section.slo}: breached ({what})"
    budget = next((r for r in section.rows if r.period == section.budget_period), None)
    row = budget or (section.rows[0] if section.rows else None)
    if row is None or row.actual is None:
        period = row.period.lower() if row is not None else "its period"
        why = section.notes[-1] if section.notes else "no traffic"
        return f"{section.slo}: no data in {period} ({why})"
    return None
