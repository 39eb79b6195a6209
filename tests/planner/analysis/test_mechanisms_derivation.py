"""Mechanisms derived from the spec: each number from its inputs, and a table load_plan accepts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import resilience
from planner.analysis import build_plan, mechanisms
from planner.analysis.graph import Graph
from planner.analysis.mechanisms.edge_rules import EdgeRules
from planner.document import plan_to_dict
from planner.errors import PlannerError
from planner.spec import load_spec, parse_spec
from tests.paths import ROOT_DIR

EXAMPLES = sorted(ROOT_DIR.glob("examples/*/system.yaml"))


def derive(components: list[dict[str, Any]]) -> mechanisms.Mechanisms:
    doc = {"version": 1, "system": "s", "tier": "high", "components": components}
    return mechanisms.derive(Graph(parse_spec(doc)))


def gateway(**dep: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": "gw",
            "kind": "service",
            "entry_point": True,
            "rps": 40,
            "latency": {"p50": "50ms", "p99": "200ms"},
            "latency_budget": "2s",
            # declared idempotent (a read): a database call defaults to a write, never retried
            "dependencies": [{"target": "db", "idempotent": True, **dep}],
        },
        {
            "name": "db",
            "kind": "database",
            "latency": {"p50": "20ms", "p99": "100ms"},
            "mttr": "10m",
        },
    ]


def row(m: mechanisms.Mechanisms, policy: str, mechanism: str) -> Any:
    return next(r for r in m.rows if r.policy == policy and r.mechanism == mechanism)


def test_timeout_deadline_and_retries_fit_the_budget() -> None:
    m = derive(gateway())
    policy = m.table["db"]
    assert policy["timeout"] == pytest.approx(0.15)  # p99 100ms × 1.5
    assert policy["deadline"] == pytest.approx(1.95)  # 2s budget − gw p50 50ms
    retry = policy["retry"]
    assert retry["max_attempts"] == 3
    wait = retry["wait"]
    worst = sum(min(wait["max"], wait["multiplier"] * 2**i) for i in range(2))
    assert 3 * policy["timeout"] + worst <= policy["deadline"]
    assert retry["budget"] == {"ratio": 0.2, "min_per_second": 3.0}
    assert "fit the 1.95s deadline" in row(m, "db", "retry").reason


def test_retries_stop_where_they_no_longer_fit() -> None:
    components = gateway()
    components[0]["latency_budget"] = "300ms"  # deadline 250ms: one 150ms attempt only
    m = derive(components)
    assert "retry" not in m.table["db"]
    assert "does not fit the 250ms deadline" in row(m, "db", "retry").reason


def test_no_retry_when_not_idempotent_or_nothing_is_transient() -> None:
    m = derive(gateway(idempotent=False))
    assert "retry" not in m.table["db"] and "not idempotent" in row(m, "db", "retry").reason
    components = gateway()
    components[1]["failure_modes"] = [
        {"name": n, "failure": "x", "transient": False}
        for n in ("primary-crash", "connection-exhaustion")
    ]
    m = derive(components)
    assert "retry" not in m.table["db"]
    assert "no transient failure mode" in row(m, "db", "retry").reason


def test_timeout_is_clipped_to_a_tight_deadline() -> None:
    components = gateway()
    components[0]["latency_budget"] = "120ms"  # 70ms left after gw's own 50ms
    m = derive(components)
    assert m.table["db"]["timeout"] == pytest.approx(0.07)
    assert "clipped" in row(m, "db", "timeout").reason


def test_deadline_reserves_the_fallback_and_the_other_calls() -> None:
    m = derive(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "latency_budget": "30s",
                "latency": {"p50": "40ms", "p99": "300ms"},
                "dependencies": [
                    {"target": "cache", "type": "soft"},
                    {"target": "llm1", "fallback": "llm2"},
                ],
            },
            {"name": "cache", "kind": "cache", "latency": {"p99": "5ms"}},
            {"name": "llm1", "kind": "llm_api", "latency": {"p99": "8s"}},
            {"name": "llm2", "kind": "llm_api", "latency": {"p99": "12s"}},
        ]
    )
    # 30 s − 40 ms (own p50) − 5 ms (cache p99) − 18 s (llm2's timeout, the fallback's turn)
    assert m.table["llm1"]["deadline"] == pytest.approx(11.95)  # 11.955 rounded down to 10 ms
    deadline = row(m, "llm1", "deadline").figures["deadline"]
    assert deadline.inputs["fallback_timeout"] == 18.0
    assert m.table["llm1"]["fallback"] == {} and m.table["llm1"]["critical"] is False


def test_breaker_trips_within_its_stated_time_and_opens_from_mttr() -> None:
    m = derive(gateway())
    breaker = m.table["db"]["circuit_breaker"]
    # half of 40 rps × 10 s = 200, capped at 100 → trips in 2.5 s at full traffic, 5 s at half
    assert breaker["minimum_calls"] == 100
    assert breaker["window_type"] == "time" and breaker["window_size"] == 10
    assert row(m, "db", "circuit_breaker").figures["trip"].value == pytest.approx(2.5)
    # MTTR 10 min: first open 60 s (MTTR/10), doubling up to 5 min (MTTR/2)
    assert breaker["open_duration"] == {"initial": 60.0, "multiplier": 2.0, "max": 300.0}


def test_low_traffic_breaker_uses_the_floor_and_a_longer_window() -> None:
    components = gateway()
    components[0]["rps"] = 0.2
    breaker = derive(components).table["db"]["circuit_breaker"]
    # half of 0.2 rps × 10 s = 1 call, floored at 5; a window holding 5 calls at 0.1 rps: 50 s
    assert breaker["minimum_calls"] == 5
    assert breaker["window_size"] == math.ceil(5 / (0.2 * 0.5)) == 50


def test_bulkhead_by_littles_law() -> None:
    m = derive(gateway())
    # a slowdown holds each call up to its 150 ms attempt timeout (not its 100 ms p99):
    # L = 40 calls/s × 150 ms = 6 in flight: 6 × 1.5 = 9 < 6 + 3·√6 = 13.3 (bursts win) → 14
    assert m.table["db"]["bulkhead"] == {"max_concurrent": 14}
    assert mechanisms.bulkhead_capacity(1000.0) == 1500  # large L: the 1.5 headroom wins
    assert mechanisms.bulkhead_capacity(0.01) == 1


def test_rate_limit_splits_the_quota_by_traffic() -> None:
    m = derive(
        [
            {
                "name": "a",
                "kind": "service",
                "entry_point": True,
                "traffic_share": 0.5,
                "rps": 30,
                "dependencies": [{"target": "api"}],
            },
            {
                "name": "b",
                "kind": "service",
                "entry_point": True,
                "traffic_share": 0.5,
                "rps": 10,
                "dependencies": [{"target": "api"}],
            },
            {"name": "api", "kind": "external_api", "quota": {"rps": 20, "burst": 8}},
        ]
    )
    # several callers: caller.target; "a" and "b" are the entry points' own inbound policies
    assert set(m.table) == {"a.api", "b.api", "a", "b"}
    assert {p.policy for p in m.inbound.values()} == {"a", "b"}
    assert m.table["a.api"]["rate_limiter"] == {"rate_per_second": 15.0, "burst": 6}
    assert m.table["b.api"]["rate_limiter"] == {"rate_per_second": 5.0, "burst": 2}
    assert "exceeds it" in row(m, "a.api", "rate_limiter").reason


def test_soft_dependency_gets_a_fallback_and_is_not_critical() -> None:
    m = derive(gateway(type="soft"))
    assert m.table["db"]["fallback"] == {}
    assert m.table["db"]["critical"] is False
    assert derive(gateway()).table["db"]["critical"] is True


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_load_plan_accepts_the_plan_of_every_example(path: Path) -> None:
    plan = build_plan(load_spec(path))
    registry = resilience.load_plan(plan_to_dict(plan))
    assert set(plan.mechanism_table) <= {r.policy for r in plan.mechanisms}
    for name in plan.mechanism_table:
        assert name in repr(registry)


def test_a_tiny_quota_share_stays_a_valid_positive_rate() -> None:
    m = derive(
        [
            {
                "name": "a",
                "kind": "service",
                "entry_point": True,
                "rps": 1e6,
                "dependencies": [{"target": "api"}],
            },
            {
                "name": "b",
                "kind": "service",
                "entry_point": True,
                "rps": 0.001,
                "dependencies": [{"target": "api"}],
            },
            {"name": "api", "kind": "external_api", "quota": {"rps": 0.01}},
        ]
    )
    rate = m.table["b.api"]["rate_limiter"]["rate_per_second"]
    assert 0 < rate == pytest.approx(0.01 * 0.001 / (1e6 + 0.001), rel=1e-5)


def test_a_derived_table_the_runtime_would_refuse_is_a_planner_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the tests validate every derived table (tests/planner/conftest.py): a rule that went wrong
    # — here a bulkhead of no slots — fails planning with the policy and field it got wrong
    def no_slots(rules: EdgeRules) -> int | None:
        rules.sections["bulkhead"] = {"max_concurrent": 0}
        return 0

    assert derive(gateway()).table["db"]["bulkhead"]["max_concurrent"] >= 10
    monkeypatch.setattr(EdgeRules, "bulkhead", no_slots)
    with pytest.raises(PlannerError, match=r"mechanisms\.db\.bulkhead\.max_concurrent"):
        derive(gateway())
    mechanisms.check_tables(False)  # planning outside the tests: not validated again
    try:
        assert derive(gateway()).table["db"]["bulkhead"] == {"max_concurrent": 0}
    finally:
        mechanisms.check_tables(True)


def test_validate_table_accepts_a_derived_table_and_names_a_wrong_field() -> None:
    table = dict(derive(gateway()).table)
    mechanisms.validate_table(table)
    table["db"] = {**table["db"], "timeout": -1.0}
    with pytest.raises(PlannerError, match=r"mechanisms\.db\.timeout"):
        mechanisms.validate_table(table)
