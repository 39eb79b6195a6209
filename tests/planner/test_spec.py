"""The system spec: what loads, and errors that name the file, the field and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.errors import SpecError
from planner.spec import SystemSpec, load_spec, parse_spec
from planner.units import format_duration, format_spec_duration, parse_duration
from tests.paths import ROOT_DIR

EXAMPLES = sorted(ROOT_DIR.glob("examples/*/system.yaml"))


def base() -> dict[str, Any]:
    return {
        "version": 1,
        "system": "shop",
        "tier": "high",
        "components": [
            {
                "name": "web",
                "kind": "service",
                "entry_point": True,
                "replicas": 2,
                "dependencies": [{"target": "db"}, {"target": "cache", "type": "soft"}],
            },
            {"name": "db", "kind": "database", "availability": 99.95},
            {"name": "cache", "kind": "cache"},
        ],
    }


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "system.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def error_of(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": "), message
    assert "\n" not in message
    return message


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_the_examples_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.components
    assert abs(sum(spec.entry_shares().values()) - 1.0) < 1e-9


def test_a_valid_spec_loads_with_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, base()))
    assert spec.objective == 99.95
    assert spec.slo_period == "30d"
    assert spec.component("db").availability == 99.95
    assert spec.component("web").dependencies[0].type == "hard"
    assert spec.entry_shares() == {"web": 1.0}


def test_unknown_dependency_target_is_named(tmp_path: Path) -> None:
    doc = base()
    doc["components"][0]["dependencies"][0]["target"] = "dbx"
    message = error_of(tmp_path, doc)
    assert "components[0].dependencies[0].target" in message
    assert "'dbx'" in message and "(did you mean 'db'?)" in message


def test_percentage_over_100_is_named(tmp_path: Path) -> None:
    doc = base()
    doc["components"][1]["availability"] = 100.5
    message = error_of(tmp_path, doc)
    assert "components[1] (db).availability" in message
    assert "at most 100" in message


def test_dependency_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    doc = base()
    doc["components"][1]["dependencies"] = [{"target": "cache"}]
    doc["components"][2]["dependencies"] = [{"target": "db"}]
    message = error_of(tmp_path, doc)
    assert "dependency cycle db -> cache -> db" in message


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    doc = base()
    doc["components"][0]["replicaz"] = 3
    assert "components[0] (web).replicaz: unknown key" in error_of(tmp_path, doc)


def test_bad_duration_names_the_field(tmp_path: Path) -> None:
    doc = base()
    doc["components"][1]["latency"] = {"p99": "fast"}
    message = error_of(tmp_path, doc)
    assert "components[1] (db).latency.p99" in message and "250ms" in message


def test_min_healthy_above_replicas(tmp_path: Path) -> None:
    doc = base()
    doc["components"][0]["min_healthy"] = 3
    assert "min_healthy (3) must not exceed replicas (2)" in error_of(tmp_path, doc)


def test_traffic_shares_must_sum_to_one(tmp_path: Path) -> None:
    doc = base()
    doc["components"][0]["traffic_share"] = 0.5
    assert "traffic shares must sum to 1, got 0.5" in error_of(tmp_path, doc)


def test_tier_or_slo_is_required(tmp_path: Path) -> None:
    doc = base()
    del doc["tier"]
    assert "set tier" in error_of(tmp_path, doc)
    doc["slo"] = 99.5
    spec = load_spec(write(tmp_path, doc))
    assert spec.objective == 99.5 and spec.tier_label == "custom"


def test_an_slo_of_100_leaves_no_budget(tmp_path: Path) -> None:
    doc = base()
    doc["slo"] = 100
    assert "no error budget" in error_of(tmp_path, doc)


def test_sli_needs_a_complete_shape(tmp_path: Path) -> None:
    doc = base()
    doc["slos"] = [{"name": "availability", "sli": {"errors": "x_total"}}]
    assert "slos[0].sli: expected errors + total" in error_of(tmp_path, doc)


def test_unknown_fallback_text_is_allowed_but_not_the_target_itself(tmp_path: Path) -> None:
    doc = base()
    doc["components"][0]["dependencies"][0]["fallback"] = "serve the cached page"
    assert load_spec(write(tmp_path, doc))
    doc["components"][0]["dependencies"][0]["fallback"] = "db"
    assert "fallback must differ" in error_of(tmp_path, doc)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("system: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_spec(path)
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="expected a mapping"):
        parse_spec(["a"], "list.yaml")


def test_entry_points_default_to_components_nobody_calls() -> None:
    doc = base()
    del doc["components"][0]["entry_point"]
    doc["components"].append({"name": "admin", "kind": "service"})
    spec: SystemSpec = parse_spec(doc)
    assert spec.entry_shares() == {"web": 0.5, "admin": 0.5}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("2s", 2.0), ("1m", 60.0), ("1.5h", 5400.0), ("1d", 86400.0), (3, 3.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_duration_formatting() -> None:
    assert format_duration(259.2) == "4m 19.2s"
    assert format_duration(31536.0) == "8h 45m 36s"
    assert format_duration(0.25) == "250ms"
    assert format_duration(float("inf")) == "unbounded"
    # the precision of the mechanism table's own notation, so a figure reads the same everywhere
    assert format_duration(100 / 150) == "667ms" == format_spec_duration(100 / 150)
    assert format_duration(100 / 80) == "1.25s" == format_spec_duration(100 / 80)
    assert format_duration(11.83) == "11.83s" == format_spec_duration(11.83)
    assert format_duration(0.0015) == "1.5ms"
    assert format_duration(0.0125) == "13ms"  # halves round up (round() would give 12)
    assert format_duration(2.675) == "2.68s"
    assert format_duration(59.999) == "1m"


def test_specs_load_with_the_c_loader_and_keep_line_and_column(tmp_path: Path) -> None:
    # libyaml is ~10× faster on 10,000-component specs; the pure-Python loader is the fallback
    import yaml

    from resilience.files import BoundedSafeLoader  # the loader load_spec reads with

    expected = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert issubclass(BoundedSafeLoader, expected)
    path = tmp_path / "bad.yaml"
    path.write_text("system: shop\ncomponents:\n  - name: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    # the same place the pure-Python loader reports
    try:
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        assert exc.problem_mark is not None
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
    assert str(caught.value).startswith(f"{path}: not valid YAML at {where} (")


def test_one_tiers_table_for_the_spec_and_the_plan_file() -> None:
    import typing

    from planner import spec as spec_module
    from resilience import config

    assert spec_module.TIERS is config.TIERS
    tier = spec_module.SystemSpec.model_fields["tier"].annotation
    literal = next(a for a in typing.get_args(tier) if a is not type(None))
    assert set(typing.get_args(literal)) == set(config.TIERS)
