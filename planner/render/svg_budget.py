"""The error budget over the period as an SVG line chart (drawn from `pictures.BudgetPicture`).

Budget left (percent of the period's budget) against time (UTC) from where the period is
measured to where an even burn spends the last of it: the measured line, the even-burn line
from 100 % to 0 %, and the measurement as a marked point. Below 0 % the budget is overspent;
the scale then reaches down to the lowest point.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from planner.render import figures as fmt
from planner.render.pictures import BudgetPicture, budget_left
from planner.render.status import tone as status_tone
from planner.render.svg import e, svg

__all__ = ["budget_svg"]

_WIDTH, _HEIGHT = 720.0, 320.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 64.0, 110.0, 28.0, 56.0
#: Percent steps the vertical axis ticks on: the smallest that keeps at most six ticks.
_TICK_STEPS = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)


def _y_ticks(lowest: float) -> tuple[float, list[float]]:
    """(bottom of the scale, tick values) from 100 % down past `lowest` (0 % at least)."""
    reach = 100.0 - min(0.0, lowest)
    step: float = next((s for s in _TICK_STEPS if reach / s <= 5), 0)
    if not step:
        step = 10 ** math.ceil(math.log10(reach / 5))
    bottom = min(0.0, math.floor(lowest / step) * step)
    count = round((100.0 - bottom) / step)
    return bottom, [100.0 - k * step for k in range(count + 1)]


def _time_label(ts: float, span: float) -> str:
    when = datetime.fromtimestamp(ts, tz=UTC)
    return when.strftime("%b %d") if span >= 2 * 86400 else when.strftime("%b %d %H:%M")


def budget_svg(picture: BudgetPicture, alt: str) -> str:
    """The chart: axes labelled, the even burn dashed, the measured line, the point now."""
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    t0, t1 = picture.start, max(picture.end, picture.now[0])
    bottom, ticks = _y_ticks(min(v for _t, v in picture.points))

    def x(t: float) -> float:
        return _LEFT + plot_w * (t - t0) / (t1 - t0) if t1 > t0 else _LEFT

    def y(v: float) -> float:
        return _TOP + plot_h * (100.0 - v) / (100.0 - bottom)

    body = []
    for tick in ticks:
        cls = "zero" if tick == 0 else "grid"
        body.append(
            f'<line class="{cls}" x1="{_LEFT}" y1="{y(tick):.1f}" x2="{_LEFT + plot_w}" '
            f'y2="{y(tick):.1f}"/><text class="axis" x="{_LEFT - 8}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{e(fmt.share(tick))}</text>'
        )
    base = _TOP + plot_h
    for k in range(5):
        t = t0 + k * (t1 - t0) / 4
        body.append(
            f'<line class="tick" x1="{x(t):.1f}" y1="{base}" x2="{x(t):.1f}" y2="{base + 5}"/>'
            f'<text class="axis" x="{x(t):.1f}" y="{base + 19}" text-anchor="middle">'
            f"{e(_time_label(t, t1 - t0))}</text>"
        )
    body.append(
        f'<line class="axis-line" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{base}"/>'
        f'<line class="axis-line" x1="{_LEFT}" y1="{base}" x2="{_LEFT + plot_w}" y2="{base}"/>'
        f'<text class="axis" x="{_LEFT + plot_w / 2}" y="{_HEIGHT - 10}" text-anchor="middle">'
        "Time (UTC)</text>"
        f'<text class="axis" x="16" y="{_TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_TOP + plot_h / 2})">Budget left (% of the period)</text>'
    )
    ideal_end = picture.end
    body.append(
        f'<line class="ideal" x1="{x(t0):.1f}" y1="{y(100):.1f}" x2="{x(ideal_end):.1f}" '
        f'y2="{y(picture.ideal(ideal_end)):.1f}"><title>Even burn: 100% at '
        f"{e(_time_label(t0, 0))}, 0% at {e(_time_label(ideal_end, 0))}</title></line>"
    )
    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in picture.points)
    tone = status_tone(picture.status) or "muted"
    now_t, now_v = picture.now
    body.append(
        f'<polyline class="budget-line tone-{tone}" points="{line}"/>'
        f'<circle class="now tone-{tone}" cx="{x(now_t):.1f}" cy="{y(now_v):.1f}" r="5">'
        f"<title>Now: {e(budget_left(now_v))} of the budget left</title></circle>"
        f'<text class="now-label" x="{x(now_t) + 9:.1f}" y="{y(now_v) + 4:.1f}">'
        f"now {e(budget_left(now_v))}</text>"
    )
    legend_x = _LEFT + plot_w + 16
    body.append(
        f'<line class="budget-line tone-{tone}" x1="{legend_x}" y1="{_TOP + 6}" '
        f'x2="{legend_x + 22}" y2="{_TOP + 6}"/>'
        f'<text class="sub" x="{legend_x + 28}" y="{_TOP + 10}">measured</text>'
        f'<line class="ideal" x1="{legend_x}" y1="{_TOP + 26}" x2="{legend_x + 22}" '
        f'y2="{_TOP + 26}"/><text class="sub" x="{legend_x + 28}" y="{_TOP + 30}">even burn</text>'
    )
    return svg("budget-series", _WIDTH, _HEIGHT, alt, "".join(body))
