"""The failure-mode catalog and recovery texts follow the spec (issue 14, part 4).

Hand-computed specs; each test writes the arithmetic beside the figure it checks.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.analysis import build_plan
from planner.model import FailureMode, Plan, RecoveryScenario
from planner.spec import parse_spec


def build(components: list[dict[str, Any]], **top: Any) -> Plan:
    doc = {"version": 1, "system": "s", "tier": "high", "components": components, **top}
    return build_plan(parse_spec(doc))


def modes(plan: Plan) -> dict[tuple[str, str], FailureMode]:
    return {(m.component, m.name): m for m in plan.failure_modes}


def scenario(plan: Plan, text: str) -> RecoveryScenario:
    return next(s for s in plan.recovery.scenarios if s.scenario.startswith(text))


def store(db: dict[str, Any] | None = None, **extra: Any) -> list[dict[str, Any]]:
    """web (100 rps, all users) → cache (soft, falls back to db) and → db (hard)."""
    return [
        {
            "name": "web",
            "kind": "service",
            "entry_point": True,
            "replicas": 3,
            "rps": 100,
            "dependencies": [
                {"target": "cache", "type": "soft", "fallback": "db"},
                {"target": "db"},
            ],
        },
        {"name": "cache", "kind": "cache", "replicas": 2, "data": {"stateful": False}},
        {"name": "db", "kind": "database", "replicas": 2, "min_healthy": 2, **(db or {})},
        *extra.get("more", []),
    ]


def test_replication_lag_only_with_replication_and_the_weights_renormalised() -> None:
    plain = modes(build(store()))
    assert ("db", "replication-lag") not in plain
    # without replication lag (0.2) the others share all failures: 0.3 / 0.8 = 0.375
    assert plain[("db", "primary-crash")].probability_basis.inputs["weight"] == pytest.approx(0.375)
    assert plain[("db", "disk-full")].probability_basis.inputs["weight"] == pytest.approx(0.25)
    replicated = modes(build(store({"data": {"replication": "async"}})))
    assert ("db", "replication-lag") in replicated
    assert replicated[("db", "primary-crash")].probability_basis.inputs["weight"] == 0.3


def test_rate_limits_need_a_quota_and_backlogs_a_consumer() -> None:
    api = {"name": "api", "kind": "external_api"}
    queue = {"name": "q", "kind": "queue", "data": {"stateful": True}}
    producer = {"name": "web", "kind": "service", "entry_point": True}
    found = modes(
        build([{**producer, "dependencies": [{"target": "api"}, {"target": "q"}]}, api, queue])
    )
    assert ("api", "rate-limited") not in found
    assert ("q", "backlog") not in found and ("q", "poison-message") not in found
    assert ("q", "broker-outage") in found
    worker = {"name": "w", "kind": "worker", "dependencies": [{"target": "q"}]}
    found = modes(
        build(
            [
                {**producer, "dependencies": [{"target": "api"}, {"target": "q"}]},
                {**api, "quota": {"rps": 10}},
                queue,
                worker,
            ]
        )
    )
    assert ("api", "rate-limited") in found and ("q", "backlog") in found


def test_a_cache_outage_counts_the_load_it_moves_onto_the_database() -> None:
    found = modes(build(store()))
    outage = found[("cache", "outage")]
    # the cache's own outage reaches nobody (soft edge with a fallback), but it moves web's
    # 100 calls/s onto db, which declares no quota: db's overload reaches all of web's users
    assert outage.impact_basis.inputs["moved_onto"] == "db"
    assert outage.impact_basis.inputs["moved_rps"] == pytest.approx(100.0)
    assert outage.impact_basis.value == pytest.approx(100.0) and outage.impact == "H"
    assert "100/s move onto db" in outage.failure
    # a db quota that holds it: 100/s of its own + 100/s moved = 200/s ≤ 500/s → back to L
    held = modes(build(store({"quota": {"rps": 500}})))[("cache", "outage")]
    assert "moved_onto" not in held.impact_basis.inputs and held.impact == "L"
    # a quota the moved load exceeds: 200/s > 150/s → H again
    over = modes(build(store({"quota": {"rps": 150}})))[("cache", "outage")]
    assert over.impact == "H" and "100/s move onto db, over its 150/s quota" in over.failure


def test_a_database_without_data_is_asked_about_not_assumed_stateless() -> None:
    plan = build(store())
    loss = scenario(plan, "db data loss")
    assert loss.rpo.value == math.inf and "without data:" in loss.rpo.formula
    assert loss.procedure.startswith("declare db's data:")
    # a cache declared stateless has no data-loss scenario
    assert not any(s.scenario.startswith("cache data loss") for s in plan.recovery.scenarios)


def test_a_host_failure_of_an_n_of_n_component_names_its_replicas() -> None:
    host = scenario(build(store()), "db host failure")
    assert "only instance" not in host.procedure
    assert "all 2 replicas are needed (min_healthy 2)" in host.procedure
    # RTO = 30s health check + the database's 30 min MTTR + its 60s warm-up
    assert host.rto.value == pytest.approx(30 + 1800 + 60)


def test_the_region_scenario_follows_the_chosen_dr_strategy() -> None:
    # region targets 8h / 1h: backup & restore (24h / 24h) does not meet them, pilot light
    # (1h / 15m) does: the region scenario recovers within that band
    targets = {"per_disruption": {"region": {"rto": "8h", "rpo": "1h"}}}
    plan = build(store({"data": {"backup_interval": "6h"}}), recovery_targets=targets)
    assert plan.recovery.strategy.strategy == "pilot_light"
    region = scenario(plan, "region outage")
    assert (region.rto.value, region.rpo.value) == (3600.0, 900.0)
    assert region.rto == plan.recovery.strategy.typical_rto
    assert "pilot light" in region.scenario and "pilot light" in region.procedure
    # targets backup & restore meets: the rebuild from backups, RPO the 6h backup interval
    loose = {"per_disruption": {"region": {"rto": "2d", "rpo": "2d"}}}
    plan = build(store({"data": {"backup_interval": "6h"}}), recovery_targets=loose)
    region = scenario(plan, "region outage")
    assert plan.recovery.strategy.strategy == "backup_restore"
    assert "from backups" in region.procedure and region.rpo.value == 6 * 3600
