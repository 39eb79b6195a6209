"""Each component's facts are resolved once, with their source, and every section reads them."""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import build_plan
from planner.analysis.catalog import KIND_DEFAULTS
from planner.analysis.graph import Graph
from planner.spec import parse_spec
from planner.units import format_duration


def _spec(components: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "system": "s", "tier": "high", "components": components}


COMPONENTS: list[dict[str, Any]] = [
    {
        "name": "api",
        "kind": "service",
        "entry_point": True,
        "rps": 50,
        "latency": {"p99": "20ms"},  # p50 not declared, and below the service default's 50ms
        "dependencies": [{"target": "db", "type": "hard"}, {"target": "llm", "type": "hard"}],
    },
    {"name": "db", "kind": "database", "mtbf": "30d", "mttr": "45m"},
    {"name": "llm", "kind": "llm_api", "availability": 99.5, "latency": {"p50": "1s", "p99": "4s"}},
]


def test_every_fact_carries_its_source() -> None:
    facts = Graph(parse_spec(_spec(COMPONENTS))).facts
    api, db, llm = facts["api"], facts["db"], facts["llm"]
    assert (api.p99.value, api.p99_source) == (0.02, "declared")
    # the kind's p50 would be above the declared p99: capped at it, and said to be derived
    assert (api.p50.value, api.p50_source) == (0.02, "derived")
    assert api.p50.formula == "min(catalog p50, declared p99)"
    assert (api.mttr.value, api.mttr_source) == (KIND_DEFAULTS["service"].mttr, "catalog default")
    assert (db.mttr.value, db.mttr_source) == (2700.0, "declared")
    assert db.availability_source == "derived"
    assert db.availability.value == pytest.approx(30 * 86400 / (30 * 86400 + 2700) * 100)
    assert (llm.availability.value, llm.availability_source) == (99.5, "declared")
    assert (llm.p50.value, llm.p50_source) == (1.0, "declared")
    assert llm.managed and not db.managed
    assert (db.warm_up.value, db.warm_up_source) == (
        KIND_DEFAULTS["database"].warm_up,
        "catalog default",
    )


def test_the_declared_mttr_is_the_one_availability_breakers_and_recovery_use() -> None:
    plan = build_plan(parse_spec(_spec(COMPONENTS)))
    mttr = {c.component: c.mttr.value for c in plan.availability.components}
    assert mttr == {
        "api": KIND_DEFAULTS["service"].mttr,
        "db": 2700.0,
        "llm": KIND_DEFAULTS["llm_api"].mttr,
    }
    db_breaker = next(
        r for r in plan.mechanisms if r.target == "db" and r.mechanism == "circuit_breaker"
    )
    assert db_breaker.figures["open_duration"].inputs["mttr"] == 2700.0
    host = next(s for s in plan.recovery.scenarios if s.scenario == "db host failure")
    assert host.rto.inputs["failover"] == 2700.0
    assert f"MTTR {format_duration(2700.0)}" in host.procedure
