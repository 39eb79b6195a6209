"""Period arithmetic of the SLA report, `--at` parsing and the report's wording (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from planner.model import Figure, SlaRow, SlaSection
from planner.slo.periods import Period, parse_time, report_periods
from planner.slo.report import budget_share, check_failure


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_periods_at_a_year_boundary() -> None:
    at = _utc(2027, 1, 1, 0, 30)
    month, quarter, ytd, rolling = report_periods(at, "30d")
    assert (month.start, month.end) == (_utc(2027, 1, 1), _utc(2027, 2, 1))
    assert (quarter.start, quarter.end) == (_utc(2027, 1, 1), _utc(2027, 4, 1))
    assert (ytd.start, ytd.end) == (_utc(2027, 1, 1), _utc(2028, 1, 1))
    assert rolling.rolling and rolling.start == at - timedelta(days=30) and rolling.end == at
    # a calendar-month SLO adds no rolling row
    assert [p.label for p in report_periods(at, "calendar_month")] == [
        "This month",
        "This quarter",
        "YTD",
    ]


def test_elapsed_share_counts_from_when_the_data_starts() -> None:
    ytd = Period("YTD", _utc(2026, 1, 1), _utc(2026, 9, 1), _utc(2027, 1, 1))
    # data from 1 May: by 1 September 123 of the 245 measurable days have passed, not 243/365
    share = ytd.elapsed_share(_utc(2026, 5, 1), _utc(2026, 9, 1))
    assert share == pytest.approx(123 / 245)
    assert ytd.measured_from(_utc(2026, 5, 1)) == _utc(2026, 5, 1)
    # data older than the period: the period's own start
    assert ytd.elapsed_share(_utc(2025, 1, 1), _utc(2026, 9, 1)) == pytest.approx(243 / 365)
    # data that stopped on 1 August counts to 1 August
    assert ytd.elapsed_share(_utc(2026, 5, 1), _utc(2026, 8, 1)) == pytest.approx(92 / 245)
    # a rolling period has fully elapsed once the data spans it; before, the share it spans
    rolling = Period("Last 30 days", _utc(2026, 8, 2), _utc(2026, 9, 1), _utc(2026, 9, 1), True)
    assert rolling.elapsed_share(_utc(2026, 1, 1), _utc(2026, 9, 1)) == 1.0
    assert rolling.elapsed_share(_utc(2026, 8, 20), _utc(2026, 9, 1)) == pytest.approx(12 / 30)


def test_a_projection_horizon_is_the_period_end_or_one_rolling_length_ahead() -> None:
    month = Period("This month", _utc(2026, 4, 1), _utc(2026, 4, 10), _utc(2026, 5, 1))
    assert month.horizon == _utc(2026, 5, 1)
    rolling = Period("Last 28 days", _utc(2026, 3, 13), _utc(2026, 4, 10), _utc(2026, 4, 10), True)
    assert rolling.horizon == _utc(2026, 5, 8)


@pytest.mark.parametrize(
    "text",
    ["inf", "-inf", "nan", "1e30", "-1", "253402300800", "1969-12-31T23:59:59Z", "yesterday"],
)
def test_parse_time_refuses_what_is_not_a_time_since_1970(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected .*got") as info:
        parse_time(text)
    assert "\n" not in str(info.value)


def test_parse_time_accepts_unix_seconds_iso_and_dates() -> None:
    assert parse_time("0") == _utc(1970, 1, 1)
    assert parse_time("1779235200") == _utc(2026, 5, 20)
    assert parse_time("2026-05-20T02:00:00+02:00") == _utc(2026, 5, 20)
    assert parse_time("2026-05-20") == _utc(2026, 5, 20)


def test_budget_shares_past_ten_budgets_read_as_multiples() -> None:
    assert budget_share(Figure(61.23, "%", "")) == "61.2%"
    assert budget_share(Figure(248.09, "%", "")) == "248%"
    assert budget_share(Figure(600_000.0, "%", "")) == "6,000× the budget"
    assert budget_share(None) == "—"


def _section(rows: tuple[SlaRow, ...], notes: tuple[str, ...] = ()) -> SlaSection:
    return SlaSection(
        "http://prom", "2026-05-20T00:00:00Z", "gw/availability", rows, None, {}, notes,
        budget_period="Last 30 days",
    )  # fmt: skip


def test_check_failure_names_breaches_and_missing_data() -> None:
    ok = SlaRow("Last 30 days", 99.9, Figure(99.95, "%", ""), Figure(50.0, "%", ""), "OK", None)
    assert check_failure(_section((ok,))) is None
    breached = SlaRow("This month", 99.9, Figure(99.5, "%", ""), None, "Breached", None)
    assert check_failure(_section((breached, ok))) == (
        "gw/availability: breached (this month 99.5% < 99.9%)"
    )
    empty = SlaRow("Last 30 days", 99.9, None, None, "No data", None)
    note = 'no samples of x{job="typo"} between 2026-01-01T00:00:00Z and 2026-05-20T00:00:00Z'
    assert check_failure(_section((empty,), (note,))) == (
        f"gw/availability: no data in last 30 days ({note})"
    )
