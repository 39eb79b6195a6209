"""Invalid plans: one test per kind of mistake, each checking the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from resilience import ConfigError, PlanError, load_plan


def _write(tmp_path: Path, mechanisms: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "plan.yaml"
    data = {"version": 1, "system": "ai-gateway", "mechanisms": mechanisms, **top}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _error(path: Path | dict[str, Any]) -> PlanError:
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert isinstance(caught.value, ConfigError)
    return caught.value


@pytest.mark.parametrize(
    ("mechanisms", "top", "field", "expected"),
    [
        pytest.param(
            {"llm-primary": {"retry": {"max_attempts": 3, "max_attemps": 4}}},
            {},
            "mechanisms.llm-primary.retry",
            "unknown key 'max_attemps'; expected one of: max_attempts, wait, retry_on",
            id="unknown-key-in-a-mechanism",
        ),
        pytest.param(
            {"llm": {"circuit_breaker": {"windowsize": 3}}},
            {},
            "mechanisms.llm.circuit_breaker",
            "unknown key 'windowsize'",
            id="unknown-breaker-key",
        ),
        pytest.param(
            {"llm": {"timout": 1}},
            {},
            "mechanisms.llm",
            "unknown key 'timout'; expected one of: base, critical, timeout, deadline",
            id="unknown-policy-key",
        ),
        pytest.param(
            {},
            {"reports": {}},
            "(top level)",
            "unknown key 'reports'; expected one of: version, system, tier, slo, mechanisms, "
            "storage, report",
            id="unknown-top-level-key",
        ),
        pytest.param(
            {"llm-primary": {"retry": {"max_attempts": 0}}},
            {},
            "mechanisms.llm-primary.retry.max_attempts",
            "expected a number greater than or equal to 1, got 0",
            id="out-of-range",
        ),
        pytest.param(
            {"llm": {"retry": {"max_attempts": "three"}}},
            {},
            "mechanisms.llm.retry.max_attempts",
            "expected a valid integer",
            id="wrong-type",
        ),
        pytest.param(
            {"llm": {"circuit_breaker": {"failure_rate_threshold": 50}}},
            {},
            "mechanisms.llm.circuit_breaker.failure_rate_threshold",
            "expected a number less than or equal to 1, got 50",
            id="percent-instead-of-fraction",
        ),
        pytest.param(
            {"llm": {"timeout": "5 parsecs"}},
            {},
            "mechanisms.llm.timeout",
            "expected a duration: seconds (2.5) or a number with a unit (ns, us, ms, s, m, h, d, "
            "w), e.g. '250ms', '2s', '1m30s', '1d', got '5 parsecs'",
            id="bad-duration",
        ),
        pytest.param(
            {"llm": {"timeout": 0}},
            {},
            "mechanisms.llm.timeout",
            "expected a number greater than 0",
            id="zero-timeout",
        ),
        pytest.param(
            {"llm": {"retry": {"retry_on": ["aiohttp.ClientErorr"]}}},
            {},
            "mechanisms.llm.retry.retry_on[0]",
            "no exception class is registered under 'aiohttp.ClientErorr' (did you mean "
            "'aiohttp.ClientError'?)",
            id="exception-not-registered",
        ),
        pytest.param(
            {"llm": {"circuit_breaker": {"record_on": ["os.path.join"]}}},
            {},
            "mechanisms.llm.circuit_breaker.record_on[0]",
            "no exception class is registered under 'os.path.join'; plans never import code: "
            "register it, load_plan(..., names={'os.path.join': join})",
            id="importable-but-not-registered",
        ),
        pytest.param(
            {"llm": {"retry": {"retry_if_result": "math.pi"}}},
            {},
            "mechanisms.llm.retry.retry_if_result",
            "no function is registered under 'math.pi'",
            id="function-not-registered",
        ),
        pytest.param(
            {"llm": {"retry": {"wait": {"kind": "exponentail"}}}},
            {},
            "mechanisms.llm.retry.wait",
            "expected kind one of: exponential, exponential_jitter",
            id="unknown-wait-kind",
        ),
        pytest.param(
            {"llm": {"retry": {"wait": {"initial": 1}}}},
            {},
            "mechanisms.llm.retry.wait",
            "expected a 'kind' key",
            id="wait-without-kind",
        ),
        pytest.param(
            {"llm": {"retry": {"wait": {"kind": "fixed", "wait": 1, "max": 3}}}},
            {},
            "mechanisms.llm.retry.wait",
            "unknown key 'max'; expected one of: kind, wait",
            id="option-of-another-wait-kind",
        ),
        pytest.param(
            {"llm": {"circuit_breaker": {"open_duration": {"initial": 60, "max": 5}}}},
            {},
            "mechanisms.llm.circuit_breaker.open_duration.max",
            "expected max ≥ initial (60.0s), got 5.0s",
            id="exponential-open-duration-max",
        ),
        pytest.param(
            {"llm": {"hedge": {"delay": "p100"}}},
            {},
            "mechanisms.llm.hedge.delay",
            "expected seconds or a percentile of observed latency ('p95'), got 'p100'",
            id="bad-percentile",
        ),
        pytest.param(
            {"llm": {"base": "llm-secondary"}, "llm-tertiary": {}},
            {},
            "mechanisms.llm.base",
            "expected the name of another policy (known: llm, llm-tertiary), got 'llm-secondary'",
            id="unknown-base",
        ),
        pytest.param(
            {"a": {"base": "b"}, "b": {"base": "a"}},
            {},
            "mechanisms.a.base",
            "inheritance cycle: a → b → a",
            id="inheritance-cycle",
        ),
        pytest.param(
            {"defaults": {"base": "a"}, "a": {}},
            {},
            "mechanisms",
            "expected no 'base' in 'defaults'",
            id="defaults-with-base",
        ),
        pytest.param(
            {"defaults": {"bulkhead": {"max_wait": 1}}, "db": {"bulkhead": {}}},
            {},
            "mechanisms.db.bulkhead.max_concurrent",
            "required, but set neither here, nor in its base policies, nor in defaults",
            id="required-option-missing-after-inheritance",
        ),
        pytest.param(
            {"llm primary": {}},
            {},
            "mechanisms.llm primary",
            "expected a policy name of letters, digits and _ . : -",
            id="bad-policy-name",
        ),
        pytest.param(
            {"llm": {"hedge": {"delay": "p95", "min_samples": 50, "sample_size": 10}}},
            {},
            "mechanisms.llm.hedge",
            "sample_size: expected ≥ min_samples (50), got 10",
            id="rejected-by-the-mechanism-itself",
        ),
        pytest.param(
            {"llm": {"retry": {"wait": {"kind": "full_jitter", "initial": 5, "max": 1}}}},
            {},
            "mechanisms.llm.retry",
            "expected initial > 0, max >= initial",
            id="rejected-by-the-wait-strategy",
        ),
        pytest.param(
            {},
            {"version": 2},
            "version",
            "expected 1 (the only plan format this version reads), got 2",
            id="unknown-version",
        ),
        pytest.param(
            {},
            {"tier": "gold"},
            "tier",
            "expected 'standard', 'high', 'critical' or 'ultra', got 'gold'",
            id="unknown-tier",
        ),
    ],
)
def test_each_kind_of_mistake_names_file_field_and_expectation(
    tmp_path: Path, mechanisms: dict[str, Any], top: dict[str, Any], field: str, expected: str
) -> None:
    path = _write(tmp_path, mechanisms, **top)
    error = _error(path)
    message = str(error)
    assert message.startswith(f"{path}: ")
    assert f"{field}: " in message, message
    assert expected in message, message
    assert error.source == str(path)
    assert any(p == field and expected in problem for p, problem in error.problems), error.problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"a": {"timeout": -1, "retry": {"max_attempts": 0}}, "b": {"bulkhead": {"max_wait": "x"}}},
    )
    error = _error(path)
    assert [p for p, _ in error.problems] == [
        "mechanisms.a.timeout",
        "mechanisms.a.retry.max_attempts",
        "mechanisms.b.bulkhead.max_wait",
    ]
    assert str(error).startswith(f"{path}: 3 problems: ")


def test_a_missing_required_top_level_field(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("version: 1\nmechanisms: {}\n")
    assert str(_error(path)) == f"{path}: system: required, but not set"


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("version: 1\nsystem: x\nmechanisms:\n  llm: {timeout: [1\n")
    message = str(_error(path))
    assert message.startswith(f"{path}: not valid YAML")
    assert "line 5" in message


def test_json_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"version": 1,\n "system": }')
    assert str(_error(path)).startswith(f"{path}: not valid JSON (Expecting value at line 2")


@pytest.mark.parametrize(("text", "got"), [("", "an empty file"), ("- 1\n- 2\n", "list")])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    assert str(_error(path)) == (
        f"{path}: expected a mapping with version, system, mechanisms; got {got}"
    )


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert str(_error(path)) == (f"{path}: cannot read the plan file (No such file or directory)")


def test_a_mapping_is_named_as_such() -> None:
    error = _error({"version": 1, "system": "x", "mechanisms": {"a": {"timeout": "soon"}}})
    assert str(error).startswith("<plan mapping>: mechanisms.a.timeout: expected a duration")


def test_an_old_option_name_is_refused_with_the_new_one() -> None:
    error = _error(
        {"version": 1, "system": "x", "mechanisms": {"a": {"rate_limiter": {"rate_per_s": 5}}}}
    )
    assert str(error) == (
        "<plan mapping>: mechanisms.a.rate_limiter: 'rate_per_s' was renamed 'rate_per_second' "
        "(same meaning)"
    )
