"""The SLA report's periods: calendar month, quarter and year to date (UTC), the rolling period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Period", "parse_time", "report_periods"]

_ROLLING = {"30d": 30, "28d": 28}


@dataclass(frozen=True)
class Period:
    """A reporting period [start, at] of a budget period that ends at `end` (≥ at)."""

    label: str
    start: datetime
    at: datetime
    end: datetime

    @property
    def elapsed_fraction(self) -> float:
        """The share of the budget period that has passed at `at` (1 for a rolling period)."""
        return (self.at - self.start) / (self.end - self.start)


def _month_start(t: datetime, months_back: int = 0) -> datetime:
    index = t.year * 12 + (t.month - 1) - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _add_months(t: datetime, months: int) -> datetime:
    index = t.year * 12 + (t.month - 1) + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def report_periods(at: datetime, slo_period: str) -> tuple[Period, ...]:
    """This month, this quarter, YTD (calendar, UTC) and the rolling SLO period, all ending at `at`.

    A `calendar_month` SLO period is "This month" itself, so it adds no rolling row.
    """
    at = at.astimezone(UTC)
    month = _month_start(at)
    quarter = _month_start(at, (at.month - 1) % 3)
    year = datetime(at.year, 1, 1, tzinfo=UTC)
    out = [
        Period("This month", month, at, _add_months(month, 1)),
        Period("This quarter", quarter, at, _add_months(quarter, 3)),
        Period("YTD", year, at, datetime(at.year + 1, 1, 1, tzinfo=UTC)),
    ]
    days = _ROLLING.get(slo_period)
    if days is not None:
        out.append(Period(f"Last {days} days", at - timedelta(days=days), at, at))
    return tuple(out)


def parse_time(text: str) -> datetime:
    """A UTC time from ISO 8601 ("2026-05-20T00:00:00Z", a date) or unix seconds."""
    raw = text.strip()
    try:
        return datetime.fromtimestamp(float(raw), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 time such as 2026-05-20T00:00:00Z or unix seconds, got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the report is in UTC; a naive time means UTC
    return parsed.astimezone(UTC)
