"""The error budget left over the budget period, measured from a real Prometheus serving the
backfilled series of `test_sla_prometheus` (15-minute samples from 2026-02-01 to 2026-05-20,
known outages, a counter reset on 2026-04-20 12:00), and drawn in a real headless Chromium.

Every point sits on a multiple of its step, so on a sample (steps are multiples of 15 minutes
here): the events of (period start, t] are the generator's own, summed by hand, and the point
is 100 − 100 × bad / ((1 − objective) × total / elapsed share at t).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli import main
from planner.decode import decode
from planner.slo.budget_series import MAX_POINTS, grid
from tests.planner.slo.test_sla_prometheus import (
    DATA,
    END,
    RESTART,
    SPEC,
    START,
    _expected,
    _openmetrics,
)
from tests.servers import PrometheusServer, backfilled_prometheus, require_binary

DAY = 86400
#: The same SLIs with a calendar-month budget period.
CALENDAR_SPEC = SPEC.replace("tier: standard\n", "tier: standard\nslo_period: calendar_month\n")
#: An SLO whose selector's traffic is all zero first: the plan measures the first SLO.
IDLE_SPEC = SPEC.replace(
    "slos:\n",
    "slos:\n  - name: quiet\n    sli:\n"
    '      errors: \'http_server_request_duration_seconds_count{job="idle",code="500"}\'\n'
    "      total: 'http_server_request_duration_seconds_count{job=\"idle\"}'\n",
    1,
)


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------------- the grid


def test_grid_takes_the_smallest_round_step_within_the_bound() -> None:
    # (1000, 4000): the multiples of 60 s inside are 1020 … 3960, 50 of them, then `at`
    step, times = grid(1000.0, 4000.0)
    assert step == 60 and len(times) == 51
    assert times[0] == 1020.0 and times[-2] == 3960.0 and times[-1] == 4000.0
    # 30 days on a 12 h boundary: 59 multiples of 12 h inside, and `at` — 60 points
    begin, at = (END - timedelta(days=30)).timestamp(), END.timestamp()
    step, times = grid(begin, at)
    assert step == 12 * 3600 and len(times) == MAX_POINTS == 60
    assert times[0] == begin + 12 * 3600 and times[-2] == at - 12 * 3600
    # 30 days from 11:00: 60 multiples of 12 h inside, one too many; 1 d gives 30 and `at`
    begin = datetime(2026, 2, 8, 11, tzinfo=UTC).timestamp()
    step, times = grid(begin, begin + 30 * DAY)
    assert step == DAY and len(times) == 31
    assert times[0] == datetime(2026, 2, 9, tzinfo=UTC).timestamp()
    # two years: past the last round step (1 week), its doubles — 14 d gives 53 multiples
    step, times = grid(0.0, 730 * DAY)
    assert step == 14 * DAY and len(times) == 53
    # never more than the bound, always ending at `at`, on multiples of the step
    for span in (1.0, 59.0, 3600.0, 7 * DAY, 31 * DAY, 400 * DAY):
        step, times = grid(1.5e9 + 7, 1.5e9 + 7 + span)
        assert len(times) <= MAX_POINTS and times[-1] == 1.5e9 + 7 + span
        assert all(t % step == 0 for t in times[:-1])
    with pytest.raises(ValueError, match="at least 1"):
        grid(0.0, 10.0, 0)


# --------------------------------------------------------------------------- the measurement


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with backfilled_prometheus(tmp_path_factory.mktemp("budget-tsdb"), _openmetrics()) as server:
        yield server


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("budget-spec")
    out = {}
    for name, text in (("rolling", SPEC), ("calendar", CALENDAR_SPEC), ("idle", IDLE_SPEC)):
        out[name] = root / f"{name}.yaml"
        out[name].write_text(text)
    return out


def _sla(
    capsys: pytest.CaptureFixture[str], spec: Path, url: str, at: datetime
) -> dict[str, dict[str, Any]]:
    argv = ["sla", str(spec), "--prometheus", url, "--at", at.isoformat(), "--format", "json"]
    code = main(argv)
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    return {s["slo"].split("/")[1]: s for s in json.loads(out.out)}


def _check_points(series: dict[str, Any], begin: datetime, length: timedelta) -> None:
    """Every point against the generator's events of (begin, t], by hand."""
    for point in series["points"]:
        t = datetime.fromtimestamp(_ts(point["at"]), tz=UTC)
        errors, requests = _expected(begin, t)
        elapsed = (t - begin) / length
        remaining = point["remaining"]
        assert remaining["inputs"]["bad"] == errors and remaining["inputs"]["total"] == requests
        assert remaining["inputs"]["elapsed"] == pytest.approx(elapsed, rel=1e-12)
        expected = 100 - 100 * errors / (0.001 * requests / elapsed)
        assert remaining["value"] == pytest.approx(expected, rel=1e-9, abs=1e-9), point["at"]


def _row(section: dict[str, Any], period: str) -> dict[str, Any]:
    (row,) = [r for r in section["rows"] if r["period"] == period]
    return row


@pytest.mark.integration
def test_rolling_series_points_are_the_hand_counted_budget_left(
    prometheus: PrometheusServer, specs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    section = _sla(capsys, specs["rolling"], prometheus.url, END)["availability"]
    series = section["budget_series"]
    begin = END - timedelta(days=30)
    assert series["period"] == "Last 30 days" == section["budget_period"]
    assert series["start"] == "2026-04-20T00:00:00Z" and series["end"] == "2026-05-20T00:00:00Z"
    assert series["step_s"] == 12 * 3600
    times = [_ts(p["at"]) for p in series["points"]]
    assert times == [begin.timestamp() + k * 12 * 3600 for k in range(1, 61)]
    # the window holds the counter reset: points after it count across it
    assert any(t > RESTART.timestamp() for t in times)
    _check_points(series, begin, timedelta(days=30))
    # the May 5 and May 19 outages spend the budget: below zero at the end
    assert (
        series["points"][-1]["remaining"]["value"] < 0 < series["points"][0]["remaining"]["value"]
    )
    # the last point is the row: 100 − Budget Used, from the same events
    last, row = series["points"][-1]["remaining"], _row(section, "Last 30 days")
    assert last["value"] == pytest.approx(100 - row["budget_used"]["value"], rel=1e-12)
    assert (last["inputs"]["bad"], last["inputs"]["total"]) == (
        row["actual"]["inputs"]["bad"],
        row["actual"]["inputs"]["total"],
    )


@pytest.mark.integration
def test_calendar_month_and_late_data_series(
    prometheus: PrometheusServer, specs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # a calendar month: May so far (19 days, every 12 h: 37 points and now), out of 31 days
    section = _sla(capsys, specs["calendar"], prometheus.url, END)["availability"]
    series = section["budget_series"]
    may = datetime(2026, 5, 1, tzinfo=UTC)
    assert series["period"] == "This month" == section["budget_period"]
    assert series["end"] == "2026-06-01T00:00:00Z" and len(series["points"]) == 38
    _check_points(series, may, timedelta(days=31))
    row = _row(section, "This month")
    last = series["points"][-1]["remaining"]["value"]
    assert last == pytest.approx(100 - row["budget_used"]["value"], rel=1e-12)
    # one day after the data starts: the 30 days are measured from its first sample, every 30
    # minutes (47 points inside and now), and an even burn runs to 30 days after that
    at = START + timedelta(days=1)
    section = _sla(capsys, specs["rolling"], prometheus.url, at)["availability"]
    series = section["budget_series"]
    assert series["start"] == "2026-02-01T00:00:00Z" and series["end"] == "2026-03-03T00:00:00Z"
    assert series["step_s"] == 1800 and len(series["points"]) == 48
    _check_points(series, START, timedelta(days=30))
    row = _row(section, "Last 30 days")
    last = series["points"][-1]["remaining"]["value"]
    assert last == pytest.approx(100 - row["budget_used"]["value"], rel=1e-12)


@pytest.mark.integration
def test_probe_series_and_no_data(
    prometheus: PrometheusServer, specs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sections = _sla(capsys, specs["rolling"], prometheus.url, END)
    begin = END - timedelta(days=30)
    series = sections["uptime"]["budget_series"]
    for point in series["points"]:
        # probe samples in [begin, t] (the range holds both ends), bad: those that were 0
        t = _ts(point["at"])
        samples = [iv.probe_up for iv in DATA if begin.timestamp() <= iv.t <= t]
        inputs = point["remaining"]["inputs"]
        assert (inputs["bad"], inputs["total"]) == (len(samples) - sum(samples), len(samples))
    row = _row(sections["uptime"], "Last 30 days")
    last = series["points"][-1]["remaining"]["value"]
    assert last == pytest.approx(100 - row["budget_used"]["value"], rel=1e-12)
    # no traffic, no series: no point is invented
    for name in ("idle", "missing"):
        assert sections[name]["budget_series"] is None, name


@pytest.mark.integration
def test_the_plan_carries_the_series_in_json_yaml_and_text(
    prometheus: PrometheusServer,
    specs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    argv = ["plan", str(specs["rolling"]), "--prometheus", prometheus.url, "--at", END.isoformat()]
    assert main([*argv, "-f", "json"]) == 0
    series = decode(json.loads(capsys.readouterr().out))["report"]["sla"]["budget_series"]
    assert main([*argv, "-f", "yaml", "-o", str(tmp_path / "plan.yaml")]) == 0
    capsys.readouterr()
    loaded = decode(yaml.safe_load((tmp_path / "plan.yaml").read_text()))
    assert loaded["report"]["sla"]["budget_series"] == series
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    now = series["points"][-1]["remaining"]["value"]
    first = series["points"][0]["remaining"]["value"]
    # the text gives the first point and now, as the chart's text alternative does
    said = re.search(
        r"every 12h: (-?[\d.]+)% at 2026-04-20T12:00:00Z, (-?[\d.]+)% now \(2026-05-20T00:00:00Z\)",
        text,
    )
    assert said, text
    assert float(said.group(1)) == pytest.approx(first, abs=0.05)
    assert float(said.group(2)) == pytest.approx(now, abs=0.05)
    assert "an even burn would have spent all of it by 2026-05-20T00:00:00Z" in text


# ------------------------------------------------------------------------------ the browser


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_the_measured_report_shows_the_chart_in_chromium(
    prometheus: PrometheusServer, specs: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.common.by import By

    from examples.reports import CHROMEDRIVER, CHROMIUM, chromium
    from tests.png import pixels

    require_binary(CHROMIUM)
    require_binary(CHROMEDRIVER)
    at = ["--prometheus", prometheus.url, "--at", END.isoformat(), "-f", "html"]
    assert main(["plan", str(specs["rolling"]), *at, "-o", f"{tmp_path}/measured/"]) == 0
    assert main(["plan", str(specs["idle"]), *at, "-o", f"{tmp_path}/idle/"]) == 0
    assert main(["plan", str(specs["rolling"]), "-f", "html", "-o", f"{tmp_path}/plain/"]) == 0
    with chromium() as browser:
        browser.get((tmp_path / "measured" / "index.html").as_uri())
        assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
        chart = browser.find_element(By.CSS_SELECTOR, "svg.budget-series")
        size = chart.size
        assert size["width"] > 300 and size["height"] > 150, size
        browser.execute_script("arguments[0].scrollIntoView()", chart)
        width, height, counts = pixels(chart.screenshot_as_png)
        _background, most = counts.most_common(1)[0]
        drawn = 1 - most / sum(counts.values())
        assert width > 0 and height > 0 and len(counts) > 20 and drawn > 0.03, (len(counts), drawn)
        # the line has one vertex per point; the table under it one row per point
        vertices = browser.execute_script(
            "return document.querySelector('svg.budget-series polyline').points.numberOfItems"
        )
        rows = browser.find_elements(By.CSS_SELECTOR, "details.chart-data tbody tr")
        assert vertices == len(rows) == 60
        desc = chart.find_element(By.TAG_NAME, "desc").get_attribute("textContent")
        assert "now (2026-05-20T00:00:00Z)" in desc
        # printing opens the table
        browser.execute_script("window.dispatchEvent(new Event('beforeprint'))")
        assert browser.execute_script("return document.querySelector('details.chart-data').open")
        # measured without traffic, and not measured: no chart
        for name in ("idle", "plain"):
            browser.get((tmp_path / name / "index.html").as_uri())
            assert browser.find_elements(By.CSS_SELECTOR, "svg.budget-series") == [], name
