"""The SLA report's periods: calendar month, quarter and year to date (UTC), the rolling period."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Period", "parse_time", "report_periods"]

_ROLLING = {"30d": 30, "28d": 28}


@dataclass(frozen=True)
class Period:
    """A reporting period [start, at] of a budget period that ends at `end` (≥ at).

    A rolling period ends at `at` (`end == at`): whole once the data spans it, and its budget
    looks ahead one period length (`horizon`).
    """

    label: str
    start: datetime
    at: datetime
    end: datetime
    rolling: bool = False

    @property
    def elapsed_fraction(self) -> float:
        """The share of the budget period that has passed at `at` (1 for a rolling period)."""
        if self.rolling:
            return 1.0
        return (self.at - self.start) / (self.end - self.start)

    @property
    def horizon(self) -> datetime:
        """How far a projection of this period's budget may run: its end, or for a rolling
        period one period length past `at`."""
        return self.at + (self.at - self.start) if self.rolling else self.end

    def measured_from(self, data_start: datetime) -> datetime:
        """Where measuring this period starts: its start, or the data's first sample if later."""
        return max(self.start, data_start)

    def budget_end(self, data_start: datetime) -> datetime:
        """Where the elapsed share reaches 1 (an even burn has spent the whole budget): the
        period's end, or for a rolling period one window after it is measured from."""
        begin = self.measured_from(data_start)
        return begin + (self.at - self.start) if self.rolling else self.end

    def elapsed_share(self, data_start: datetime, data_end: datetime) -> float:
        """The share of the period elapsed, counted from when the data starts.

        (data end − measured from) / (period end − measured from): a year whose data starts in
        May has run half its measurable length by September, not two thirds. A rolling period
        has fully elapsed once its data reaches back over the whole window; until then, the
        share of the window the data spans ((data end − measured from) / window). 0 when the
        data ends before it starts.
        """
        begin = self.measured_from(data_start)
        done = (min(data_end, self.at) - begin).total_seconds()
        length = ((self.at - self.start) if self.rolling else (self.end - begin)).total_seconds()
        return max(0.0, min(1.0, done / length)) if length > 0 else 1.0


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
        out.append(Period(f"Last {days} days", at - timedelta(days=days), at, at, rolling=True))
    return tuple(out)


#: The latest time `parse_time` accepts as unix seconds (datetime's own limit is year 9999).
_MAX_UNIX = 253402300799.0


def parse_time(text: str) -> datetime:
    """A UTC time from ISO 8601 ("2026-05-20T00:00:00Z", a date) or unix seconds.

    Raises ValueError (one sentence) for anything else, including non-finite numbers, times
    before 1970-01-01 and past year 9999.
    """
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_UNIX:
            raise ValueError(
                f"expected unix seconds from 0 (1970-01-01) to year 9999, got {text!r}"
            )
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 time such as 2026-05-20T00:00:00Z or unix seconds, got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the report is in UTC; a naive time means UTC
    parsed = parsed.astimezone(UTC)
    if parsed < _EPOCH:
        raise ValueError(f"expected a time from 1970-01-01 on, got {text!r}")
    return parsed


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
