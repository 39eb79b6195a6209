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
    # no quota, so no rate-limited mode (weight 0.2): outage-5xx's 0.4 becomes 0.4 / 0.8 = 0.5
    # of the failures; MTBF = 0.99 × 1 h / 0.01 = 99 h; a common-mode failure happens once per
    # MTBF: 0.5 × 8760 h / 99 h = 44.24 a year → H (12 … 52 a year: occurrence 8)
    assert mode.probability_basis.value == pytest.approx(0.5 * 8760 / 99)
    assert mode.probability_basis.inputs["mtbf_s"] == pytest.approx(99 * 3600)
    assert mode.probability == "H" and mode.occurrence == 8


def test_spare_replicas_mask_independent_failures_not_common_mode_ones() -> None:
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
    # MTBF = 0.99 × 1 h / 0.01 = 99 h per replica. One replica: a crash loop takes the service
    # down once per MTBF, 0.35 × 8760 h / 99 h = 30.97 a year. Three replicas (1 of 3 needed):
    # the impact counted is the service down, which takes all three, a = 1 − 0.01³ = 99.9999 %,
    # so MTBF = 0.999999 × 1 h / 0.000001 = 999 999 h and 0.35 × 8760 / 999 999 = 0.003066 a
    # year. A bad deploy hits every replica at once: 0.4 × 8760 / 99 = 35.39 a year for both.
    assert one[("s", "crash-loop")].probability_basis.value == pytest.approx(0.35 * 8760 / 99)
    assert three[("s", "crash-loop")].probability_basis.value == pytest.approx(
        0.35 * 8760 / 999_999
    )
    assert three[("s", "crash-loop")].probability_basis.inputs["a_is"] == "with replicas"
    assert three[("s", "crash-loop")].probability_basis.inputs["n"] == 1
    assert three[("s", "bad-deploy")].probability_basis.value == pytest.approx(0.4 * 8760 / 99)
    assert three[("s", "bad-deploy")].probability_basis.inputs["a_is"] == "per replica"
    assert one[("s", "bad-deploy")].probability_basis.value == pytest.approx(0.4 * 8760 / 99)


def test_replication_lag_happens_per_standby() -> None:
    # postgres, 3 replicas at 99.9 %, MTTR 30 min, replication declared: MTBF = 0.999 × 1800 s /
    # 0.001 = 1 798 200 s per replica; two standbys can lag, 0.2 × 2 × 31 536 000 / 1 798 200
    # = 7.015 a year.
    modes = by_name(
        analyse(
            [
                {
                    "name": "api",
                    "kind": "service",
                    "entry_point": True,
                    "dependencies": [{"target": "db"}],
                },
                {
                    "name": "db",
                    "kind": "database",
                    "availability": 99.9,
                    "mttr": "30m",
                    "replicas": 3,
                    "data": {"stateful": True, "replication": "async"},
                },
            ]
        )
    )
    lag = modes[("db", "replication-lag")].probability_basis
    assert lag.inputs["n"] == 2
    assert lag.value == pytest.approx(0.2 * 2 * 31_536_000 / 1_798_200)


def test_a_primary_crashes_once_per_mtbf_however_well_its_failover_is_modelled() -> None:
    # web_shop's postgres: 2 replicas at 99.95 %, catalog MTTR 30 min, async replication (so a
    # primary failure is a 210 s promotion). MTBF = 0.9995 × 1800 s / 0.0005 = 3 598 200 s
    # (41.6 days): the primary crashes 31 536 000 / 3 598 200 = 8.764 times a year, and its
    # mode's weight 0.3 of that is 2.629 a year → M (0.5 … 4), occurrence 5 (1 … 4 a year).
    # The old `0.3 × year × (1 − A_with_failover) / MTTR` said 0.31 a year (L), dividing the
    # promotions' downtime by the repair time.
    db = {
        "name": "db", "kind": "database", "replicas": 2, "availability": 99.95,
        "data": {"stateful": True, "backup_interval": "24h", "replication": "async",
                 "replication_lag": "1s"},
    }  # fmt: skip
    api = {
        "name": "api",
        "kind": "service",
        "entry_point": True,
        "dependencies": [{"target": "db"}],
    }
    doc = {"version": 1, "system": "s", "tier": "high", "components": [api, db]}
    g = Graph(parse_spec(doc))
    modeled = availability.model(g)
    mech = mechanisms.derive(g)
    modes = by_name(failures.analyse(g, modeled, blast.analyse(mech), mech))
    crash = modes[("db", "primary-crash")].probability_basis
    mtbf = 0.9995 * 1800 / 0.0005
    assert mtbf == pytest.approx(3_598_200)
    assert crash.value == pytest.approx(0.3 * 31_536_000 / mtbf)
    assert crash.value == pytest.approx(2.629, abs=1e-3)
    assert (crash.inputs["n"], crash.inputs["mtbf_s"]) == (1, pytest.approx(mtbf))
    assert modes[("db", "primary-crash")].probability == "M"
    assert modes[("db", "primary-crash")].occurrence == 5
    # the availability model prices each of those crashes with the same MTBF:
    # A = (1 − 0.0005²) × MTBF / (MTBF + 210 s)
    eff = modeled.effective["db"]
    assert modeled.mtbf["db"].value == pytest.approx(mtbf)
    assert eff.value == pytest.approx((1 - 0.0005**2) * mtbf / (mtbf + 210) * 100)
    # replication lag is the one standby's: n = replicas − 1 = 1, 0.2 × 1 × 8.764 = 1.753
    lag = modes[("db", "replication-lag")].probability_basis
    assert lag.value == pytest.approx(0.2 * 1 * 31_536_000 / mtbf)


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
                {"name": "db", "kind": "database", "replicas": 2, "data": {"replication": "async"}},
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
