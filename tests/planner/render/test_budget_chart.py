"""The error budget over the period, drawn from a hand-made series: the SVG chart's geometry and
text alternative, its table, the text and markdown figures, and no chart without a series.

Geometry of the chart (`planner.render.svg_budget`): the plot spans x 64…610 (546 px) over
[start, max(end, now)] and y 28…264 (236 px) over [bottom, 100 %].
"""

from __future__ import annotations

import dataclasses
import re

from planner.model import BudgetPoint, BudgetSeries, Figure, Plan
from planner.render import render_plan
from planner.render.html import render_html
from planner.render.pictures import budget_picture
from tests.render_plans import sample_plan

#: November 2026 so far, measured at 2026-11-25T17:00:00Z (sample_plan's `measured_at`).
POINTS = (("2026-11-06T00:00:00Z", 95.0), ("2026-11-16T00:00:00Z", 70.0))
NOW = "2026-11-25T17:00:00Z"


def _plan(values: tuple[tuple[str, float], ...] = POINTS, now: float = 50.0) -> Plan:
    plan = sample_plan(sla=True)
    assert plan.sla is not None
    points = tuple(BudgetPoint(at, Figure(v, "%", "test", {})) for at, v in (*values, (NOW, now)))
    series = BudgetSeries(
        "This month", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", 86400, points
    )
    return dataclasses.replace(plan, sla=dataclasses.replace(plan.sla, budget_series=series))


def _chart(page: str) -> str:
    match = re.search(r'<svg class="picture budget-series".*?</svg>', page, re.S)
    assert match, "no budget-series chart"
    return match.group(0)


def test_the_chart_draws_the_points_the_even_burn_and_now_where_hand_computed() -> None:
    svg = _chart(render_html(_plan()))
    # x = 64 + 546 × days since Nov 1 / 30; y = 28 + 236 × (100 − left) / 100
    # Nov 6: (155.0, 39.8); Nov 16: (337.0, 98.8); now, 24 d 17 h in: (513.7, 146.0)
    assert re.search(r'<polyline class="budget-line tone-good" points="([^"]+)"', svg).group(1) == (
        "155.0,39.8 337.0,98.8 513.7,146.0"
    )
    assert '<circle class="now tone-good" cx="513.7" cy="146.0" r="5">' in svg
    # the even burn: 100 % at the start (64, 28), 0 % at the period's end (610, 264)
    assert '<line class="ideal" x1="64.0" y1="28.0" x2="610.0" y2="264.0">' in svg
    # the lowest point is 50 %: the scale is 0…100 % in steps of 20, 0 % drawn as the zero line
    ticks = re.findall(r'text-anchor="end">(-?\d+)%</text>', svg)
    assert ticks == ["100", "80", "60", "40", "20", "0"]
    assert svg.count('class="zero"') == 1
    # both axes say what they measure; five dates along the time axis
    assert "Time (UTC)" in svg and "Budget left (% of the period)" in svg
    assert re.findall(r'text-anchor="middle">(\w{3} \d\d)</text>', svg) == [
        "Nov 01",
        "Nov 08",
        "Nov 16",
        "Nov 23",
        "Dec 01",
    ]
    assert "now 50%" in svg


def test_the_text_alternative_and_the_table_state_the_figures() -> None:
    page = render_html(_plan())
    svg = _chart(page)
    # even burn now: 100 × (1 − 24.7083 d / 30 d) = 17.64 %
    alt = (
        "Error budget left in this month, counted from 2026-11-01T00:00:00Z every 1d: "
        "95% at 2026-11-06T00:00:00Z, 50% now (2026-11-25T17:00:00Z); an even burn would "
        "leave 17.6% now and spend the last of it at 2026-12-01T00:00:00Z."
    )
    assert f'<title id="budget-series-title">{alt}</title><desc>{alt}</desc>' in svg
    assert 'role="img"' in svg and 'aria-labelledby="budget-series-title"' in svg
    table = re.search(r'<details class="chart-data">.*?</details>', page, re.S)
    assert table
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", table.group(0))
    # even burn at Nov 6: 100 × (1 − 5/30); at Nov 16: 100 × (1 − 15/30)
    assert rows == [
        ("2026-11-06T00:00:00Z", "95%", "83.3%"),
        ("2026-11-16T00:00:00Z", "70%", "50%"),
        ("2026-11-25T17:00:00Z", "50%", "17.6%"),
    ]


def test_text_and_markdown_print_the_figures_and_a_sparkline() -> None:
    plan = _plan()
    picture = budget_picture(plan.sla)
    assert picture is not None
    # 8 levels over 0…100 %: 95 → round(6.65) = 7 █, 70 → round(4.9) = 5 ▆, 50 → round(3.5) = 4 ▅
    assert picture.sparkline() == "█▆▅"
    for fmt in ("text", "markdown"):
        out = " ".join(render_plan(plan, fmt).split())  # unwrapped
        assert "50% now (2026-11-25T17:00:00Z)" in out, fmt
        assert "leave 17.6% now" in out and "█▆▅" in out, fmt


def test_an_overspent_budget_scales_below_zero_and_turns_red() -> None:
    plan = _plan(now=-130.0)
    assert plan.sla is not None
    rows = (dataclasses.replace(plan.sla.rows[0], status="Breached"), *plan.sla.rows[1:])
    plan = dataclasses.replace(plan, sla=dataclasses.replace(plan.sla, rows=rows))
    svg = _chart(render_html(plan))
    # 100 − (−130) = 230 % of range: steps of 50, down to floor(−130 / 50) × 50 = −150 %
    ticks = re.findall(r'text-anchor="end">(-?\d+)%</text>', svg)
    assert ticks == ["100", "50", "0", "-50", "-100", "-150"]
    # y = 28 + 236 × (100 − v) / 250: now (−130 %) at 245.1, the zero line at 122.4
    assert '<circle class="now tone-bad" cx="513.7" cy="245.1" r="5">' in svg
    assert '<line class="zero" x1="64.0" y1="122.4"' in svg
    assert "now -130%" in svg


def test_no_series_draws_no_chart() -> None:
    for plan in (sample_plan(), sample_plan(sla=True)):  # not measured; measured, no series
        page = render_html(plan)
        assert '<svg class="picture budget-series"' not in page
        assert '<details class="chart-data">' not in page
        assert "Error budget left in" not in render_plan(plan, "text")
        assert budget_picture(plan.sla) is None
