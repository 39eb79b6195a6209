"""One duration grammar for plan files, system specs, experiments and the CLI."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from chaos.experiment import ExperimentError, parse_experiment
from planner import cli
from planner.errors import SpecError
from planner.spec import parse_spec
from resilience import PlanError, load_plan
from resilience.config import plan_json_schema
from resilience.durations import MAX_LENGTH, PATTERN, format_duration, parse_duration
from tests.chaos.test_chaos_experiment import minimal

ACCEPTED = [
    ("2.5", 2.5),
    ("2", 2.0),
    ("250ms", 0.25),
    ("300us", 300e-6),
    ("300µs", 300e-6),
    ("300μs", 300e-6),
    ("1500ns", 1.5e-6),
    ("2s", 2.0),
    ("1.5m", 90.0),
    ("1m30s", 90.0),
    ("1h 30m", 5400.0),  # as the report prints durations
    ("1h30m15s", 5415.0),
    ("1d", 86400.0),
    ("1d12h", 129600.0),
    ("2w", 1209600.0),
    ("1w1d1h1m1s1ms1us1ns", 694861.001001001),
    (" 5 s ", 5.0),
    (".5s", 0.5),
]

REFUSED = [
    "",
    "5 parsecs",
    "1y",
    "-1s",
    "1s1m",  # largest unit first
    "1s1s",  # each unit once
    "1m30",  # a bare number only alone
    "1e3s",
    "inf",
    "nan",
    "s",
    "1" * (MAX_LENGTH + 1),
]


@pytest.mark.parametrize(("text", "seconds"), ACCEPTED)
def test_accepted(text: str, seconds: float) -> None:
    assert math.isclose(parse_duration(text), seconds, rel_tol=1e-12)


@pytest.mark.parametrize("text", REFUSED)
def test_refused_with_one_sentence(text: str) -> None:
    with pytest.raises(
        ValueError,
        match=r"^expected a duration( \([^)]*\)| of at most \d+ characters)?: seconds \(2\.5\) or",
    ) as e:
        parse_duration(text)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value", [True, -1, float("inf"), float("nan"), None, [1]])
def test_refused_values(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


def test_a_long_string_is_not_repeated_back() -> None:
    with pytest.raises(
        ValueError,
        match=f"^expected a duration of at most {MAX_LENGTH} characters: .*, got a string$",
    ):
        parse_duration("9" * 10_000)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (90, "1m30s"),
        (86400, "1d"),
        (694861.001001001, "1w1d1h1m1s1ms1us1ns"),
        (300e-6, "300us"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**17))
def test_format_then_parse_round_trips_to_the_nanosecond(nanoseconds: int) -> None:
    seconds = nanoseconds / 1e9
    text = format_duration(seconds)
    assert len(text) <= MAX_LENGTH
    assert math.isclose(parse_duration(text), seconds, rel_tol=1e-12, abs_tol=1e-12)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_any_float_round_trips_within_half_a_nanosecond(seconds: float) -> None:
    assert abs(parse_duration(format_duration(seconds)) - seconds) <= 0.5e-9 + 1e-12 * seconds


# ------------------------------------------------------------- the same grammar in every file kind


def _plan(value: object) -> None:
    load_plan({"version": 1, "system": "s", "mechanisms": {"db": {"timeout": value}}})


def _spec(value: object) -> None:
    parse_spec(
        {
            "system": "s",
            "tier": "standard",
            "components": [
                {
                    "name": "app",
                    "kind": "service",
                    "entry_point": True,
                    "replicas": 1,
                    "latency": {"p50": "100ns", "p99": value},
                }
            ],
        }
    )


def _experiment(value: object) -> None:
    data = minimal()
    data["method"][0]["pauses"] = {"after": value}
    parse_experiment(data)


KINDS = {
    "plan": (_plan, PlanError, "mechanisms.db.timeout"),
    "spec": (_spec, SpecError, "components[0] (app).latency.p99"),
    "experiment": (_experiment, ExperimentError, "method[0].pauses.after"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("text", ["300us", "0.04d", "1m30s", "0.005w", "1h"])
def test_every_file_kind_accepts_the_same_durations(kind: str, text: str) -> None:
    load, _, _ = KINDS[kind]
    load(text)  # the planner refused 300us and 1m30s; plan files refused d and w


def test_an_experiment_bounds_a_pause_after_reading_it() -> None:
    # 1d is a duration in every file kind; an experiment's pause is also at most an hour.
    _plan("1d")
    _spec("1d")
    with pytest.raises(ExperimentError, match=r"pauses\.after: .*less than or equal to 3600"):
        _experiment("1d")


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("text", ["1y", "1s1m", "1m30", "-2s"])
def test_every_file_kind_refuses_the_same_durations(kind: str, text: str) -> None:
    load, error, field = KINDS[kind]
    with pytest.raises(error) as info:
        load(text)
    assert field in str(info.value)
    assert "expected a duration" in str(info.value)


@pytest.mark.parametrize(("text", "status"), [("1d", 0), ("1m30s", 0), ("1y", 2)])
def test_reliability_validate_reads_the_same_grammar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, status: int
) -> None:
    path = tmp_path / "plan.yaml"
    plan: dict[str, Any] = {"version": 1, "system": "s", "mechanisms": {"db": {"deadline": text}}}
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    assert cli.main(["validate", str(path)]) == status
    err = capsys.readouterr().err
    if status:
        assert "mechanisms.db.deadline" in err and "expected a duration" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_json_schema_states_the_same_grammar() -> None:
    timeout = plan_json_schema()["$defs"]["PolicyConfig"]["properties"]["timeout"]
    strings = [
        b for a in timeout["anyOf"] for b in a.get("anyOf", [a]) if b.get("type") == "string"
    ]
    assert strings and all(
        s["pattern"] == PATTERN and s["maxLength"] == MAX_LENGTH for s in strings
    )
    for text, _ in ACCEPTED:
        assert re.match(PATTERN, text), text
    for text in ("5 parsecs", "1y", "-1s", "1m30", "1e3s", "s", ""):
        assert not re.match(PATTERN, text), text
