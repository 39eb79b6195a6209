"""Redundancy proposals: only where the plan (replicas or declared fallbacks) leaves users short."""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import build_plan
from planner.model import Plan
from planner.render import render_plan
from planner.spec import load_spec, parse_spec


def spec(fallback: str | None, primary: float = 99.5, tier: str = "critical") -> Plan:
    dep: dict[str, Any] = {"target": "llm-primary"}
    if fallback is not None:
        dep["fallback"] = fallback
    doc = {
        "version": 1,
        "system": "s",
        "tier": tier,
        "components": [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "replicas": 3,
                "availability": 99.99,
                "dependencies": [dep],
            },
            {"name": "llm-primary", "kind": "llm_api", "availability": primary},
            {"name": "llm-secondary", "kind": "llm_api", "availability": 99.9},
        ],
    }
    return build_plan(parse_spec(doc))


def test_a_declared_fallback_that_reaches_the_target_is_the_redundancy() -> None:
    plan = build_plan(load_spec("examples/ai_gateway/system.yaml"))
    assert plan.availability.with_mechanisms.value >= plan.header.target.value
    assert [p.component for p in plan.redundancy.proposals] == []
    [covered] = plan.redundancy.covered_by_fallback
    assert covered.component == "llm-primary" and covered.fallbacks == ("llm-secondary",)
    assert covered.entry_with.value == pytest.approx(plan.availability.with_mechanisms.value)
    text = " ".join(render_plan(plan, "text").split())
    assert "llm-primary: no replica proposal — its declared fallback llm-secondary is its" in text
    assert "1-of-2" not in text


def test_without_the_fallback_the_proposal_comes_back_with_its_reason_in_the_text() -> None:
    plan = spec(None)
    [proposal] = plan.redundancy.proposals
    assert proposal.component == "llm-primary" and proposal.proposed_replicas == 2
    assert plan.redundancy.covered_by_fallback == ()
    text = " ".join(render_plan(plan, "text").split())
    assert f"- {proposal.reason}" in text and proposal.reason.startswith("llm-primary allows")


def test_a_fallback_too_weak_for_the_target_keeps_the_proposal() -> None:
    # an 80 % primary behind a 99.9 % secondary: 1 - 0.2 × 0.001 = 99.98 % < 99.99 %
    plan = spec("llm-secondary", primary=80.0)
    assert plan.availability.with_mechanisms.value < plan.header.target.value
    assert [p.component for p in plan.redundancy.proposals] == ["llm-primary"]
    assert "with its fallback llm-secondary" in plan.redundancy.proposals[0].reason


def test_a_path_below_target_fails_the_tier_however_little_traffic_it_has() -> None:
    # web shop: checkout (20 % of traffic) runs through payment-api at 99.9 %, no fallback;
    # every entry must meet the tier, so the system reads checkout's figure and "not met"
    plan = build_plan(load_spec("examples/web_shop/system.yaml"))
    entries = {e.component: e.availability.value for e in plan.availability.entry_points}
    assert plan.availability.current.value == min(entries.values()) == entries["checkout"]
    assert plan.availability.current.value < plan.header.target.value
    assert not plan.availability.meets_target
    [proposal] = plan.redundancy.proposals
    assert proposal.component == "payment-api"
    checkout = next(e for e in plan.availability.entry_points if e.component == "checkout")
    assert checkout.availability_with.value < plan.header.target.value
    # 99.8941 %, not 99.9 %: postgres's promotions now cost checkout too
    assert "checkout's users get 99.8941%" in proposal.reason
