"""A fallback component its caller does not declare as a dependency (issue 14, part 3: "a policy
and a capacity check for each fallback call"), on hand-computed specs.

The spec: `web` (entry, 100 rps, p50 20ms, 1 s budget) calls `cache` (p99 2ms) with
`fallback: backup`, and does not list `backup` among its dependencies; `backup` is an external
API with p99 200ms and a 10/s quota that `admin` (entry, 5 rps) calls directly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import resilience
from planner.analysis import blast, build_plan, mechanisms
from planner.analysis.graph import Graph
from planner.document import plan_to_dict
from planner.errors import PlannerError
from planner.model import Plan
from planner.render import render_plan
from planner.spec import parse_spec


def spec(*, budget: bool = True, **primary: Any) -> dict[str, Any]:
    web: dict[str, Any] = {
        "name": "web",
        "kind": "service",
        "entry_point": True,
        "traffic_share": 0.9,
        "availability": 99.9,
        "rps": 100,
        "latency": {"p50": "20ms", "p99": "300ms"},
        "dependencies": [{"target": "cache", "fallback": "backup", **primary}],
    }
    if budget:
        web["latency_budget"] = "1s"
    return {
        "version": 1,
        "system": "s",
        "tier": "standard",
        "components": [
            web,
            {"name": "admin", "kind": "service", "entry_point": True, "traffic_share": 0.1,
             "availability": 99.9, "rps": 5, "dependencies": [{"target": "backup"}]},
            {"name": "cache", "kind": "cache", "availability": 99.0,
             "latency": {"p50": "1ms", "p99": "2ms"}},
            {"name": "backup", "kind": "external_api", "availability": 99.5,
             "latency": {"p50": "50ms", "p99": "200ms"}, "quota": {"rps": 10}},
        ],
    }  # fmt: skip


def plan_of(doc: dict[str, Any]) -> Plan:
    return build_plan(parse_spec(doc))


def rows(plan: Plan, policy: str) -> dict[str, Any]:
    return {r.mechanism: r for r in plan.mechanisms if r.policy == policy}


def test_the_fallback_call_gets_a_policy_sized_for_the_moved_load() -> None:
    plan = plan_of(spec())
    call = plan.mechanism_table["web.backup"]
    # timeout: backup p99 200ms × 1.5 = 300ms; the cache's deadline reserved exactly that:
    # cache deadline = 1s − web p50 20ms − the fallback's timeout 300ms = 680ms
    assert call["timeout"] == pytest.approx(0.3)
    assert call["deadline"] == pytest.approx(0.3)
    assert plan.mechanism_table["cache"]["deadline"] == pytest.approx(0.68)
    # one attempt: a second needs 2 × 300ms + backoff > 300ms
    assert "retry" not in call
    assert "does not fit the 300ms deadline" in rows(plan, "web.backup")["retry"].reason
    # bulkhead from the load during the cache's outage: all of web's 100/s moves onto backup;
    # L = 100/s × 300ms = 30 in flight; max(30 × 1.5 = 45, 30 + 3√30 = 46.43) → 47 (floor 10)
    assert call["bulkhead"] == {"max_concurrent": 47}
    # breaker: half of 100/s for 10s = 500 calls, capped at 100; the 10s window holds them
    assert call["circuit_breaker"]["minimum_calls"] == 100
    assert call["circuit_breaker"]["window_size"] == 10
    # rate limiter: backup's 10/s quota × the moved load's share 100 / (5 + 100) = 9.52381/s
    assert call["rate_limiter"]["rate_per_second"] == pytest.approx(10 * 100 / 105, rel=1e-5)
    assert call["critical"] is True  # the cache is a hard dependency: no third way out


def test_a_10_per_s_fallback_behind_a_100_per_s_primary_is_flagged() -> None:
    plan = plan_of(spec())
    # backup's own 5/s (admin) + the cache's 100/s = 105/s against its 10/s quota: 10/105
    expected = 10 / 105
    bulkhead = rows(plan, "web.backup")["bulkhead"]
    assert bulkhead.figures["fallback_capacity"].value == pytest.approx(expected)
    assert "backup takes 100/s on top of its 5/s = 105/s against its quota 10/s" in bulkhead.reason
    assert "it holds only 10%, the rest is rejected" in bulkhead.reason
    # the primary's fallback row names the policy and states the same check, with the same figure
    fallback = rows(plan, "cache")["fallback"]
    assert "calls backup through policy 'web.backup'" in fallback.reason
    assert "declare backup as a dependency" not in fallback.reason
    assert fallback.figures["fallback_capacity"].value == pytest.approx(expected)


def test_the_fallback_call_is_in_the_loadable_table_and_the_report() -> None:
    plan = plan_of(spec())
    registry = resilience.load_plan(plan_to_dict(plan))
    config = registry.config("web.backup")
    assert config.timeout == pytest.approx(0.3)
    assert config.bulkhead is not None and config.bulkhead.max_concurrent == 47
    report = render_plan(plan, "markdown")
    assert "web.backup" in report
    assert "only while cache is down does web call backup" in report


def test_without_a_budget_retries_follow_the_operation_not_the_fallback() -> None:
    # no latency budget: the deadline bounds the attempts (as on any edge). backup is an
    # external API (a read by its kind), p50 50ms → backoff from 50ms capped at 400ms:
    # 3 × 300ms + 50ms + 100ms = 1.05s
    reads = plan_of(spec(budget=False)).mechanism_table["web.backup"]
    assert reads["retry"]["max_attempts"] == 3
    assert reads["deadline"] == pytest.approx(1.05)
    # the primary's operation is declared a write: the fallback performs it too, so no retry
    writes = plan_of(spec(budget=False, idempotent=False))
    assert "retry" not in writes.mechanism_table["web.backup"]
    assert "idempotent: false" in rows(writes, "web.backup")["retry"].reason


def test_availability_and_blast_radius_count_primary_or_fallback() -> None:
    plan = plan_of(spec())
    web = next(e for e in plan.availability.entry_points if e.component == "web")
    # without the plan: web 99.9 % × cache 99 % = 0.999 × 0.99 = 98.901 %
    assert web.availability.value == pytest.approx(98.901)
    # with it: 0.999 × (1 − (1 − 0.99)(1 − 0.995)) = 0.999 × 0.99995 = 99.895005 %
    assert web.availability_with.value == pytest.approx(99.895005)
    graph = Graph(parse_spec(spec()))
    mech = mechanisms.derive(graph)
    # the cache down alone: web degrades (backup answers); cache and backup down: web is down
    assert blast.down_with(mech, ["cache"]) == {"cache"}
    assert blast.down_with(mech, ["cache", "backup"]) == {"cache", "backup", "web", "admin"}
    assert mech.fallback_component(graph.edges["web"][0]) == "backup"
    assert [p.policy for p in mech.fallback_calls] == ["web.backup"]
    assert math.isclose(mech.fallback_calls[0].bulkhead or 0, 47)


def test_the_cache_outage_counts_the_overloaded_fallbacks_users_from_the_same_check() -> None:
    doc = spec()
    doc["components"][0]["traffic_share"] = 0.4  # web
    doc["components"][1]["traffic_share"] = 0.6  # admin, backup's own caller
    plan = plan_of(doc)
    outage = next(m for m in plan.failure_modes if m.component == "cache" and m.name == "outage")
    # 5/s + 100/s > 10/s: backup is overloaded; its outage reaches admin's 60 % of users, more
    # than the 40 % that enter at web, so the cache's outage counts 60 % (impact H, ≥ 25 %)
    assert "its callers' 100/s move onto backup, over its 10/s quota" in outage.failure
    assert outage.impact_basis.inputs["fallback_users_percent"] == pytest.approx(60.0)
    assert outage.impact_basis.value == pytest.approx(60.0)
    assert outage.impact == "H"
    # an entry point's declared capacity is a limit as well: 5 + 100 = 105/s ≤ 200/s holds
    doc = spec()
    doc["components"][1]["traffic_share"] = 0.6
    backup = doc["components"][3]
    del backup["quota"]
    backup.update({"entry_point": True, "traffic_share": 0.05, "capacity": {"rps": 200}})
    doc["components"][0]["traffic_share"] = 0.35
    held = plan_of(doc)
    row = rows(held, "web.backup")["bulkhead"]
    assert row.figures["fallback_capacity"].value == 1.0
    assert "against its capacity 200/s: it holds all of it" in row.reason
    outage = next(m for m in held.failure_modes if m.component == "cache" and m.name == "outage")
    assert "move onto backup" not in outage.failure


def test_a_fallback_call_whose_policy_name_is_taken_is_an_error_naming_both() -> None:
    # `web` also calls a component named `web.backup`, whose edge policy is `web.backup`: the
    # fallback call's own policy would take the same name, and one of the two would be lost.
    doc = spec()
    doc["components"][0]["dependencies"].append({"target": "web.backup"})
    doc["components"].append({"name": "web.backup", "kind": "external_api", "availability": 99.5})
    with pytest.raises(PlannerError, match=r"'web\.backup' of web's fallback call to backup"):
        plan_of(doc)
