"""Selectors and SLA periods: parsing, matching and calendar arithmetic, by value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.slo.periods import parse_time, report_periods
from planner.slo.selector import SelectorError, parse_selector

_label = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
_value = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(
    name=st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True),
    matchers=st.lists(st.tuples(_label, st.sampled_from(["=", "!="]), _value), max_size=4),
)
def test_render_then_parse_is_identity(name: str, matchers: list[tuple[str, str, str]]) -> None:
    text = (
        name
        + "{"
        + ",".join(
            f'{label}{op}"'
            + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            + '"'
            for label, op, value in matchers
        )
        + "}"
    )
    selector = parse_selector(text)
    assert selector.name == name
    assert [(m.label, m.op, m.value) for m in selector.matchers] == matchers
    assert parse_selector(selector.render()) == selector


def test_matching_follows_promql() -> None:
    sel = parse_selector('http_total{job="a", code=~"5..", path!~"/health.*", env!="dev"}')
    labels = {"job": "a", "code": "503", "path": "/v1", "env": "prod"}
    assert sel.matches("http_total", labels)
    assert not sel.matches("http_total", {**labels, "code": "5031"})  # regexes are anchored
    assert not sel.matches("http_total", {**labels, "path": "/healthz"})
    assert not sel.matches("other", labels)
    assert sel.matches("http_total", {**labels, "job": "b"}, ignore=frozenset({"job"}))
    # an absent label is the empty string, as in PromQL
    assert sel.matches("http_total", {"job": "a", "code": "500"})


@pytest.mark.parametrize(
    "text",
    ["sum(x)", "x[5m]", "x offset 5m", "x + y", '{job=""}', "", 'x{job="a"', 'x{1a="b"}'],
)
def test_not_a_plain_selector(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)


def test_periods_at_a_quarter_edge() -> None:
    at = datetime(2026, 5, 20, 6, tzinfo=UTC)
    month, quarter, ytd, rolling = report_periods(at, "30d")
    assert (month.start, month.end) == (
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert (quarter.start, quarter.end) == (
        datetime(2026, 4, 1, tzinfo=UTC),
        datetime(2026, 7, 1, tzinfo=UTC),
    )
    assert (ytd.start, ytd.end) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert rolling.label == "Last 30 days" and rolling.start == at - timedelta(days=30)
    assert rolling.elapsed_fraction == 1
    assert month.elapsed_fraction == pytest.approx((19 + 6 / 24) / 31)
    assert [p.label for p in report_periods(at, "calendar_month")] == [
        "This month",
        "This quarter",
        "YTD",
    ]
    assert report_periods(at, "28d")[-1].label == "Last 28 days"


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_calendar_periods_contain_at_and_nest(at: datetime) -> None:
    month, quarter, ytd, _ = report_periods(at, "30d")
    for p in (month, quarter, ytd):
        assert p.start <= at < p.end and p.start.day == 1 and p.start.hour == 0
        assert 0 <= p.elapsed_fraction < 1
    assert ytd.start <= quarter.start <= month.start
    assert quarter.start.month in (1, 4, 7, 10)
    assert month.end <= quarter.end <= ytd.end


def test_parse_time_forms() -> None:
    expected = datetime(2026, 5, 20, tzinfo=UTC)
    assert parse_time("2026-05-20T00:00:00Z") == expected
    assert parse_time("2026-05-20") == expected
    assert parse_time("2026-05-20T02:00:00+02:00") == expected
    assert parse_time(str(expected.timestamp())) == expected
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("last tuesday")
