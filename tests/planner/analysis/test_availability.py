"""Availability math against hand-computed values, and the modeled availability of small systems."""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import availability, mechanisms
from planner.analysis.availability import effective_availability
from planner.analysis.graph import Graph
from planner.model import AvailabilitySection, Figure
from planner.spec import parse_spec


def spec(components: list[dict[str, Any]], **top: Any) -> Graph:
    doc = {"version": 1, "system": "s", "tier": "critical", "components": components, **top}
    return Graph(parse_spec(doc))


def analyse(graph: Graph) -> AvailabilitySection:
    return availability.analyse(graph, availability.model(graph), mechanisms.derive(graph))


@pytest.mark.parametrize(
    ("objective", "days", "seconds"),
    [
        (99.99, 30, 259.2),  # 4.32 min
        (99.9, 30, 2592.0),  # 43m 12s
        (99.9, 28, 2419.2),  # 40m 19.2s
        (99.9, 365, 31536.0),  # 8h 45m 36s
        (99.95, 365, 15768.0),  # 4h 22m 48s
        (99.999, 365, 315.36),  # 5m 15.4s
        (99.9, 1, 86.4),
    ],
)
def test_downtime_budget(objective: float, days: float, seconds: float) -> None:
    assert availability.downtime_seconds(objective, days) == pytest.approx(seconds, rel=1e-9)


def test_downtime_table_labels_every_period_and_adds_a_custom_target() -> None:
    rows = availability.downtime_table(99.5, "custom")
    assert [r.objective for r in rows] == [99.5, 99.9, 99.95, 99.99, 99.999]
    critical = next(r for r in rows if r.label == "critical")
    by_period = {c.period: c.downtime.value for c in critical.cells}
    assert by_period["month (30 d)"] == pytest.approx(259.2)
    assert by_period["4 weeks (28 d)"] == pytest.approx(0.0001 * 28 * 86400)
    assert by_period["year (365 d)"] == pytest.approx(3153.6)
    # one convention: the quarter is a quarter of the 365-day year
    assert by_period["quarter (365/4 = 91.25 d)"] == pytest.approx(0.0001 * 91.25 * 86400)
    assert by_period["quarter (365/4 = 91.25 d)"] * 4 == pytest.approx(by_period["year (365 d)"])
    assert critical.cells[0].downtime.inputs["period_days"] == 1.0


@pytest.mark.parametrize(
    ("a", "n", "k", "expected"),
    [
        (0.99, 2, 1, 0.9999),  # two 99 % replicas = 99.99 %
        (0.99, 3, 2, 0.999702),  # 2-of-3 at 99 % = 99.9702 %
        (0.999, 3, 2, 0.999997002),
        (0.999, 4, 3, 0.999994007997),  # 0.999^4 + 4·0.999³·0.001
        (0.999, 2, 2, 0.998001),  # 2-of-2 is serial
        (0.9, 1, 1, 0.9),
    ],
)
def test_k_of_n(a: float, n: int, k: int, expected: float) -> None:
    assert availability.k_of_n(a, n, k) == pytest.approx(expected, abs=1e-12)


def test_mtbf_mttr() -> None:
    g = spec([{"name": "x", "kind": "service", "mtbf": "720h", "mttr": "1h"}])
    per, mttr, source = availability.replica_availability(g.components["x"])
    assert per.value == pytest.approx(100 * 720 / 721)  # 99.861 %
    assert (mttr.value, source) == (3600.0, "mtbf/mttr")
    assert per.formula == "mtbf / (mtbf + mttr) × 100"


def test_serial_product_over_hard_dependencies() -> None:
    g = spec(
        [
            {
                "name": "a",
                "kind": "service",
                "entry_point": True,
                "availability": 99.99,
                "dependencies": [{"target": "b"}, {"target": "soft", "type": "soft"}],
            },
            {
                "name": "b",
                "kind": "service",
                "availability": 99.99,
                "dependencies": [{"target": "c"}],
            },
            {"name": "c", "kind": "database", "availability": 99.99},
            {"name": "soft", "kind": "cache", "availability": 90.0},
        ]
    )
    section = analyse(g)
    # AWS: 99.99 % × 99.99 % × 99.99 % = 99.97 %; the soft dependency does not count
    assert section.current.value == pytest.approx(100 * 0.9999**3)
    assert section.meets_target is False
    assert section.entry_points[0].availability.inputs == {
        "A[a]": 99.99,
        "A[b]": 99.99,
        "A[c]": 99.99,
    }


def test_a_shared_dependency_counts_once() -> None:
    g = spec(
        [
            {
                "name": "a",
                "kind": "service",
                "entry_point": True,
                "availability": 99.0,
                "dependencies": [{"target": "b"}, {"target": "c"}],
            },
            {
                "name": "b",
                "kind": "service",
                "availability": 99.0,
                "dependencies": [{"target": "d"}],
            },
            {
                "name": "c",
                "kind": "service",
                "availability": 99.0,
                "dependencies": [{"target": "d"}],
            },
            {"name": "d", "kind": "database", "availability": 99.0},
        ]
    )
    assert analyse(g).current.value == pytest.approx(100 * 0.99**4)


TWO_ENTRIES = [
    {"name": "web", "kind": "service", "entry_point": True, "traffic_share": 0.75,
     "availability": 99.995},
    {"name": "api", "kind": "service", "entry_point": True, "traffic_share": 0.25,
     "availability": 99.98},
]  # fmt: skip


def test_traffic_weighted_over_entry_points_when_the_spec_says_so() -> None:
    # 0.75 × 99.995 + 0.25 × 99.98 = 74.99625 + 24.995 = 99.99125 ≥ 99.99 (critical): met,
    # although api alone (99.98) is below the target — the spec chose to weigh by traffic
    section = analyse(spec(TWO_ENTRIES, entry_weighting="traffic"))
    assert section.current.value == pytest.approx(99.99125)
    assert section.current.formula == "Σ share × A_entry"
    assert section.meets_target


def test_every_entry_must_meet_the_target_by_default() -> None:
    # the same two entries: api's 99.98 < 99.99 fails the tier, whatever web's traffic; the
    # system figure is the lowest entry's, so the report cannot read "99.99125 %, not met"
    section = analyse(spec(TWO_ENTRIES))
    assert section.current.value == pytest.approx(99.98)
    assert section.current.formula == "min over entry points of A_entry"
    assert not section.meets_target
    assert {e.component: e.availability.value for e in section.entry_points} == {
        "web": pytest.approx(99.995),
        "api": pytest.approx(99.98),
    }


def test_fallback_component_runs_in_parallel_with_the_mechanisms() -> None:
    g = spec(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "availability": 99.99,
                "dependencies": [{"target": "llm1", "fallback": "llm2"}],
            },
            {"name": "llm1", "kind": "llm_api", "availability": 99.0},
            {"name": "llm2", "kind": "llm_api", "availability": 98.0},
        ]
    )
    section = analyse(g)
    assert section.current.value == pytest.approx(100 * 0.9999 * 0.99)
    assert section.with_mechanisms.value == pytest.approx(100 * 0.9999 * (1 - 0.01 * 0.02))


def test_free_text_fallback_earns_no_credit_until_its_availability_is_declared() -> None:
    g = spec(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "availability": 99.9,
                "dependencies": [{"target": "db", "fallback": "cached page"}],
            },
            {"name": "db", "kind": "database", "availability": 95.0},
        ]
    )
    section = analyse(g)
    # 1 - (1 - 0.95)(1 - 0) = 0.95: the edge counts as if it had no fallback
    assert section.with_mechanisms.value == pytest.approx(99.9 * 0.95)
    assert section.current.value == pytest.approx(99.9 * 0.95)


def test_free_text_fallback_with_a_declared_availability() -> None:
    g = spec(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "availability": 99.9,
                "dependencies": [
                    {"target": "db", "fallback": "cached page", "fallback_availability": 90}
                ],
            },
            {"name": "db", "kind": "database", "availability": 95.0},
        ]
    )
    # 1 - (1 - 0.95)(1 - 0.90) = 1 - 0.05 × 0.1 = 0.995; × 0.999 = 0.994005
    assert analyse(g).with_mechanisms.value == pytest.approx(99.4005)


def test_replicated_database_pays_its_failover_time() -> None:
    # db: 2 replicas at 99.9 %, MTTR 1 h, replication async → the primary is promoted on failure.
    # MTBF = a × MTTR / (1 - a) = 0.999 × 3600 / 0.001 = 3 596 400 s
    # failover = health check 30 s + promotion 120 s + database warm-up (catalog)
    g = spec(
        [
            {
                "name": "db",
                "kind": "database",
                "replicas": 2,
                "availability": 99.9,
                "mttr": "1h",
                "data": {"replication": "async"},
            }
        ]
    )
    facts = g.facts["db"]
    assert facts.failover is not None
    assert facts.warm_up.value == 60.0  # the database kind's catalog warm-up
    assert facts.failover.value == 30.0 + 120.0 + 60.0 == 210.0  # the 210 s
    mtbf = 0.999 * 3600 / 0.001  # 3 596 400 s
    two = 1 - 0.001**2  # 1-of-2: 0.999999
    # 0.999999 × 3 596 400 / 3 596 610 = 0.999999 × 0.99994161 = 0.9999406
    modeled = availability.model(g)
    assert modeled.effective["db"].value == pytest.approx(100 * two * mtbf / (mtbf + 210.0))
    assert modeled.effective["db"].value == pytest.approx(99.994061, abs=1e-6)


def test_the_recovery_section_uses_the_same_failover_figure() -> None:
    from planner.analysis import build_plan

    doc = {
        "version": 1,
        "system": "s",
        "tier": "critical",
        "components": [
            {"name": "db", "kind": "database", "replicas": 2, "availability": 99.9,
             "mttr": "1h", "data": {"replication": "async"}},
        ],
    }  # fmt: skip
    spec_ = parse_spec(doc)
    plan = build_plan(spec_)
    [host] = [s for s in plan.recovery.scenarios if s.disruption == "host"]
    failover = Graph(spec_).facts["db"].failover
    assert failover is not None and host.rto.value == failover.value


def test_caps_name_the_components_below_target() -> None:
    g = spec(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "replicas": 3,
                "availability": 99.9,
                "dependencies": [{"target": "db"}],
            },
            {"name": "db", "kind": "database", "availability": 99.95},
        ]
    )
    caps = analyse(g).caps
    assert [c.component for c in caps] == ["db"]
    assert caps[0].max_slo.value == pytest.approx(99.95)
    assert caps[0].below_target and caps[0].entry_points == ("gw",)


def test_catalog_default_is_labelled() -> None:
    g = spec([{"name": "x", "kind": "database", "entry_point": True}])
    comp = analyse(g).components[0]
    assert comp.source == "catalog default"
    assert comp.per_replica.inputs == {"kind": "database"}


def test_a_dependency_shared_by_primary_and_caller_is_counted_once_with_mechanisms() -> None:
    g = spec(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "availability": 100,
                "dependencies": [{"target": "a", "fallback": "b"}, {"target": "shared"}],
            },
            {
                "name": "a",
                "kind": "service",
                "availability": 99.0,
                "dependencies": [{"target": "shared"}],
            },
            {"name": "b", "kind": "service", "availability": 1.0},
            {"name": "shared", "kind": "database", "availability": 90.0},
        ]
    )
    section = analyse(g)
    assert section.current.value == pytest.approx(100 * 0.99 * 0.9)
    # given `shared` is up (it is in the serial part), the call needs a, or else b
    assert section.with_mechanisms.value == pytest.approx(100 * 0.9 * (1 - 0.01 * 0.99))
    assert section.with_mechanisms.value >= section.current.value


def test_a_standby_never_lowers_availability_when_failover_costs_more_than_it_saves() -> None:
    # hypothesis found it: a database at 10 % per replica with a 30 min MTTR fails every
    # MTBF = 0.1 × 1800 / 0.9 = 200 s of uptime; a 210 s failover after each failure leaves
    # (1 - 0.9²) × 200 / (200 + 210) = 19 % × 0.4878 = 9.27 %, below the single replica's 10 %.
    # Repairing in place is better, so the replicated figure is the single replica's.
    failover = Figure(210.0, "s", "detect + promote", {})
    two = effective_availability(10.0, 2, 1, failover, 1800.0)
    assert two.value == pytest.approx(10.0)
    assert two.formula.startswith("a (failing over costs more")
    # at 99.95 % the failover term is small: (1 - 0.0005²) × MTBF / (MTBF + 210), MTBF 3 598 200 s
    mtbf = 0.9995 * 1800 / 0.0005
    high = effective_availability(99.95, 2, 1, failover, 1800.0)
    assert high.value == pytest.approx((1 - 0.0005**2) * mtbf / (mtbf + 210) * 100)
