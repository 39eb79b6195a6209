"""The spec checked as a whole (issue 14): every problem at once, each naming its field, with
"did you mean"; non-finite numbers, zero MTTR and overflowing replica counts refused; latency
contradictions warned about — exit 2 or a warning, never a traceback or exit 70."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli import main
from planner.errors import SpecError
from planner.spec import parse_spec, spec_warnings


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
                "latency": {"p99": "500ms"},
                "dependencies": [{"target": "payments-db"}, {"target": "cache", "type": "soft"}],
            },
            {"name": "payments-db", "kind": "database", "latency": {"p99": "50ms"}},
            {"name": "cache", "kind": "cache"},
        ],
    }


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(doc, "s.yaml")
    message = str(info.value)
    assert message.startswith("s.yaml: ")
    head, _, rest = message.partition("\n")
    if not rest:
        return [message.removeprefix("s.yaml: ")]
    lines = [line.strip() for line in rest.splitlines()]
    assert head == f"s.yaml: {len(lines)} problems:"
    return lines


def test_every_problem_is_listed_at_once_with_did_you_mean() -> None:
    doc = base()
    web, db, cache = doc["components"]
    web["replica"] = 2  # unknown key: replicas
    db["kind"] = "databse"  # unknown kind: database
    cache["mttr"] = 0  # a zero repair time
    db["availability"] = float("nan")
    web["dependencies"][0]["calls_per_request"] = float("inf")
    found = problems(doc)
    assert found == [
        "components[0] (web).dependencies[0].calls_per_request: expected a finite number",
        "components[0] (web).replica: unknown key (did you mean 'replicas'?)",
        "components[1] (payments-db).kind: expected 'service', 'worker', 'database', 'cache',"
        " 'queue', 'object_storage', 'load_balancer', 'dns', 'cdn', 'external_api', 'llm_api',"
        " 'vector_db' or 'search' (did you mean 'database'?)",
        "components[1] (payments-db).availability: expected a finite number",
        "components[2] (cache): mttr must be above 0, got 0 (a failure that takes no time to"
        " repair makes every availability 100 %)",
    ]
    assert not any("more error" in line for line in found)


def test_graph_problems_are_all_listed_with_did_you_mean_for_names() -> None:
    doc = base()
    web, db, _ = doc["components"]
    web["dependencies"][0]["target"] = "payment-db"  # misspelt target
    web["dependencies"][1]["fallback"] = "Payments_DB"  # a fallback that looks like a component
    db["dependencies"] = [{"target": "ledger"}]  # nothing close
    assert problems(doc) == [
        "components[0].dependencies[0].target: unknown component 'payment-db'"
        " (did you mean 'payments-db'?)",
        "components[0].dependencies[1].fallback: 'Payments_DB' is not a component (did you mean"
        " 'payments-db'?); a free-text fallback must not look like a component name",
        "components[1].dependencies[0].target: unknown component 'ledger'"
        " (known: cache, payments-db, web)",
    ]


def test_a_free_text_fallback_unlike_any_component_is_accepted() -> None:
    doc = base()
    doc["components"][0]["dependencies"][0]["fallback"] = "serve the cached page"
    doc["components"][0]["dependencies"][0]["fallback_availability"] = 99
    spec = parse_spec(doc)
    assert spec.components[0].dependencies[0].fallback_availability == 99


def test_fallback_availability_belongs_to_a_free_text_fallback() -> None:
    doc = base()
    doc["components"][0]["dependencies"][1].update(fallback="payments-db", fallback_availability=9)
    doc["components"][0]["dependencies"][0]["fallback_availability"] = 50
    assert problems(doc) == [
        "components[0].dependencies[0].fallback_availability: set without a fallback",
        "components[0].dependencies[1].fallback_availability: 'payments-db' is a component,"
        " whose own availability counts (declare it for a free-text fallback only)",
    ]


def test_replica_counts_that_would_overflow_are_refused() -> None:
    doc = base()
    doc["components"][2]["replicas"] = 10**400
    [line] = problems(doc)
    assert line.startswith("components[2] (cache).replicas: expected less than or equal to 10000")


def test_a_caller_faster_than_its_hard_dependency_is_a_warning_naming_both_fields() -> None:
    doc = base()
    doc["components"][1]["latency"] = {"p99": "2s"}  # web's p99 is 0.5 s and it always waits
    assert spec_warnings(parse_spec(doc)) == [
        "components[0].latency.p99: web's p99 (0.5 s) is below the p99 of its hard dependency"
        " payments-db (2 s, components[1].latency.p99) that components[0].dependencies[0]"
        " calls on every request; raise the caller's p99 or make the dependency soft"
    ]
    # a rare call (0.1 per request) does not bound the caller's p99; a soft one neither
    doc["components"][0]["dependencies"][0]["calls_per_request"] = 0.1
    assert spec_warnings(parse_spec(doc)) == []


def test_the_cli_exits_2_with_every_problem_and_prints_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base()
    doc["components"][0]["kind"] = "servce"
    doc["components"][1]["mtbf"] = ".inf"
    path = tmp_path / "system.yaml"
    path.write_text(yaml.safe_dump(doc).replace("'.inf'", ".inf"), encoding="utf-8")
    for command in ("plan", "validate", "failures"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "2 problems:" in err and "(did you mean 'service'?)" in err
        assert "components[1] (payments-db).mtbf: expected a duration" in err and "got inf" in err
    good = base()
    good["components"][1]["latency"] = {"p99": "2s"}
    path.write_text(yaml.safe_dump(good), encoding="utf-8")
    for command in ("plan", "validate"):
        assert main([command, str(path)]) == 0
        err = capsys.readouterr().err
        assert f"reliability: warning: {path}: components[0].latency.p99: web's p99" in err


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("users", 10**400, "users: expected less than or equal to 1000000000000"),
        ("rps", 1e308, "components[0] (web).rps: expected less than or equal to 1000000000"),
        (
            "calls",
            1e308,
            "components[0] (web).dependencies[0].calls_per_request: expected less than or equal"
            " to 1000000",
        ),
    ],
)
def test_numbers_that_would_overflow_the_arithmetic_are_refused(
    where: str, value: float, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: users 10**400 was an OverflowError and rps 1e308 a NaN bulkhead — exit 70
    doc = base()
    if where == "users":
        doc["users"] = value
    elif where == "rps":
        doc["components"][0]["rps"] = value
    else:
        doc["components"][0]["dependencies"][0]["calls_per_request"] = value
    path = tmp_path / "system.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["plan", str(path)]) == 2
    assert capsys.readouterr().err == f"reliability: error: {path}: {field}\n"


def test_an_unknown_top_level_key_suggests_the_known_one() -> None:
    doc = base()
    doc["teir"] = doc.pop("tier")
    doc["components"][0]["dependencies"][0]["fallbak"] = "x"
    assert problems(doc) == [
        "components[0] (web).dependencies[0].fallbak: unknown key (did you mean 'fallback'?)",
        "teir: unknown key (did you mean 'tier'?)",
        "set tier (standard, high, critical, ultra) or slo (a percentage)",
    ]


def test_a_field_error_does_not_hide_a_misspelt_name() -> None:
    # the kind fails field validation, so the graph check proper never runs; the names are
    # still checked from the raw document, in the same message
    doc = base()
    doc["components"][2]["kind"] = "cahce"
    doc["components"][0]["dependencies"][0]["target"] = "payments-bd"
    del doc["tier"]
    found = problems(doc)
    assert found[0].startswith("components[2] (cache).kind: expected 'service'")
    assert found[0].endswith("(did you mean 'cache'?)")
    assert found[1:] == [
        "set tier (standard, high, critical, ultra) or slo (a percentage)",
        "components[0].dependencies[0].target: unknown component 'payments-bd'"
        " (did you mean 'payments-db'?)",
    ]


def test_a_missing_tier_is_listed_with_the_graph_problems() -> None:
    doc = base()
    del doc["tier"]
    doc["components"][0]["dependencies"][0]["target"] = "payments-bd"
    assert problems(doc) == [
        "set tier (standard, high, critical, ultra) or slo (a percentage)",
        "components[0].dependencies[0].target: unknown component 'payments-bd'"
        " (did you mean 'payments-db'?)",
    ]
