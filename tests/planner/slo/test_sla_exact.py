"""`reliability sla` against a real Prometheus holding traffic the way real scrapes see it.

The generator decides, second by second, how many requests each of two instances served and how
many failed; the "scrapes" sample the cumulative counters every 60 s at :17 past the minute (so
no period boundary falls on a sample), as a Prometheus would:

- an outage of instance a from 2026-03-31 23:20 to 2026-04-01 00:50, across the month and the
  quarter boundary, with a process restart (counter reset) inside it at 00:10:40; its success
  series is absent from the restart until the first success after the outage (prometheus-client
  creates a labelled child on first use);
- instance b starts at 2026-04-03 12:00:05 and is first scraped at 12:10:17 (a late target),
  its counters already holding ten minutes of requests; its error series is born in the
  second outage (2026-04-05 10:00–11:00, one second in five failing);
- Prometheus is down 2026-04-07 02:59:17 – 03:47:17: no samples for 47 minutes, while the
  counters keep counting.

`promtool tsdb create-blocks-from openmetrics` writes the blocks; Prometheus serves them. Every
expected figure is summed from the generator's own per-second events, never from PromQL.

Tolerance: the report splits the one scrape interval that straddles each edge of a range at
that interval's own rate (DESIGN: "period edges exact"); the truth and the estimate of that
part both lie between 0 and the interval's events, so they differ by at most the events of the
straddling intervals (`_edge_slack`), which the generator computes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from planner.cli import main
from tests.servers import PrometheusServer, backfilled_prometheus

pytestmark = pytest.mark.integration

METRIC = "http_server_request_duration_seconds_count"
SCRAPE = 60
OFFSET = 17  # scrapes at :17 past each minute: no boundary sits on a sample


def _ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


DATA_START = _ts(2026, 3, 25) + OFFSET
DATA_END = _ts(2026, 4, 9) + OFFSET
OUTAGE_1 = (_ts(2026, 3, 31, 23, 20), _ts(2026, 4, 1, 0, 50))  # instance a, every request fails
RESTART_A = _ts(2026, 4, 1, 0, 10, 40)  # instance a restarts: counters from zero
B_STARTS = _ts(2026, 4, 3, 12, 0, 5)
B_FIRST_SCRAPE = _ts(2026, 4, 3, 12, 10, 17)
OUTAGE_2 = (_ts(2026, 4, 5, 10), _ts(2026, 4, 5, 11))  # both instances, one second in five fails
GAP = (_ts(2026, 4, 7, 2, 59, 17), _ts(2026, 4, 7, 3, 47, 17))  # last sample before, first after

SPEC = f"""\
version: 1
system: gateway
tier: standard
components:
  - {{name: gateway, kind: service, entry_point: true, availability: 99.95}}
slos:
  - name: availability
    sli:
      errors: '{METRIC}{{job="gateway",code=~"5.."}}'
      total: '{METRIC}{{job="gateway"}}'
  - name: typo
    sli:
      errors: '{METRIC}{{job="gatewya",code=~"5.."}}'
      total: '{METRIC}{{job="gatewya"}}'
"""


def _requests(instance: str, t: int) -> int:
    """Requests instance `instance` served in the second ending at t (uneven, minute by minute)."""
    if instance == "a":
        return 1 + (t // 60) % 4
    return 2 + (t // 90) % 3 if t >= B_STARTS else 0


def _errors(instance: str, t: int, requests: int) -> int:
    if instance == "a" and OUTAGE_1[0] < t <= OUTAGE_1[1]:
        return requests
    if OUTAGE_2[0] < t <= OUTAGE_2[1] and t % 5 == 0:
        return requests
    if instance == "a" and t % 7919 == 0:
        return 1
    return 0


# per-second truth of both instances, as running totals from BASE: index i holds (BASE, BASE + i]
BASE = DATA_START - 3600


@functools.cache
def _running_totals() -> tuple[list[int], list[int]]:
    """(requests, errors) running totals, built on first use (not when the suite is collected)."""
    requests, errors = [0], [0]
    for t in range(BASE + 1, DATA_END + 1):
        ra, rb = _requests("a", t), _requests("b", t)
        requests.append(requests[-1] + ra + rb)
        errors.append(errors[-1] + _errors("a", t, ra) + _errors("b", t, rb))
    return requests, errors


def _truth(lo: int | float, hi: int | float) -> tuple[int, int]:
    """(errors, requests) of both instances in (lo, hi], less what no scrape can ever see."""
    i, j = int(lo) - BASE, int(hi) - BASE
    running_requests, running_errors = _running_totals()
    errors = running_errors[j] - running_errors[i]
    requests = running_requests[j] - running_requests[i]
    if lo < RESTART_A <= hi:
        # what instance a counted after its last scrape and before it restarted died with it:
        # no count from scrapes can hold these (they never reached a /metrics answer)
        last_scrape = (RESTART_A - OFFSET) // SCRAPE * SCRAPE + OFFSET
        lost = range(max(int(lo), last_scrape) + 1, RESTART_A + 1)
        requests -= sum(_requests("a", t) for t in lost)
        errors -= sum(_errors("a", t, _requests("a", t)) for t in lost)
    return errors, requests


def _figure_range(
    figure: object, bad: tuple[float, float], total: tuple[float, float]
) -> tuple[float, float]:
    """The least and greatest value of figure(bad, total) over the corners of the slack box
    (every figure here is monotone in each count)."""
    assert callable(figure)
    values = [figure(b, t) for b in bad for t in total]
    return min(values), max(values)


def _straddle(t: float) -> tuple[int, int]:
    """The scrape interval around t: (previous sample, next sample)."""
    prev = (int(t) - OFFSET) // SCRAPE * SCRAPE + OFFSET
    if GAP[0] < t < GAP[1]:
        return GAP
    return prev, prev + SCRAPE


def _edge_slack(*edges: float) -> tuple[int, int]:
    """The events of the scrape intervals straddling `edges`: the report's bound at each edge."""
    errors = requests = 0
    for t in edges:
        lo, hi = _straddle(t)
        if lo < t < hi and hi <= DATA_END:
            e, r = _truth(lo, hi)
            errors, requests = errors + e, requests + r
    return errors, requests


def _openmetrics() -> str:
    series: dict[tuple[str, str], list[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    for t in range(DATA_START - 3600 + 1, DATA_END + 1):
        for inst in ("a", "b"):
            if inst == "a" and t == RESTART_A + 1:
                counts.pop(("a", "200"), None)  # the new process has no children yet
                counts.pop(("a", "503"), None)
            r = _requests(inst, t)
            e = _errors(inst, t, r)
            for code, n in (("200", r - e), ("503", e)):
                if n:
                    counts[(inst, code)] = counts.get((inst, code), 0) + n
        if (t - OFFSET) % SCRAPE or GAP[0] < t < GAP[1] or t < DATA_START:
            continue
        for (inst, code), value in counts.items():
            if inst == "b" and t < B_FIRST_SCRAPE:
                continue
            labels = f'job="gateway",instance="{inst}",code="{code}"'
            series.setdefault((inst, code), []).append(f"{METRIC}{{{labels}}} {value} {t}")
    lines = [f"# TYPE {METRIC} unknown"]
    for key in sorted(series):
        lines.extend(series[key])
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    root = tmp_path_factory.mktemp("sla-exact")
    with backfilled_prometheus(root, _openmetrics()) as server:
        yield server


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sla-exact-spec") / "system.yaml"
    path.write_text(SPEC)
    return path


def _sla(
    capsys: pytest.CaptureFixture[str], spec: Path, url: str, at: float, *extra: str
) -> dict[str, Any]:
    argv = ["sla", str(spec), "--prometheus", url, "--at", str(at), "--format", "json"]
    code = main([*argv, "--slo", "availability", *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    (section,) = json.loads(out.out)
    assert isinstance(section, dict)
    return section


def _rows(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = section["rows"]
    assert isinstance(rows, list)
    return {r["period"]: r for r in rows}


AT = _ts(2026, 4, 8)  # between two samples (23:59:17 and 00:00:17)
APRIL = _ts(2026, 4, 1)


def test_every_figure_matches_the_generated_events(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    section = _sla(capsys, spec_path, prometheus.url, AT)
    rows = _rows(section)
    starts = {
        "This month": APRIL,  # the boundary falls inside the outage of instance a
        "This quarter": APRIL,
        "YTD": DATA_START,  # measured from where the data starts
        "Last 30 days": DATA_START,
    }
    for label, start in starts.items():
        errors, requests = _truth(start, AT)
        slack_errors, slack_requests = _edge_slack(start, AT)
        actual = rows[label]["actual"]
        assert isinstance(actual, dict)
        # the outage's errors across the boundary, the reset inside it, the late instance's
        # first ten minutes and the events during the scrape gap: all counted
        assert actual["inputs"]["bad"] == pytest.approx(errors, abs=slack_errors + 1e-6), label
        assert actual["inputs"]["total"] == pytest.approx(requests, abs=slack_requests), label
        # increase() counts the late instance from its first scrape: it would lose more than
        # the slack (so this test fails on a count that does)
        assert slack_requests < _truth(B_STARTS - 1, B_FIRST_SCRAPE)[1]
    month = rows["This month"]
    errors, requests = _truth(APRIL, AT)
    elapsed = (AT - APRIL) / (30 * 86400)
    pace = 100 * (errors / requests) / 0.001
    assert month["pace"]["value"] == pytest.approx(pace, rel=0.02)
    assert month["budget_used"]["value"] == pytest.approx(pace * elapsed, rel=0.02)
    # YTD's elapsed share counts from when the data starts, not from 1 January
    ytd = rows["YTD"]
    ytd_elapsed = (AT - DATA_START) / (_ts(2027, 1, 1) - DATA_START)
    assert ytd["budget_used"]["value"] == pytest.approx(
        ytd["pace"]["value"] * ytd_elapsed,
        rel=1e-9,
    )
    assert ytd["measured_from"] == "2026-03-25T00:00:17Z"
    assert (
        "YTD and Last 30 days are measured from 2026-03-25T00:00:17Z, where the data starts:"
        " elapsed shares and budgets count from there"
    ) in section["notes"]
    # so is the rolling period the data does not yet span: 14 of its 30 days
    rolling = rows["Last 30 days"]
    assert rolling["budget_used"]["value"] == pytest.approx(
        rolling["pace"]["value"] * (AT - DATA_START) / (30 * 86400), rel=1e-9
    )


def test_the_scrape_gap_shows_in_coverage_and_where_it_is(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    section = _sla(capsys, spec_path, prometheus.url, AT)
    month = _rows(section)["This month"]
    missing = GAP[1] - GAP[0] - SCRAPE  # 47 minutes without a scrape
    expected = 100 * (1 - missing / (AT - APRIL))
    # one scrape interval of slack: the period's edges fall between samples
    assert month["coverage"]["value"] == pytest.approx(expected, abs=100 * SCRAPE / (AT - APRIL))
    assert month["coverage"]["value"] < 99.6
    assert section["gaps"] == [
        "2026-04-07T02:59:17Z – 2026-04-07T03:47:17Z (47 min without samples)"
    ]


def test_burn_rates_are_taken_at_at_with_their_events(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = DATA_END + 1800  # half an hour after the last sample
    section = _sla(capsys, spec_path, prometheus.url, at)
    one_hour = section["burn_rates"]["1h"]
    # the window is the hour before --at: only its first half has data
    errors, requests = _truth(at - 3600, DATA_END)
    slack_errors, slack_requests = _edge_slack(at - 3600)
    assert one_hour["inputs"]["total"] == pytest.approx(requests, abs=slack_requests)
    assert one_hour["inputs"]["bad"] == pytest.approx(errors, abs=slack_errors + 1e-6)
    assert one_hour["inputs"]["to"] == "2026-04-09T00:30:17Z"


def test_mid_outage_across_the_month_boundary(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = _ts(2026, 4, 1, 0, 30)  # after the restart, still inside the outage
    section = _sla(capsys, spec_path, prometheus.url, at)
    month = _rows(section)["This month"]
    errors, requests = _truth(APRIL, at)
    slack_errors, slack_requests = _edge_slack(APRIL, at)
    assert errors == requests  # every request of April so far failed
    assert month["actual"]["inputs"]["bad"] == pytest.approx(errors, abs=slack_errors)
    assert month["actual"]["inputs"]["total"] == pytest.approx(requests, abs=slack_requests)
    # each figure lies where the truth puts it, given the counts' slack at the two edges
    bad = (errors - slack_errors, errors + slack_errors)
    total = (requests - slack_requests, requests + slack_requests)
    elapsed = (at - APRIL) / (30 * 86400)

    def within(value: object, figure: object, b: tuple[float, float] = bad) -> None:
        lo, hi = _figure_range(figure, b, total)
        assert isinstance(value, float)
        assert lo - 1e-9 <= value <= hi + 1e-9, (value, lo, hi)

    # budget used: of April's whole budget, 0.1 % of the traffic April sees at its pace so far
    within(month["budget_used"]["value"], lambda b, t: 100 * b / (0.001 * t / elapsed))
    # the minutes of full outage left are clock minutes at the last hour's traffic
    left = month["remaining_minutes"]
    assert isinstance(left, dict)
    assert left["inputs"]["basis"] == "the last hour's traffic"
    hour_errors, hour = _truth(at - 3600, at)
    hour_slack_errors, hour_slack = _edge_slack(at - 3600, at)
    per_minute = left["inputs"]["events_per_minute"]
    assert hour - hour_slack <= per_minute * 60 <= hour + hour_slack
    within(left["value"], lambda b, t: (0.001 * t / elapsed - b) / per_minute)
    # at the last hour's burn the rest goes long before April ends
    bad_per_second = month["exhaustion"]["inputs"]["bad_per_second"]
    assert (
        hour_errors - hour_slack_errors <= bad_per_second * 3600 <= hour_errors + hour_slack_errors
    )
    within(
        month["exhaustion"]["value"],
        lambda b, t: (0.001 * t / elapsed - b) / bad_per_second,
    )
    assert month["status"] == "Risk"


def test_projections_stay_inside_the_period(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = _ts(2026, 4, 5, 10, 30)  # inside the mild outage: 20 % errors
    section = _sla(capsys, spec_path, prometheus.url, at)
    for row in _rows(section).values():
        exhaustion = row["exhaustion"]
        if exhaustion is not None:
            assert isinstance(exhaustion, dict)
            ends = datetime.fromisoformat(str(row["ends"]))
            horizon = ends.timestamp() if row["period"] != "Last 30 days" else at + 30 * 86400
            assert at + exhaustion["value"] <= horizon
        else:
            assert row["exhaustion_note"], row["period"]
    # 20 % errors run every budget out soon: the quarter's within a day, say
    assert _rows(section)["This quarter"]["exhaustion"]["value"] < 86400
    # a single background error in the last hour does not run out the quarter's budget before
    # the quarter ends: said so, no "in 59d" past its end
    quiet = AT // 7919 * 7919 + 600  # ten minutes after a background error
    section = _sla(capsys, spec_path, prometheus.url, quiet)
    quarter = _rows(section)["This quarter"]
    assert quarter["exhaustion"] is None
    assert quarter["exhaustion_note"] == (
        "not before the period ends (2026-07-01T00:00:00Z) at the 1h burn"
    )
    assert section["burn_rates"]["1h"]["inputs"]["bad"] == pytest.approx(1.0)


def test_check_fails_on_a_selector_that_matches_nothing(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sla", str(spec_path), "--prometheus", prometheus.url, "--at", str(AT), "--check"]
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    typo = [line for line in err if "gateway/typo" in line]
    assert len(typo) == 1 and "no data in last 30 days" in typo[0] and "gatewya" in typo[0]
    # without --check the report still says "no data" and exits 0
    assert main(argv[:-1]) == 0
    assert "no data" in capsys.readouterr().out


def test_at_before_the_data_is_flagged_and_fails_the_check(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = DATA_START - 7 * 86400
    argv = ["sla", str(spec_path), "--prometheus", prometheus.url, "--at", str(before)]
    assert main([*argv, "--slo", "availability", "--check"]) == 1
    out, err = capsys.readouterr()
    assert "Note: no samples of http_server_request_duration_seconds_count{job=" in out
    assert "No data" in out and "100%" not in out
    assert err.count("\n") == 1 and "gateway/availability: no data in last 30 days" in err


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("inf", "unix seconds"),
        ("1e30", "unix seconds"),
        ("-86400", "unix seconds"),
        ("1969-12-31T00:00:00Z", "1970"),
        ((datetime.now(UTC) + timedelta(days=1)).isoformat(), "in the future"),
    ],
)
def test_bad_at_is_one_line_and_exit_2(
    spec_path: Path, capsys: pytest.CaptureFixture[str], at: str, says: str
) -> None:
    code = main(["sla", str(spec_path), "--prometheus", "http://127.0.0.1:9", "--at", at])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "reliability: error: --at: " in err and says in err
