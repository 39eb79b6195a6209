"""Experiment files: typed errors naming file and field, substitution, tolerances, CTK export."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.ctk import to_chaostoolkit
from chaos.experiment import (
    ExperimentError,
    RangeTolerance,
    load_experiment,
    parse_experiment,
)
from chaos.probes import summarise
from chaos.tolerance import within
from resilience import ResilienceError


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "t",
        "configuration": {"base_url": "http://127.0.0.1:1"},
        "steady-state-hypothesis": {
            "title": "h",
            "probes": [
                {
                    "type": "probe",
                    "name": "p",
                    "provider": {"type": "http", "url": "${base_url}/x"},
                    "tolerance": 200,
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "a",
                "provider": {
                    "type": "injection",
                    "admin_url": "${base_url}/admin/chaos",
                    "policy": "db",
                    "enabled": True,
                },
            }
        ],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"title": None}, "title", "string"),
        ({"method": []}, "method", "at least 1"),
        ({"colour": "red"}, "colour", "unknown field"),
        (
            {
                "method": [
                    {
                        "type": "action",
                        "name": "a",
                        "provider": {"type": "load", "url": "u", "requests": 10**6},
                    }
                ]
            },
            "method[0].provider.requests",
            "less than or equal to 10000",
        ),
        (
            {
                "method": [
                    {
                        "type": "action",
                        "name": "a",
                        "provider": {"type": "prometheus", "url": "u", "query": "up"},
                    }
                ]
            },
            "method[0].provider",
            "prometheus",
        ),
        (
            {
                "rollbacks": [
                    {"type": "probe", "name": "r", "provider": {"type": "http", "url": "u"}}
                ]
            },
            "rollbacks[0].type",
            "action",
        ),
        (
            {
                "method": [
                    {
                        "type": "action",
                        "name": "a",
                        "provider": {
                            "type": "injection",
                            "admin_url": "u",
                            "policy": "p",
                            "enabled": True,
                            "injection_rate": 1.5,
                        },
                    }
                ]
            },
            "method[0].provider.injection_rate",
            "less than or equal to 1",
        ),
        (
            {
                "steady-state-hypothesis": {
                    "title": "h",
                    "probes": [
                        {
                            "type": "probe",
                            "name": "p",
                            "provider": {"type": "http", "url": "u"},
                            "tolerance": {"type": "range", "range": [2, 1]},
                        }
                    ],
                }
            },
            "steady-state-hypothesis.probes[0].tolerance.range",
            "low <= high",
        ),
        (
            {
                "steady-state-hypothesis": {
                    "title": "h",
                    "probes": [
                        {
                            "type": "probe",
                            "name": "p",
                            "provider": {"type": "http", "url": "u"},
                            "tolerance": {"type": "regex", "pattern": "("},
                        }
                    ],
                }
            },
            "steady-state-hypothesis.probes[0].tolerance.pattern",
            "regular expression",
        ),
    ],
)
def test_errors_name_the_file_and_the_field(change: dict[str, Any], field: str, why: str) -> None:
    with pytest.raises(ExperimentError) as caught:
        parse_experiment(minimal(**change), "exp.yaml")
    message = str(caught.value)
    assert message.startswith(f"exp.yaml: {field}:"), message
    assert why in message
    assert isinstance(caught.value, ResilienceError)


def test_a_steady_state_probe_needs_a_tolerance() -> None:
    data = minimal()
    del data["steady-state-hypothesis"]["probes"][0]["tolerance"]
    with pytest.raises(ExperimentError, match=r"steady-state-hypothesis: .*needs a tolerance"):
        parse_experiment(data, "exp.yaml")


def test_undefined_variable_and_bad_files(tmp_path: Path) -> None:
    data = minimal()
    data["method"][0]["provider"]["admin_url"] = "${nowhere}/admin"
    with pytest.raises(
        ExperimentError,
        match=r"exp.yaml: method\[0\].provider.admin_url: "
        r"\$\{nowhere\} is not defined",
    ):
        parse_experiment(data, "exp.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed\n")
    with pytest.raises(ExperimentError, match=r"bad\.yaml: not valid YAML"):
        load_experiment(bad)
    with pytest.raises(ExperimentError, match="no such experiment file"):
        load_experiment(tmp_path / "missing.yaml")


def test_substitution_keeps_numbers_numbers(tmp_path: Path) -> None:
    data = minimal(configuration={"base_url": "http://127.0.0.1:1", "n": 25})
    data["steady-state-hypothesis"]["probes"][0]["provider"]["requests"] = "${n}"
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(data))
    exp = load_experiment(path)
    assert exp.steady_state_hypothesis is not None
    provider = exp.steady_state_hypothesis.probes[0].provider
    assert (provider.url, provider.requests) == ("http://127.0.0.1:1/x", 25)  # type: ignore[union-attr]


def test_tolerances_follow_chaos_toolkit() -> None:
    summary = summarise([200, 200, 503, None], [0.01, 0.02, 0.03, 0.5], None)
    assert summary["error_ratio"] == 0.5 and summary["statuses"] == {"200": 2, "503": 1, "none": 1}
    assert within(RangeTolerance(type="range", range=(0, 0.5), target="error_ratio"), summary)[0]
    assert not within(RangeTolerance(type="range", range=(0, 0.49), target="error_ratio"), summary)[
        0
    ]
    assert within(RangeTolerance(type="range", range=(0, 0.5), target="latency_p99"), summary) == (
        True,
        0.5,
    )
    assert not within(RangeTolerance(type="range", range=(0, 1), target="nope"), summary)[0]
    assert within(None if False else [200, 204, 503], {"status": 503})[0]  # membership on status
    assert within([0, 1], 0.5)[0] and not within([0, 1], 1.5)[0]  # two numbers: a range
    assert not within(True, 1)[0] and within(True, True)[0]  # strict booleans
    assert not within(RangeTolerance(type="range", range=(0, 1)), None)[0]  # no data is out


@given(st.lists(st.one_of(st.none(), st.integers(100, 599)), min_size=1, max_size=60))
def test_error_ratio_counts_5xx_and_no_response(statuses: list[int | None]) -> None:
    summary = summarise(statuses, [0.0] * len(statuses), None)
    expected = sum(1 for s in statuses if s is None or s >= 500)
    assert summary["errors"] == expected
    assert summary["error_ratio"] == pytest.approx(expected / len(statuses))
    assert sum(summary["statuses"].values()) == len(statuses)


def test_export_to_chaos_toolkit() -> None:
    data = minimal()
    data["method"].append(
        {
            "type": "probe",
            "name": "opened",
            "provider": {
                "type": "metric",
                "url": "${base_url}/metrics",
                "name": "resilience_circuit_breaker_transitions_total",
                "labels": {"policy": "db", "to_state": "open"},
                "mode": "increase",
            },
            "tolerance": {"type": "range", "range": [1, math.inf]},
        }
    )
    data["rollbacks"] = [
        {
            "type": "action",
            "name": "off",
            "provider": {
                "type": "injection",
                "admin_url": "${base_url}/admin/chaos",
                "policy": "db",
                "enabled": False,
            },
        }
    ]
    ctk = to_chaostoolkit(parse_experiment(data, "exp.yaml"))
    json.dumps(ctk, allow_nan=False)  # strict JSON: no Infinity
    assert ctk["runtime"]["rollbacks"] == {"strategy": "always"}
    assert ctk["secrets"] == {
        "reliability": {"chaos_admin_token": {"type": "env", "key": "RELIABILITY_CHAOS_TOKEN"}}
    }
    switch = ctk["method"][1]["provider"]
    assert switch["url"] == "http://127.0.0.1:1/admin/chaos/db"
    assert switch["method"] == "POST" and switch["arguments"] == {"enabled": True}
    assert switch["headers"]["Authorization"] == "Bearer ${chaos_admin_token}"
    baseline, opened = ctk["method"][0], ctk["method"][2]
    assert baseline["provider"]["func"] == "metric_baseline"
    assert opened["provider"]["func"] == "metric_increase"
    assert opened["provider"]["arguments"]["labels"] == {"policy": "db", "to_state": "open"}
    probe = ctk["steady-state-hypothesis"]["probes"][0]
    assert probe["provider"]["type"] == "http" and probe["tolerance"] == 200  # native http probe
    assert ctk["extensions"][0]["judged_method_probes"] == ["opened"]
