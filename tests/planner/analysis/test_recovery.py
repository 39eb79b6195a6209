"""Recovery: RTO = detect + decide + failover + warm-up; RPO from replication or backups."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.analysis import blast, mechanisms, recovery
from planner.analysis.catalog import KIND_DEFAULTS
from planner.analysis.graph import Graph
from planner.analysis.monitoring.alerts import derive as derive_alerts
from planner.model import RecoveryScenario, RecoverySection
from planner.spec import parse_spec


def plan(components: list[dict[str, Any]], **top: Any) -> RecoverySection:
    doc = {"version": 1, "system": "s", "tier": "high", "components": components, **top}
    g = Graph(parse_spec(doc))
    alerts = derive_alerts(g.spec)
    mech = mechanisms.derive(g)
    return recovery.plan(g, blast.analyse(mech), mech, alerts)


def scenario(section: RecoverySection, text: str) -> RecoveryScenario:
    return next(s for s in section.scenarios if s.scenario == text)


SHOP = [
    {
        "name": "web",
        "kind": "service",
        "entry_point": True,
        "replicas": 3,
        "zones": ["a", "b", "c"],
        "dependencies": [{"target": "db"}],
    },
    {
        "name": "db",
        "kind": "database",
        "replicas": 2,
        "mttr": "20m",
        "zones": ["a", "b"],
        "data": {"replication": "async", "replication_lag": "3s", "backup_interval": "1h"},
    },
    {"name": "single", "kind": "service", "mttr": "10m", "entry_point": True},
]
TARGETS = {
    "rto": "30m",
    "rpo": "15m",
    "per_disruption": {"host": {"rto": "2m", "rpo": "5s"}, "region": {"rto": "4h", "rpo": "1h"}},
}


def test_rto_is_the_sum_of_its_parts() -> None:
    section = plan(SHOP, recovery_targets=TARGETS)
    host = scenario(section, "web host failure")
    assert host.rto.value == 30.0  # 3 failed probes × 10 s; a spare replica serves
    assert host.rto.inputs["failover"] == 0.0
    db = scenario(section, "db host failure")
    # 30 s detect + 120 s promotion + the database's 60 s warm-up
    assert db.rto.value == 30.0 + 120.0 + KIND_DEFAULTS["database"].warm_up
    assert db.rpo.value == 3.0 and db.rpo.formula == "async replication lag"
    single = scenario(section, "single host failure")
    assert single.rto.value == 30.0 + 600.0 + KIND_DEFAULTS["service"].warm_up


def test_met_or_breached_against_the_most_specific_target() -> None:
    section = plan(SHOP, recovery_targets=TARGETS)
    assert scenario(section, "web host failure").status == "met"  # 30 s ≤ 2 m
    db = scenario(section, "db host failure")
    assert db.rto_target is not None and db.rto_target.value == 120.0
    assert db.status == "breached"  # 210 s > 2 m
    loss = scenario(section, "db data loss / corruption")
    assert loss.rpo.value == 3600.0 and loss.rpo_target is not None
    assert loss.rpo_target.value == 900.0 and loss.status == "breached"
    assert scenario(section, "zone a outage").status == "met"


def test_no_targets_means_no_verdict() -> None:
    section = plan(SHOP)
    assert {s.status for s in section.scenarios} == {"no target"}
    assert section.strategy.strategy == "warm_standby"  # the default for tier high


def test_software_failure_waits_for_the_page_and_a_person() -> None:
    section = plan(SHOP)
    deploy = scenario(section, "web bad deploy / software failure")
    page = 14.4 * 0.0005 * 3600  # the fast-burn page at 99.95 %: 25.92 s, below one health check
    assert deploy.rto.inputs["detect"] == max(30.0, page)
    assert deploy.rto.inputs["decide"] == 300.0


def test_rpo_without_backups_is_unbounded() -> None:
    section = plan(
        [
            {
                "name": "q",
                "kind": "queue",
                "entry_point": True,
                "data": {"stateful": True, "replication": "sync"},
            }
        ]
    )
    assert scenario(section, "q host failure").rpo.value == 0.0  # synchronous replication
    assert math.isinf(scenario(section, "q data loss / corruption").rpo.value)


def test_dr_strategy_is_the_cheapest_that_meets_the_region_targets() -> None:
    assert plan(SHOP, recovery_targets=TARGETS).strategy.strategy == "pilot_light"
    tight = {"per_disruption": {"region": {"rto": "10m", "rpo": "30s"}}}
    assert plan(SHOP, recovery_targets=tight).strategy.strategy == "active_active"
    loose = {"per_disruption": {"region": {"rto": "2d", "rpo": "1d"}}}
    assert plan(SHOP, recovery_targets=loose).strategy.strategy == "backup_restore"


def test_backups_failover_and_reconciliation() -> None:
    section = plan(SHOP, recovery_targets=TARGETS)
    (backup,) = section.backups
    assert backup.component == "db"
    assert backup.interval.value == 900.0  # the declared 1 h exceeds the 15 min RPO target
    assert "exceeds" in backup.reason and "point-in-time" in backup.method
    assert backup.retention.value == pytest.approx(37 * 86400)
    assert [s.step for s in section.failover] == [
        "Primary",
        "Traffic shift",
        "Validate",
        "Alert",
        "Investigate",
        "Recover",
        "Failback",
    ]
    assert "db" in section.failover[0].detail  # the widest blast radius
    (rec,) = section.reconciliation
    assert rec.component == "db" and "3s" in rec.steps[0]


def test_different_targets_keep_software_failure_and_outage_apart() -> None:
    section = plan(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "replicas": 2,
                "rps": 20,
                "dependencies": [{"target": "llm", "fallback": "backup"}],
            },
            {"name": "llm", "kind": "llm_api"},
            {"name": "backup", "kind": "llm_api"},
        ],
        recovery_targets={
            "per_disruption": {"software": {"rto": "3s"}, "host": {"rto": "1m"}},
        },
    )
    software = scenario(section, "llm software failure (callers fall back)")
    outage = scenario(section, "llm outage (callers fall back)")
    assert (software.status, outage.status) == ("breached", "met")  # 5 s to trip the breaker


def test_a_component_every_caller_falls_back_from_recovers_when_the_breakers_open() -> None:
    section = plan(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "replicas": 2,
                "rps": 20,
                "dependencies": [{"target": "llm", "fallback": "backup"}],
            },
            {"name": "llm", "kind": "llm_api"},
            {"name": "backup", "kind": "llm_api"},
        ],
        recovery_targets={"rto": "1m", "rpo": "0s"},
    )
    # software failure and outage recover the same way against the same targets: one row
    outage = scenario(section, "llm failure (callers fall back)")
    assert outage.rto.value == pytest.approx(100 / 20)  # the breaker's 100 calls at 20 calls/s
    assert outage.status == "met"
    names = {s.scenario for s in section.scenarios}
    assert "llm host failure" not in names
    assert not any(n.startswith(("llm outage", "llm software failure")) for n in names)
    # the failover plan follows the component with a secondary and the widest blast radius
    assert section.failover[0].detail.startswith("llm:")
    assert "serve the fallback (backup)" in section.failover[1].detail
    assert "provider restores llm" in section.failover[5].detail


def test_synchronous_replication_loses_no_acknowledged_write() -> None:
    section = plan(
        [
            {
                "name": "q",
                "kind": "queue",
                "entry_point": True,
                "replicas": 3,
                "data": {"replication": "sync"},
            }
        ]
    )
    (rec,) = section.reconciliation
    assert rec.steps[0].startswith("bound the loss window: none")
    assert any("idempotent" in step for step in rec.steps)
