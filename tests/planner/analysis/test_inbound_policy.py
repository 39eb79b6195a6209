"""Entry points' inbound policies: sized from the spec, loadable, and doing what the report says."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

import resilience
from chaos.generate import facts_from_plan_dict, generate
from planner.analysis import build_plan
from planner.document import plan_to_dict
from planner.errors import SpecError
from planner.render import render_plan
from planner.spec import load_spec, parse_spec
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
GATEWAY_SPEC = ROOT / "examples/ai_gateway/system.yaml"


def spec_doc(**entry: Any) -> dict[str, Any]:
    front: dict[str, Any] = {
        "name": "front",
        "kind": "service",
        "entry_point": True,
        "rps": 2,
        "latency": {"p50": "100ms", "p99": "1s"},
        "latency_budget": "3s",
        "dependencies": [{"target": "db"}],
    }
    front.update(entry)
    db = {"name": "db", "kind": "database", "latency": {"p99": "50ms"}}
    return {"version": 1, "system": "s", "tier": "high", "components": [front, db]}


def plan_of(doc: dict[str, Any]) -> Any:
    return build_plan(parse_spec(doc))


def slots(in_flight: float) -> int:
    """The documented headroom and burst margin, computed independently."""
    return math.ceil(max(in_flight * 1.5, in_flight + 3 * math.sqrt(in_flight)))


def little(rps: float, p99: float) -> int:
    """Little's law over the entry's own latency."""
    return slots(rps * p99)


def test_the_gateway_example_gets_a_bulkhead_and_deadline_from_its_spec() -> None:
    spec = load_spec(GATEWAY_SPEC)
    gateway = spec.component("gateway")
    plan = build_plan(spec)
    assert gateway.latency is not None and gateway.rps is not None
    # a request is in flight while its calls are: every dependency has one caller and declares
    # its rps, so the calls keep Σ rps × p99 in flight; the larger of that and the entry's own
    # rps × p99 sizes the bulkhead
    calls = 0.0
    for dep in gateway.dependencies:
        target = spec.component(dep.target)
        assert target.rps is not None and target.latency is not None
        calls += target.rps * target.latency.p99
    own = gateway.rps * gateway.latency.p99
    policy = plan.mechanism_table["gateway"]
    size = slots(max(own, calls))
    assert policy == {
        "deadline": gateway.latency_budget,
        "bulkhead": {"max_concurrent": size},
        # the bulkhead bounds the adaptive limit; no request_criticality: no shares
        "adaptive_limiter": {
            "algorithm": "gradient2",
            "initial_limit": size,
            "min_limit": 1,
            "max_limit": size,
            "shares": {"default": 1.0, "sheddable": 1.0},
        },
    }  # no capacity declared: no rate limiter
    rows = {r.mechanism: r for r in plan.mechanisms if r.policy == "gateway"}
    assert set(rows) == {"deadline", "bulkhead", "adaptive_limiter"}
    assert all(r.inbound and r.target == "gateway" for r in rows.values())
    assert "Little's law" in rows["bulkhead"].reason
    assert ("declared p99 looks too low for its calls" in rows["bulkhead"].reason) == (calls > own)
    assert "gateway.latency_budget" in rows["deadline"].reason
    registry = resilience.load_plan(plan_to_dict(plan))
    assert registry.config("gateway").deadline == gateway.latency_budget


def test_calls_that_outlast_the_entrys_declared_p99_size_its_bulkhead() -> None:
    # front declares p99 100ms at 2 requests/s, but each request calls a db at 20/s × 2s p99
    doc = spec_doc(latency={"p50": "50ms", "p99": "100ms"})
    doc["components"][1].update({"rps": 20, "latency": {"p99": "2s"}})
    plan = plan_of(doc)
    assert plan.mechanism_table["front"]["bulkhead"] == {"max_concurrent": slots(20 * 2.0)}
    reason = next(
        r.reason for r in plan.mechanisms if r.policy == "front" and r.mechanism == "bulkhead"
    )
    assert "declared p99 looks too low for its calls" in reason


def test_a_consistent_spec_sizes_the_bulkhead_from_the_entrys_own_latency() -> None:
    plan = plan_of(spec_doc())  # front: 2 requests/s × p99 1s; its db calls: 2/s × 50ms
    assert plan.mechanism_table["front"]["bulkhead"] == {"max_concurrent": little(2, 1.0)}
    reason = next(
        r.reason for r in plan.mechanisms if r.policy == "front" and r.mechanism == "bulkhead"
    )
    assert "too low" not in reason


def test_a_declared_capacity_sheds_load_above_it_and_says_so() -> None:
    plan = plan_of(spec_doc(capacity={"rps": 1.5}))
    assert plan.mechanism_table["front"]["rate_limiter"] == {"rate_per_second": 1.5, "burst": 1}
    reason = next(
        r.reason for r in plan.mechanisms if r.policy == "front" and r.mechanism == "rate_limiter"
    )
    assert "front.capacity.rps" in reason
    assert "2/s already exceeds it" in reason  # rps 2 > capacity 1.5
    text = render_plan(plan, "text")
    assert "Load shedding: front" in text
    assert "Policy front (inbound requests to front):" in text


def test_the_lower_of_capacity_and_quota_wins() -> None:
    plan = plan_of(spec_doc(capacity={"rps": 40, "burst": 10}, quota={"rps": 25}))
    assert plan.mechanism_table["front"]["rate_limiter"] == {"rate_per_second": 25.0, "burst": 25}
    plan = plan_of(spec_doc(capacity={"rps": 20, "burst": 10}, quota={"rps": 25}))
    assert plan.mechanism_table["front"]["rate_limiter"] == {"rate_per_second": 20.0, "burst": 10}


def test_nothing_derivable_means_no_inbound_policy() -> None:
    plan = plan_of(spec_doc(rps=None, latency_budget=None))
    assert "front" not in plan.mechanism_table
    assert not any(r.inbound for r in plan.mechanisms)


def test_an_entry_point_that_is_also_called_gets_a_distinct_name() -> None:
    doc = spec_doc()
    doc["components"].append(
        {
            "name": "batch",
            "kind": "worker",
            "entry_point": True,
            "rps": 1,
            "dependencies": [{"target": "front"}],
        }
    )
    doc["components"][0]["traffic_share"] = 0.5
    doc["components"][2]["traffic_share"] = 0.5
    plan = plan_of(doc)
    assert "front" in plan.mechanism_table  # batch → front, one caller: named after the target
    assert "front.inbound" in plan.mechanism_table
    assert plan.mechanism_table["front.inbound"]["deadline"] == 3.0
    resilience.load_plan(plan_to_dict(plan))


def test_capacity_is_refused_on_a_dependency() -> None:
    doc = spec_doc()
    doc["components"][1]["capacity"] = {"rps": 10}
    with pytest.raises(SpecError, match=r"components\[1\] \(db\): capacity is only meaningful"):
        parse_spec(doc, "x.yaml")


def test_an_entry_points_overload_is_contained_by_its_inbound_policy() -> None:
    plan = plan_of(spec_doc(capacity={"rps": 5}))
    overload = next(
        m for m in plan.failure_modes if m.component == "front" and m.name == "overload"
    )
    assert set(overload.mechanisms) == {"front: bulkhead", "front: rate_limiter"}


async def test_the_loaded_policy_refuses_beyond_its_bulkhead_and_cuts_at_the_deadline() -> None:
    plan = plan_of(spec_doc())
    size = little(2, 1.0)
    registry = resilience.load_plan(plan_to_dict(plan))
    inbound = registry.policy("front")
    release = asyncio.Event()
    entered = 0

    async def request() -> None:
        nonlocal entered
        async with inbound:
            entered += 1
            await release.wait()

    holders = [asyncio.create_task(request()) for _ in range(size)]
    await asyncio.sleep(0)
    assert entered == size
    # the adaptive limit starts at the bulkhead and refuses first (no classes: the whole limit)
    with pytest.raises(resilience.LimitExceededError):
        await request()
    release.set()
    await asyncio.gather(*holders)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(resilience.DeadlineExceededError):
        async with inbound:
            await asyncio.sleep(60)
    assert loop.time() - started == pytest.approx(3.0)  # the spec's latency_budget


def test_chaos_generate_leaves_the_inbound_policy_alone() -> None:
    document = plan_to_dict(build_plan(load_spec(GATEWAY_SPEC)))
    facts = facts_from_plan_dict(document)
    assert facts.inbound == {"gateway": "gateway"}
    assert "gateway" not in facts.policies
    made, skipped = generate(facts, {})
    assert made
    for item in made:
        injected = {
            step["provider"]["policy"]
            for step in item.data["method"]
            if step["provider"].get("type") == "injection"
        }
        assert injected and "gateway" not in injected, item.filename
    gateway_skips = [s for s in skipped if s.reason.startswith("gateway ")]
    assert gateway_skips
    assert all("other than its inbound one" in s.reason for s in gateway_skips)
    # the probes may take the entry's whole budget, as before
    assert facts.request_timeout == load_spec(GATEWAY_SPEC).component("gateway").latency_budget
