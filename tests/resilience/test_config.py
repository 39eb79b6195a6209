"""The plan file's schema: durations, dotted paths, the JSON Schema, writing plans from models."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from resilience.config import (
    NAMES,
    BulkheadConfig,
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    HedgeConfig,
    PlanFile,
    PolicyConfig,
    RateLimiterConfig,
    RetryBudgetConfig,
    RetryConfig,
    WaitExponentialJitter,
    parse_duration,
    plan_json_schema,
    plan_to_dict,
)
from resilience.names import Names


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (2.5, 2.5),
        (3, 3.0),
        (0, 0.0),
        ("2.5", 2.5),
        ("250ms", 0.25),
        ("2s", 2.0),
        ("1m", 60.0),
        ("1.5m", 90.0),
        ("1h", 3600.0),
        ("100us", 1e-4),
        ("100µs", 1e-4),
        ("5ns", 5e-9),
        (" 30 s ", 30.0),
        (".5s", 0.5),
    ],
)
def test_durations_accept_seconds_and_units(text: float | str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["-1", -0.5, "2 parsecs", "1y", "", "s", True, None, [1], math.inf])
def test_durations_refuse_what_is_not_a_finite_non_negative_time(bad: object) -> None:
    with pytest.raises(
        ValueError, match=r"^expected a duration( \(finite, not negative\))?: seconds"
    ):
        parse_duration(bad)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_duration_in_ms_is_a_thousandth_of_seconds(value: float) -> None:
    assert parse_duration(f"{value:f}ms") == pytest.approx(parse_duration(f"{value:f}") / 1000)


def test_names_resolve_against_the_registered_names_and_the_safe_set_only() -> None:
    import aiohttp

    class InventoryDown(Exception):
        pass

    names = Names({"InventoryDown": InventoryDown})
    assert names.exception("aiohttp.ClientError") is aiohttp.ClientError
    assert names.exception("TimeoutError") is TimeoutError
    assert names.exception("asyncio.TimeoutError") is TimeoutError
    assert names.exception("InventoryDown") is InventoryDown
    with pytest.raises(ValueError, match=r"registered under .os\.path\.join."):
        names.exception("os.path.join")  # importable, but never imported
    with pytest.raises(ValueError, match=r"did you mean .aiohttp\.ClientError."):
        names.exception("aiohttp.ClientErorr")
    with pytest.raises(ValueError, match="no function is registered under 'eval'"):
        names.function("eval")


def test_exception_names_are_resolved_only_when_asked() -> None:
    section = {"retry_on": ["not_installed_anywhere.Error"]}
    # The planner writes plans for services it does not import: the format check is enough.
    assert RetryConfig.model_validate(section).retry_on == ["not_installed_anywhere.Error"]
    with pytest.raises(
        ValidationError, match=r"no exception class is registered under 'not_installed_anywhere"
    ):
        RetryConfig.model_validate(section, context={NAMES: Names()})
    with pytest.raises(ValidationError, match="expected the name of an exception class"):
        RetryConfig.model_validate({"retry_on": ["not a path"]})


def test_a_plan_written_from_the_models_reads_back_unchanged() -> None:
    """What the planner does: build the models, dump them, and load_plan reads the same thing."""
    plan = PlanFile(
        version=1,
        system="ai-gateway",
        tier="critical",
        slo=99.99,
        mechanisms={
            "llm-primary": PolicyConfig(
                critical=True,
                timeout=2.5,
                retry=RetryConfig(
                    max_attempts=3,
                    wait=WaitExponentialJitter(kind="exponential_jitter", initial=0.1, max=5),
                    budget=RetryBudgetConfig(ratio=0.2, min_per_second=3),
                ),
                circuit_breaker=CircuitBreakerConfig(
                    open_duration=ExponentialOpenDuration(initial=5, max=300)
                ),
                bulkhead=BulkheadConfig(max_concurrent=40),
                rate_limiter=RateLimiterConfig(rate_per_second=50, burst=100),
                fallback=FallbackConfig(on=["aiohttp.ClientError"]),
                hedge=HedgeConfig(delay="p95"),
            ),
            "cache": PolicyConfig(retry=None),
        },
    )
    data = plan_to_dict(plan)
    assert data["mechanisms"]["cache"] == {"retry": None}  # an explicit off survives
    assert "deadline" not in data["mechanisms"]["llm-primary"]  # unset stays unset (inherits)
    text = json.dumps(data)
    again = PlanFile.model_validate(json.loads(text))
    assert again == plan
    assert plan_to_dict(again) == data


def test_json_schema_is_generated_from_the_models() -> None:
    schema = plan_json_schema()
    json.dumps(schema)  # serialisable as is
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["required"] == ["version", "system", "mechanisms"]
    defs = schema["$defs"]
    for model in (
        PolicyConfig,
        RetryConfig,
        CircuitBreakerConfig,
        BulkheadConfig,
        RateLimiterConfig,
        FallbackConfig,
        HedgeConfig,
        RetryBudgetConfig,
    ):
        definition = defs[model.__name__]
        assert set(definition["properties"]) == set(model.model_fields)
        assert definition["additionalProperties"] is False  # unknown keys are errors
    timeout = defs["PolicyConfig"]["properties"]["timeout"]
    assert "250ms" in json.dumps(timeout)  # durations documented as number or string
    assert "additionalProperties" not in schema or schema["additionalProperties"] is False
    assert "report" in schema["properties"]


def test_tier_and_slo_are_optional_and_checked() -> None:
    base = {"version": 1, "system": "s", "mechanisms": {}}
    assert PlanFile.model_validate(base).tier is None
    with pytest.raises(ValidationError, match="tier"):
        PlanFile.model_validate({**base, "tier": "gold"})
    with pytest.raises(ValidationError, match="slo"):
        PlanFile.model_validate({**base, "slo": 100})
