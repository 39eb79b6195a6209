"""Failure-mode analysis: catalog merge, impact/probability thresholds, risk matrix, RPN, order."""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import availability, blast, failures, mechanisms
from planner.analysis.catalog import CATALOG, KIND_DEFAULTS
from planner.analysis.graph import Graph
from planner.spec import KINDS, parse_spec


def analyse(components: list[dict[str, Any]], **top: Any) -> failures.Failures:
    doc = {"version": 1, "system": "s", "tier": "high", "components": components, **top}
    g = Graph(parse_spec(doc))
    mech = mechanisms.derive(g)
    return failures.analyse(g, availability.model(g), blast.analyse(mech), mech)


def by_name(result: failures.Failures) -> dict[tuple[str, str], Any]:
    return {(m.component, m.name): m for m in result.modes}


def test_every_kind_has_a_catalog_whose_weights_split_its_failures() -> None:
    assert set(CATALOG) == set(KINDS) == set(KIND_DEFAULTS)
    for kind, modes in CATALOG.items():
        assert sum(m.weight for m in modes) == pytest.approx(1.0), kind
        assert all(1 <= m.detection <= 10 for m in modes)


@pytest.mark.parametrize(
    ("impact", "probability", "rpn", "expected"),
    [
        ("H", "H", 1, "P1"),
        ("H", "M", 1, "P1"),
        ("M", "H", 1, "P1"),  # the ● cells
        ("H", "L", 1, "P2"),
        ("M", "M", 1, "P2"),
        ("L", "H", 1, "P2"),
        ("M", "L", 124, "P3"),
        ("M", "L", 125, "P2"),
        ("L", "L", 1, "P3"),
        ("L", "M", 1, "P3"),
    ],
)
def test_priority_from_the_seed_matrix_and_rpn(
    impact: Any, probability: Any, rpn: int, expected: str
) -> None:
    assert failures.priority_of(impact, probability, rpn) == expected


def test_thresholds() -> None:
    assert [failures.probability_level(x) for x in (4.0, 3.99, 0.5, 0.49)] == ["H", "M", "M", "L"]
    assert [failures.impact_level(x) for x in (25.0, 24.9, 5.0, 4.9)] == ["H", "M", "M", "L"]
    assert failures.occurrence_rating(52) == 10 and failures.occurrence_rating(0.001) == 1
    assert failures.severity_rating("H", 100) == 10 and failures.severity_rating("L", 0) == 1


def test_probability_from_availability_and_mttr() -> None:
    result = analyse(
        [
            {
                "name": "api",
                "kind": "external_api",
                "entry_point": True,
                "availability": 99.0,
                "mttr": "1h",
            }
        ]
    )
    mode = by_name(result)[("api", "outage-5xx")]
    # 0.4 of the failures × 8760 h × 1 % / 1 h = 35.04 a year → H
    assert mode.probability_basis.value == pytest.approx(0.4 * 8760 * 0.01)
    assert mode.probability == "H" and mode.occurrence == 8


def test_replicas_mask_independent_failures_but_not_common_mode_ones() -> None:
    one = by_name(
        analyse(
            [
                {
                    "name": "s",
                    "kind": "service",
                    "entry_point": True,
                    "availability": 99.0,
                    "mttr": "1h",
                }
            ]
        )
    )
    three = by_name(
        analyse(
            [
                {
                    "name": "s",
                    "kind": "service",
                    "entry_point": True,
                    "availability": 99.0,
                    "mttr": "1h",
                    "replicas": 3,
                }
            ]
        )
    )
    assert three[("s", "crash-loop")].probability_basis.value < (
        one[("s", "crash-loop")].probability_basis.value / 1000
    )
    assert three[("s", "bad-deploy")].probability_basis.value == pytest.approx(
        one[("s", "bad-deploy")].probability_basis.value
    )


def test_impact_from_users_impacted_and_partial_modes() -> None:
    result = by_name(
        analyse(
            [
                {
                    "name": "web",
                    "kind": "service",
                    "entry_point": True,
                    "traffic_share": 0.9,
                    "replicas": 3,
                    "dependencies": [{"target": "db"}],
                },
                {
                    "name": "admin",
                    "kind": "service",
                    "entry_point": True,
                    "traffic_share": 0.1,
                    "replicas": 3,
                    "dependencies": [{"target": "search"}],
                },
                {"name": "db", "kind": "database", "replicas": 2},
                {"name": "search", "kind": "search", "replicas": 2},
            ]
        )
    )
    assert result[("db", "primary-crash")].impact == "H"  # 90 % of users
    assert result[("db", "replication-lag")].impact == "M"  # partial: one level lower
    assert result[("search", "outage")].impact == "M"  # 10 % of users
    assert result[("search", "outage")].users_impacted.value == pytest.approx(10.0)


def test_quota_utilisation_sets_rate_limit_probability() -> None:
    result = by_name(
        analyse(
            [
                {
                    "name": "gw",
                    "kind": "service",
                    "entry_point": True,
                    "rps": 90,
                    "dependencies": [{"target": "llm"}],
                },
                {"name": "llm", "kind": "llm_api", "quota": {"rps": 100}},
            ]
        )
    )
    mode = result[("llm", "rate-limited")]
    assert mode.probability == "M"  # 90 / 100 ≥ 0.7
    assert mode.probability_basis.value == pytest.approx(0.9)
    assert "llm: rate_limiter" in mode.mechanisms


def test_declared_modes_merge_with_the_catalog() -> None:
    result = by_name(
        analyse(
            [
                {
                    "name": "api",
                    "kind": "external_api",
                    "entry_point": True,
                    "failure_modes": [
                        {
                            "name": "schema-drift",
                            "failure": "Schema changed",
                            "impact": "H",
                            "probability": "L",
                            "detection": 6,
                        },
                        {"name": "timeouts", "failure": "Slow on Mondays", "probability": "H"},
                    ],
                }
            ]
        )
    )
    drift = result[("api", "schema-drift")]
    assert (drift.source, drift.impact, drift.probability, drift.detection) == (
        "declared",
        "H",
        "L",
        6,
    )
    assert result[("api", "timeouts")].failure == "Slow on Mondays"
    assert result[("api", "timeouts")].probability == "H"
    assert result[("api", "outage-5xx")].source == "catalog"


def test_sorted_by_priority_then_rpn_with_sequential_ids_and_matrix_counts() -> None:
    result = analyse(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "zones": ["a"],
                "dependencies": [{"target": "db"}, {"target": "cache", "type": "soft"}],
            },
            {"name": "db", "kind": "database"},
            {"name": "cache", "kind": "cache"},
        ]
    )
    modes = result.modes
    keys = [(m.priority, -m.rpn) for m in modes]
    assert keys == sorted(keys)
    assert [m.id for m in modes] == [f"FM-{i:03d}" for i in range(1, len(modes) + 1)]
    assert all(m.rpn == m.severity * m.occurrence * m.detection for m in modes)
    assert all(
        m.priority == "P1" for m in modes if (m.impact, m.probability) in failures.CRITICAL_CELLS
    )
    assert sum(c.count for c in result.matrix) == len(modes)
    assert [c.critical for c in result.matrix] == [
        False,
        True,
        True,
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert any(m.component == "zone:a" for m in modes)


def test_mechanisms_or_a_stated_reason() -> None:
    result = by_name(
        analyse(
            [
                {
                    "name": "gw",
                    "kind": "service",
                    "entry_point": True,
                    "rps": 10,
                    "dependencies": [{"target": "llm", "fallback": "backup"}],
                },
                {"name": "llm", "kind": "llm_api"},
                {"name": "backup", "kind": "llm_api"},
            ]
        )
    )
    outage = result[("llm", "outage-5xx")]
    assert outage.mechanisms == ("llm: circuit_breaker", "llm: fallback", "llm: retry")
    assert "fallback → backup" in outage.mitigation
    quality = result[("llm", "degraded-answers")]
    assert quality.silent and quality.mechanisms == ()
    assert not quality.contained and quality.mitigation.startswith("answers succeed")
    assert quality.containment.startswith("no runtime mechanism: answers succeed")
    # wrong answers at HTTP 200: the breaker and the fallback do not reduce who sees them
    assert quality.users_impacted_with.value == quality.users_impacted.value == 100.0
    assert outage.users_impacted_with.value == 0.0  # an outage the fallback does contain
    deploy = result[("gw", "bad-deploy")]
    assert deploy.mechanisms == ()
    assert not deploy.contained and deploy.mitigation.startswith("entry point")


def test_modes_that_succeed_at_the_transport_level_are_silent() -> None:
    from planner.analysis.catalog import CATALOG

    silent = sorted((kind, m.name) for kind, modes in CATALOG.items() for m in modes if m.silent)
    assert silent == [
        ("database", "replication-lag"),
        ("llm_api", "degraded-answers"),
        ("search", "index-lag"),
        ("vector_db", "stale-index"),
    ]
