"""`reliability sla` against a real Prometheus holding > 90 days of known, backfilled series.

The generator writes 15-minute samples from 2026-02-01 to 2026-05-20 with known outages and one
counter reset (a process restart), `promtool tsdb create-blocks-from openmetrics` turns them into
TSDB blocks, and Prometheus serves them. The expected availabilities are computed here from the
generator's own per-interval events, independently of PromQL.

Why the figures are exact here: samples sit on a 15-minute grid (aligned to the epoch, so on
every month, quarter and year boundary) and `--at` is on the grid, so no scrape interval
straddles a period edge; the SLA code counts from the raw counter samples, and a counter reset
adds the new value as the events since the restart, exactly as the generator counts them.
(`tests/planner/slo/test_sla_exact.py` covers edges between samples, late instances and
scrape gaps.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.cli import main
from tests.servers import PrometheusServer, backfilled_prometheus, free_port

STEP = 900  # seconds between samples
START = datetime(2026, 2, 1, tzinfo=UTC)
END = datetime(2026, 5, 20, tzinfo=UTC)
RESTART = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)  # counters reset to 0 here
METRIC = "http_server_request_duration_seconds_count"
LABELS = 'job="gateway",http_request_method="POST",http_route="/v1/chat"'

#: (start, end, share of requests that fail) — errors in the intervals ending in (start, end].
OUTAGES = (
    (datetime(2026, 3, 10, 10, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC), 1.0),
    (datetime(2026, 4, 15, 0, tzinfo=UTC), datetime(2026, 4, 15, 6, tzinfo=UTC), 0.1),
    (datetime(2026, 5, 5, 14, tzinfo=UTC), datetime(2026, 5, 5, 14, 30, tzinfo=UTC), 1.0),
    (datetime(2026, 5, 19, 22, tzinfo=UTC), datetime(2026, 5, 20, 0, tzinfo=UTC), 0.5),
)

SPEC = """\
version: 1
system: gateway
tier: standard
components:
  - {name: gateway, kind: service, entry_point: true, availability: 99.95}
slos:
  - name: availability
    sli:
      errors: 'METRIC{job="gateway",http_response_status_code=~"5.."}'
      total: 'METRIC{job="gateway"}'
  - name: good-requests
    objective: 99.5
    sli:
      good: 'METRIC{job="gateway",http_response_status_code=~"2.."}'
      total: 'METRIC{job="gateway"}'
  - name: uptime
    sli:
      probe: 'probe_success{job="gateway"}'
  - name: idle
    sli:
      errors: 'METRIC{job="idle",http_response_status_code=~"5.."}'
      total: 'METRIC{job="idle"}'
  - name: missing
    sli:
      errors: 'nothing_total{job="nowhere",code="500"}'
      total: 'nothing_total{job="nowhere"}'
""".replace("METRIC", METRIC)


@dataclass(frozen=True)
class Interval:
    """Events in (t - STEP, t]."""

    t: int
    requests: int
    errors: int
    probe_up: int  # the probe sample at t


def _generate() -> list[Interval]:
    out = []
    t0, t1 = int(START.timestamp()), int(END.timestamp())
    for i, t in enumerate(range(t0, t1 + 1, STEP)):
        requests = 600 + 37 * (i % 11)  # uneven traffic: event weighting matters
        errors = 1 if i % 97 == 0 else 0
        probe_up = 1
        for start, end, share in OUTAGES:
            if start.timestamp() < t <= end.timestamp():
                errors = round(requests * share)
                probe_up = 0 if share == 1.0 else probe_up
        out.append(Interval(t, requests if i else 0, errors if i else 0, probe_up))
    return out


DATA = _generate()


def _openmetrics() -> str:
    restart = int(RESTART.timestamp())
    ok_total = err_total = 0
    ok_lines, err_lines, probe_lines, idle_lines = [], [], [], []
    for iv in DATA:
        if iv.t == restart:
            ok_total = err_total = 0  # the process restarted: its counters start over
        ok_total += iv.requests - iv.errors
        err_total += iv.errors
        ok_lines.append(f'{METRIC}{{{LABELS},http_response_status_code="200"}} {ok_total} {iv.t}')
        err_lines.append(f'{METRIC}{{{LABELS},http_response_status_code="503"}} {err_total} {iv.t}')
        probe_lines.append(f'probe_success{{job="gateway"}} {iv.probe_up} {iv.t}')
        idle_lines.append(f'{METRIC}{{job="idle",http_response_status_code="200"}} 42 {iv.t}')
    return "\n".join(
        [
            f"# TYPE {METRIC} unknown",
            *ok_lines,
            *err_lines,
            *idle_lines,
            "# TYPE probe_success gauge",
            *probe_lines,
            "# EOF",
            "",
        ]
    )


def _expected(start: datetime, end: datetime) -> tuple[float, float]:
    """(errors, requests) in (start, end] from the generator."""
    lo, hi = start.timestamp(), end.timestamp()
    sel = [iv for iv in DATA if lo < iv.t <= hi]
    return float(sum(iv.errors for iv in sel)), float(sum(iv.requests for iv in sel))


def _expected_probe(start: datetime, end: datetime) -> float:
    """Share of probe samples in [start, end] that were up (the range includes both edges)."""
    lo, hi = start.timestamp(), end.timestamp()
    sel = [iv.probe_up for iv in DATA if lo <= iv.t <= hi]
    return sum(sel) / len(sel)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    root = tmp_path_factory.mktemp("sla-tsdb")
    with backfilled_prometheus(root, _openmetrics()) as server:
        yield server


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sla-spec") / "system.yaml"
    path.write_text(SPEC)
    return path


def _sla(
    capsys: pytest.CaptureFixture[str], spec: Path, url: str, at: datetime, *extra: str
) -> tuple[int, dict[str, dict[str, object]]]:
    code = main(
        ["sla", str(spec), "--prometheus", url, "--at", at.isoformat(), "--format", "json", *extra]
    )
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    return code, {s["slo"].split("/")[1]: s for s in json.loads(out.out)}


def _rows(section: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = section["rows"]
    assert isinstance(rows, list)
    return {r["period"]: r for r in rows}


PERIODS_AT_END = {  # at 2026-05-20T00:00Z; YTD starts before the data (Feb 1): partial coverage
    "This month": datetime(2026, 5, 1, tzinfo=UTC),
    "This quarter": datetime(2026, 4, 1, tzinfo=UTC),
    "YTD": datetime(2026, 1, 1, tzinfo=UTC),
    "Last 30 days": END - timedelta(days=30),
}


ELAPSED_AT_END = {  # elapsed shares at END, counted from where the data starts (Feb 1 for YTD)
    "This month": 19 / 31,
    "This quarter": 49 / 91,
    "YTD": 108 / (365 - 31),
    "Last 30 days": 1.0,
}


@pytest.mark.integration
def test_sla_reports_the_exact_event_weighted_availability(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, sections = _sla(capsys, spec_path, prometheus.url, END)
    rows = _rows(sections["availability"])
    assert set(rows) == set(PERIODS_AT_END)
    for label, start in PERIODS_AT_END.items():
        errors, requests = _expected(max(start, START), END)
        expected = 100 * (1 - errors / requests)
        actual = rows[label]["actual"]
        assert isinstance(actual, dict)
        assert actual["value"] == pytest.approx(expected, abs=1e-6), label
        assert actual["inputs"]["bad"] == errors and actual["inputs"]["total"] == requests
        # pace: the budget used of the traffic so far; budget used: of the whole period's budget
        pace = (100 - expected) / 0.1 * 100
        assert rows[label]["pace"]["value"] == pytest.approx(pace, rel=1e-9)  # type: ignore[index]
        used = rows[label]["budget_used"]
        assert isinstance(used, dict)
        assert used["value"] == pytest.approx(pace * ELAPSED_AT_END[label], rel=1e-9), label
    # the 30-day window holds the counter reset of 2026-04-20 12:00: nothing lost or doubled
    assert PERIODS_AT_END["Last 30 days"] < RESTART
    # Prometheus holds data from Feb 1 only: YTD covers (May 20 − Feb 1) / (May 20 − Jan 1)
    coverage = rows["YTD"]["coverage"]
    assert isinstance(coverage, dict)
    assert coverage["value"] == pytest.approx(100 * 108 / 139, abs=1e-9)
    assert rows["This month"]["coverage"]["value"] == pytest.approx(100.0)  # type: ignore[index]


@pytest.mark.integration
def test_good_and_probe_slis(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, sections = _sla(capsys, spec_path, prometheus.url, END)
    good = _rows(sections["good-requests"])
    probe = _rows(sections["uptime"])
    for label, start in PERIODS_AT_END.items():
        errors, requests = _expected(max(start, START), END)
        assert good[label]["actual"]["value"] == pytest.approx(  # type: ignore[index]
            100 * (1 - errors / requests), abs=1e-6
        )
        assert good[label]["target"] == 99.5
        assert probe[label]["actual"]["value"] == pytest.approx(  # type: ignore[index]
            100 * _expected_probe(max(start, START), END), abs=1e-6
        )


@pytest.mark.integration
def test_no_traffic_is_no_data_not_100_percent(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, sections = _sla(capsys, spec_path, prometheus.url, END)
    for name in ("idle", "missing"):
        for row in _rows(sections[name]).values():
            assert row["status"] == "No data" and row["actual"] is None, name
        assert sections[name]["budget_remaining_minutes"] is None
        assert sections[name]["burn_rates"] == {}


@pytest.mark.integration
def test_burn_rates_budget_minutes_and_projection_mid_outage(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)  # 30 minutes into the 100 % outage
    _, sections = _sla(capsys, spec_path, prometheus.url, at, "--slo", "availability")
    section = sections["availability"]
    burn = section["burn_rates"]
    assert isinstance(burn, dict)
    for window, seconds in (("1h", 3600), ("6h", 6 * 3600), ("3d", 3 * 86400)):
        errors, requests = _expected(at - timedelta(seconds=seconds), at)
        assert burn[window]["value"] == pytest.approx(errors / requests / 0.001, rel=1e-9)
    # March's budget: 0.1 % of the requests March sees at its average traffic so far
    errors, requests = _expected(datetime(2026, 3, 1, tzinfo=UTC), at)
    elapsed = (at - datetime(2026, 3, 1, tzinfo=UTC)) / timedelta(days=31)
    remaining = 0.001 * requests / elapsed - errors
    month = _rows(section)["This month"]
    assert month["remaining"]["value"] == pytest.approx(remaining, rel=1e-9)  # type: ignore[index]
    # in clock minutes of full outage at the last hour's traffic
    _, last_hour = _expected(at - timedelta(hours=1), at)
    minutes = remaining / (last_hour / 60)
    assert 0 < minutes < 0.001 * 31 * 1440
    assert month["remaining_minutes"]["value"] == pytest.approx(  # type: ignore[index]
        minutes, rel=1e-9
    )
    # the section's budget is the SLO's own period (30 days, rolling)
    assert section["budget_period"] == "Last 30 days"
    rolling = _rows(section)["Last 30 days"]
    assert section["budget_remaining_minutes"] == rolling["remaining_minutes"]
    # at the 1h burn rate the rest is gone in remaining / bad events per second of the last hour
    bad_hour, _ = _expected(at - timedelta(hours=1), at)
    exhaustion = month["exhaustion"]["value"]  # type: ignore[index]
    assert exhaustion == pytest.approx(remaining / (bad_hour / 3600), rel=1e-9)
    # March so far is below 99.9 %, but its errors are still under March's whole budget:
    # Risk (the pace is over 100 %), not Breached
    assert month["actual"]["value"] < 99.9  # type: ignore[index]
    assert month["pace"]["value"] > 100  # type: ignore[index]
    assert month["budget_used"]["value"] == pytest.approx(  # type: ignore[index]
        100 * errors / (0.001 * requests / elapsed), rel=1e-9
    )
    assert month["budget_used"]["value"] < 100  # type: ignore[index]
    assert month["status"] == "Risk"


@pytest.mark.integration
def test_status_and_check_when_the_budget_is_gone(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime(2026, 3, 10, 11, tzinfo=UTC)  # one hour into the 100 % outage
    code, sections = _sla(capsys, spec_path, prometheus.url, at, "--check", "--slo", "availability")
    section = sections["availability"]
    assert section["burn_rates"]["1h"]["value"] == pytest.approx(1000)  # type: ignore[index]
    # an hour of full outage is more than March's 44.64 budget-minutes: none left, no projection
    assert section["budget_remaining_minutes"]["value"] < 0  # type: ignore[index]
    assert section["projected_exhaustion"] == {}
    rows = _rows(section)
    # the errors so far exceed March's whole budget: the month is lost, Breached
    assert rows["This month"]["status"] == "Breached"
    # the rolling 30 days ended below target: Breached, and --check says so
    assert rows["Last 30 days"]["actual"]["value"] < 99.9  # type: ignore[index]
    assert rows["Last 30 days"]["status"] == "Breached"
    assert code == 1
    # quarter and YTD both start Jan 1, before the data (Feb 1): the same partial coverage
    for label in ("This quarter", "YTD"):
        assert rows[label]["coverage"]["value"] == pytest.approx(  # type: ignore[index]
            100 * (at - START) / (at - datetime(2026, 1, 1, tzinfo=UTC))
        )


@pytest.mark.integration
def test_text_report_and_check_ok(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime(2026, 5, 5, 12, tzinfo=UTC)  # before the May outage
    code = main(
        [
            "sla",
            str(spec_path),
            "--prometheus",
            prometheus.url,
            "--at",
            at.isoformat(),
            "--slo",
            "availability",
            "--check",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    errors, requests = _expected(datetime(2026, 5, 1, tzinfo=UTC), at)
    assert "| This month " in out and "| OK " in out
    assert f"{100 * (1 - errors / requests):.4f}"[:7] in out
    assert "ERROR BUDGET in events (minutes: of full outage at the last hour's traffic" in out
    assert "Burn rate at 2026-05-05T12:00:00Z: 1h 0× (0 of " in out


@pytest.mark.integration
def test_unreachable_prometheus_is_one_line_and_exit_2(
    spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code = main(["sla", str(spec_path), "--prometheus", url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "unreachable" in err and url in err


@pytest.mark.integration
def test_plan_with_prometheus_fills_sla_and_current(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "plan",
        str(spec_path),
        "--prometheus",
        prometheus.url,
        "--at",
        END.isoformat(),
        "--derivations",  # formula texts in place, as `sla --format json` writes them
        "full",
        "--format",
        "json",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)["report"]
    rows = {r["period"]: r for r in report["sla"]["rows"]}
    errors, requests = _expected(PERIODS_AT_END["Last 30 days"], END)
    expected = 100 * (1 - errors / requests)
    assert rows["Last 30 days"]["actual"]["value"] == pytest.approx(expected, abs=1e-6)
    assert report["current"]["value"] == pytest.approx(expected, abs=1e-6)
    assert report["current"]["formula"].startswith("measured:")
    # `sla --format json` serialises the SLA section as the plan document does
    _code, sla = _sla(capsys, spec_path, prometheus.url, END)
    # (the plan's section also holds the measured availability per entry point and component)
    measured = {k: v for k, v in report["sla"].items() if k != "availability"}
    assert sla[report["sla"]["slo"].split("/")[1]] == {**measured, "availability": []}
    (entry,) = [a for a in report["sla"]["availability"] if a["kind"] == "entry point"]
    assert entry["measured"]["formula"] == "measured: 1 − errors / requests"
    # the text report shows the measured table instead of "not measured"
    assert main(argv[:-2]) == 0
    text = capsys.readouterr().out
    assert "SLA TRACKING" in text and "not measured" not in text and "Last 30 days" in text


@pytest.mark.integration
def test_windows_reaching_before_the_data_start_at_the_first_sample(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = START + timedelta(days=1)  # the 3d burn window and the 30d period begin before the data
    _, sections = _sla(capsys, spec_path, prometheus.url, at, "--slo", "availability")
    section = sections["availability"]
    errors, requests = _expected(START, at)
    assert section["burn_rates"]["3d"]["value"] == pytest.approx(  # type: ignore[index]
        errors / requests / 0.001, rel=1e-9
    )
    rows = _rows(section)
    assert rows["Last 30 days"]["actual"]["value"] == pytest.approx(  # type: ignore[index]
        100 * (1 - errors / requests), abs=1e-6
    )
    assert rows["Last 30 days"]["coverage"]["value"] == pytest.approx(100 / 30)  # type: ignore[index]
    assert rows["This month"]["coverage"]["value"] == pytest.approx(100.0)  # type: ignore[index]


@pytest.mark.integration
def test_a_single_sample_is_no_data(
    prometheus: PrometheusServer, spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # at the very first sample there is no increase yet (and PromQL refuses a 0 range): no data,
    # which --check refuses to pass
    code, sections = _sla(capsys, spec_path, prometheus.url, START, "--check")
    assert code == 1
    for row in _rows(sections["availability"]).values():
        assert row["status"] == "No data"
    assert sections["availability"]["burn_rates"] == {}


@pytest.mark.integration
def test_measure_api_for_the_plan(prometheus: PrometheusServer, spec_path: Path) -> None:
    from planner.slo.sla import measure
    from planner.spec import load_spec

    section = measure(load_spec(spec_path), prometheus.url, END)
    assert section.slo == "gateway/availability" and section.source == prometheus.url
    month = section.rows[0]
    errors, requests = _expected(PERIODS_AT_END["This month"], END)
    assert month.actual is not None
    assert month.actual.value == pytest.approx(100 * (1 - errors / requests), abs=1e-6)
