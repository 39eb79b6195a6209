"""`reliability calibrate` against a real Prometheus holding backfilled runtime metrics.

The generator draws every call's latency and outcome (seeded), accumulates them into the
exporter's histogram buckets and counters as a 15 s scrape would see them, and `promtool tsdb
create-blocks-from openmetrics` writes the blocks. The expected p99 is the empirical 99th
percentile of the generated latencies; the calibrated one must lie within the width of the
histogram bucket that holds it (the histogram's resolution there).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporters.prometheus import DURATION_BUCKETS
from planner.cli import main
from planner.slo.calibrate import quantile
from tests.paths import ROOT_DIR
from tests.servers import PrometheusServer, backfilled_prometheus

pytestmark = pytest.mark.integration

SPEC = ROOT_DIR / "examples" / "ai_gateway" / "system.yaml"
SCRAPE = 15
END = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())
START = END - 2 * 3600
WINDOW = 3600  # calibrate --window 1h --at END


@dataclass(frozen=True)
class Traffic:
    """Per scrape interval: calls, their median latency and spread, the share that fails."""

    calls: int
    median: float
    sigma: float
    failure: float


TRAFFIC = {
    # slower than declared (p99 8s): a p99 near 4 s would be inside the declared one; this one
    # is far outside, so the timeout changes
    "vector-db": Traffic(calls=30, median=0.08, sigma=0.6, failure=0.02),
    "llm-primary": Traffic(calls=20, median=1.4, sigma=0.45, failure=0.004),
    "response-cache": Traffic(calls=30, median=0.0012, sigma=0.4, failure=0.0),
    "llm-secondary": Traffic(calls=0, median=2.0, sigma=0.5, failure=0.0),  # never called
}
SECONDARY_CALLS = 40  # llm-secondary: too few calls in the window for a figure


def _generate() -> tuple[str, dict[str, list[float]], dict[str, tuple[int, int]]]:
    """OpenMetrics text, the latencies inside the window, and (failures, calls) inside it."""
    rng = random.Random(20)
    buckets = (*DURATION_BUCKETS, math.inf)
    lines: dict[str, list[str]] = {}
    inside: dict[str, list[float]] = {p: [] for p in TRAFFIC}
    outcomes: dict[str, tuple[int, int]] = {p: (0, 0) for p in TRAFFIC}
    for policy, traffic in TRAFFIC.items():
        counts = [0] * len(buckets)
        success = failure = 0
        total_sum = 0.0
        for t in range(START, END + 1, SCRAPE):
            calls = traffic.calls
            if policy == "llm-secondary" and 0 < t - (END - WINDOW) <= SECONDARY_CALLS * SCRAPE:
                calls = 1
            for _ in range(calls if t > START else 0):
                latency = traffic.median * math.exp(rng.gauss(0.0, traffic.sigma))
                failed = rng.random() < traffic.failure
                for i, bound in enumerate(buckets):
                    if latency <= bound:
                        counts[i] += 1
                total_sum += latency
                failure += failed
                success += not failed
                if t > END - WINDOW:
                    inside[policy].append(latency)
                    f, n = outcomes[policy]
                    outcomes[policy] = (f + failed, n + 1)
            base = f'policy="{policy}"'
            for bound, count in zip(buckets, counts, strict=True):
                le = "+Inf" if math.isinf(bound) else repr(bound)
                lines.setdefault(f'{base},le="{le}"', []).append(
                    f'resilience_call_duration_seconds_bucket{{{base},le="{le}"}} {count} {t}'
                )
            for outcome, value in (("success", success), ("failure", failure)):
                lines.setdefault(f"{base},{outcome}", []).append(
                    f'resilience_calls_total{{{base},outcome="{outcome}"}} {value} {t}'
                )
            lines.setdefault(f"{base},open", []).append(
                f'resilience_circuit_breaker_state{{{base},state="open"}} 0 {t}'
            )
    out = []
    for family in (
        "resilience_call_duration_seconds_bucket",
        "resilience_calls_total",
        "resilience_circuit_breaker_state",
    ):
        out.append(f"# TYPE {family} unknown")
        for series in lines.values():
            if series[0].startswith(family + "{"):
                out.extend(series)
    return "\n".join([*out, "# EOF", ""]), inside, outcomes


@pytest.fixture(scope="module")
def generated() -> tuple[str, dict[str, list[float]], dict[str, tuple[int, int]]]:
    return _generate()


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory,
    generated: tuple[str, dict[str, list[float]], dict[str, tuple[int, int]]],
) -> Iterator[PrometheusServer]:
    root = tmp_path_factory.mktemp("calibrate")
    with backfilled_prometheus(root, generated[0], scrape_interval="15s") as server:
        yield server


def _empirical(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _resolution(value: float) -> float:
    """Width of the exporter's histogram bucket that holds `value`."""
    lower = 0.0
    for upper in DURATION_BUCKETS:
        if value <= upper:
            return upper - lower
        lower = upper
    return math.inf


def _calibrate(
    capsys: pytest.CaptureFixture[str], url: str, spec: Path, *extra: str
) -> tuple[int, str, str]:
    argv = ["calibrate", str(spec), "--prometheus", url, "--window", "1h", "--at", str(END)]
    code = main([*argv, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def _row(out: str, dependency: str) -> str:
    (line,) = [row for row in out.splitlines() if row.startswith(dependency + " ")]
    return line


ROW = re.compile(
    r"^\S+\s+(?P<rate>[\d.e+-]+)/s\s+(?P<p50>\S+) \(declared [^)]*\)(?: DRIFT)?\s+"
    r"(?P<p99>\S+) \(declared [^)]*\)(?: DRIFT)?\s+(?P<failures>[\d.e+-]+)%"
)


def _seconds(text: str) -> float:
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))


def test_measured_p99_is_within_the_bucket_resolution_of_the_generated_latencies(
    prometheus: PrometheusServer,
    generated: tuple[str, dict[str, list[float]], dict[str, tuple[int, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _calibrate(capsys, prometheus.url, SPEC)
    assert code == 0, err
    _, inside, outcomes = generated
    for policy in ("vector-db", "llm-primary", "response-cache"):
        row = _row(out, policy)
        found = ROW.match(row)
        assert found is not None, row
        measured_p50, measured_p99 = _seconds(found["p50"]), _seconds(found["p99"])
        true_p99 = _empirical(inside[policy], 0.99)
        true_p50 = _empirical(inside[policy], 0.5)
        assert abs(measured_p99 - true_p99) <= _resolution(true_p99), (policy, row)
        assert abs(measured_p50 - true_p50) <= _resolution(true_p50), (policy, row)
        failures, calls = outcomes[policy]
        ratio = float(found["failures"]) / 100
        assert ratio == pytest.approx(failures / calls, rel=0.05, abs=1e-4), (policy, row)
        rate = float(found["rate"])
        assert rate == pytest.approx(calls / WINDOW, rel=0.02), (policy, row)


def test_quantile_matches_promql_interpolation() -> None:
    # 100 calls: 50 in (0, 0.1], 40 in (0.1, 0.5], 10 in (0.5, 1]: p99 at 0.5 + 0.5 × 9/10
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, math.inf: 100.0}
    p99, p50 = quantile(0.99, buckets), quantile(0.5, buckets)
    assert p99 is not None and p50 is not None
    assert p99[0] == pytest.approx(0.95) and p99[1] == (0.5, 1.0)
    assert p50[0] == pytest.approx(0.1) and p50[1] == (0.0, 0.1)
    assert quantile(0.5, {math.inf: 0.0}) is None


def test_too_little_data_is_said_and_the_drift_changes_mechanisms(
    prometheus: PrometheusServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calibrated = tmp_path / "calibrated.yaml"
    code, out, err = _calibrate(capsys, prometheus.url, SPEC, "-o", str(calibrated), "--check")
    assert code == 1, (out, err)
    assert "mechanisms would change" in err
    # llm-secondary had 40 calls in the hour: no figure is guessed
    assert "too little data: 40 calls, 100 needed" in _row(out, "llm-secondary")
    # vector-db is slower than declared (p99 120ms): its attempt timeout follows the measurement
    (timeout,) = [line for line in out.splitlines() if line.strip().startswith("vector-db timeout")]
    assert "180ms per attempt →" in timeout
    assert "measured p99" in timeout and "over 1h, declared 120ms" in timeout
    # its failure ratio (2 %) is far from the declared 99.9 %: flagged, and written
    assert "DRIFT" in _row(out, "vector-db")
    # response-cache never failed in its 7,200 calls: the data bounds it below (rule of
    # three, 1 − 3/7200), and that bound, not 100 %, is what the calibrated spec says
    assert "≥99.9583% (no failure)" in _row(out, "response-cache")
    # no SLI series in this TSDB: said, not guessed
    assert "entry gateway: SLI availability no data (no series matches its SLI)" in out
    text = calibrated.read_text()
    assert "availability: 99.9583\n" in text
    original = SPEC.read_text()
    # the user's comments and layout are kept: every comment line survives, byte for byte
    for line in original.splitlines():
        if line.lstrip().startswith("#") or "# what callers see" in line:
            assert line.split("#", 1)[1] in text
    assert "latency: {p50: 1.6s, p99: 9s}     # what callers see, model calls included" in text
    changed = [
        (a, b) for a, b in zip(original.splitlines(), text.splitlines(), strict=True) if a != b
    ]
    assert changed, "the calibrated spec changes the drifted figures"
    assert all("vector-db" not in a for a, _ in changed)  # names and keys stay
    # calibrating the calibrated spec again: nothing left to change
    code, out, err = _calibrate(capsys, prometheus.url, calibrated, "--check")
    assert code == 0, (out, err)
    assert "No mechanism changes with the measured figures." in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--window", "7 days"), "--window: expected a duration"),
        (("--window", "30s"), "--window: '30s' is shorter than a minute"),
        (("--at", "yesterday"), "--at:"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    code = main(["calibrate", str(SPEC), "--prometheus", "http://127.0.0.1:9", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_an_unreachable_prometheus_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["calibrate", str(SPEC), "--prometheus", "http://127.0.0.1:9", "--window", "1h"])
    err = capsys.readouterr().err
    assert code == 2 and "unreachable" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--from", "yesterday", "--to", "1790000000"), "--from: expected an ISO 8601 time"),
        (("--from", "1790000000"), "--prometheus needs --from TIME and --to TIME"),
        (("--from", "1790000000", "--to", "1780000000"), "must come after --from"),
    ],
)
def test_postmortem_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    code = main(["postmortem", str(SPEC), "--prometheus", "http://127.0.0.1:9", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_postmortem_range_without_prometheus_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["postmortem", str(SPEC), "--from", "1790000000", "--to", "1790003600"])
    assert code == 2
    assert "--from and --to need --prometheus URL" in capsys.readouterr().err


def test_plan_shows_the_measured_availability_beside_the_modelled(
    prometheus: PrometheusServer,
    generated: tuple[str, dict[str, list[float]], dict[str, tuple[int, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["plan", str(SPEC), "--prometheus", prometheus.url, "--at", str(END)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Measured Availability (beside the modelled):" in out
    rows = {
        cells[1]: cells
        for line in out.splitlines()
        if len(cells := [c.strip() for c in line.strip("|").split("|")]) == 5
    }
    # vector-db failed 2 % of its calls over the whole backfill (inside the 30-day period)
    _, vector_calls = generated[2]["vector-db"]
    vector = rows["vector-db"]
    assert vector[0] == "component" and vector[2] == "99.9999%"
    assert float(vector[3].rstrip("%")) == pytest.approx(98.0, abs=0.3), vector
    assert vector[4] == "14400 calls over 30d" and vector_calls == 7200
    assert rows["llm-secondary"][3:] == ["—", "too little data: 40 calls, 100 needed"]
    # never failed: 1 − 3/14400 (rule of three), said to be a lower bound, never 100 %
    assert rows["response-cache"][3:] == ["99.9792%", "none of 14400 failed: a lower bound"]
    # no SLI series in this TSDB: the entry point has no measured figure
    assert rows["gateway"][3:] == ["—", "no data: no series matches its SLI"]
