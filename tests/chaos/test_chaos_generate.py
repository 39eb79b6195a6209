"""Experiments generated from a plan: what they inject, what they predict, and that they hold
against a service whose policy is loaded from the same plan (and deviate without it)."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.generate import (
    BreakerFacts,
    FailureModeFacts,
    Generated,
    PlanFacts,
    Skipped,
    facts_from_plan_dict,
    generate,
)
from chaos.runner import run_experiment
from chaos.verdict import format_verdict
from resilience import Policy, load_plan
from tests.chaos_service import TOKEN, running_service

POLICY = "llm-primary"

TABLE: dict[str, Any] = {
    "version": 1,
    "system": "test-gateway",
    "slo": 99.9,
    "mechanisms": {
        POLICY: {
            "timeout": "50ms",
            "retry": {
                "max_attempts": 3,
                "wait": {"kind": "full_jitter", "initial": "1ms", "max": "5ms"},
            },
            "circuit_breaker": {
                "failure_rate_threshold": 0.5,
                "minimum_calls": 20,
                "window_type": "count",
                "window_size": 40,
                "open_duration": "300ms",
            },
            "fallback": {},
        },
        "gateway.cache": {"timeout": "10ms"},
    },
}


def mode(
    id: str,
    component: str,
    category: str,
    *,
    priority: str = "P1",
    transient: bool = True,
    with_: float = 0.0,
    mechanisms: tuple[str, ...] = (f"{POLICY}: circuit_breaker", f"{POLICY}: fallback"),
) -> FailureModeFacts:
    return FailureModeFacts(
        id=id,
        component=component,
        name=f"{component}-{category}",
        failure=f"{component} {category}",
        category=category,
        priority=priority,
        transient=transient,
        users_impacted=100.0,
        users_impacted_with=with_,
        mechanisms=mechanisms,
    )


def facts(*modes: FailureModeFacts, trip: float = 1.0, rps: float = 100.0) -> PlanFacts:
    return PlanFacts(
        system="test-gateway",
        slo=99.9,
        failure_modes=modes,
        policies=TABLE["mechanisms"],
        breakers={POLICY: BreakerFacts(trip_seconds=trip, minimum_calls=int(trip * rps), rps=rps)},
    )


def only(result: tuple[list[Generated], list[Skipped]]) -> dict[str, Any]:
    made, skipped = result
    assert len(made) == 1 and not skipped
    return made[0].data


def test_partial_errors_inject_half_and_predict_the_slo() -> None:
    data = only(generate(facts(mode("FM-001", POLICY, "errors"))))
    switch = data["method"][0]["provider"]
    assert (switch["policy"], switch["fault"], switch["injection_rate"]) == (POLICY, "fault", 0.5)
    tolerance = data["steady-state-hypothesis"]["probes"][0]["tolerance"]
    assert tolerance["target"] == "error_ratio"
    assert tolerance["range"][1] == pytest.approx(0.001)  # 1 − 99.9 %
    names = [a["name"] for a in data["method"]]
    assert f"fallback-{POLICY}-served" in names
    assert not any(n.startswith("breaker-") for n in names)  # no trip time for a partial fault
    assert data["rollbacks"][0]["provider"]["enabled"] is False


def test_crash_injects_everything_and_checks_the_breaker_within_the_planned_time() -> None:
    data = only(generate(facts(mode("FM-002", POLICY, "crash", transient=False), trip=2.5)))
    assert data["method"][0]["provider"]["injection_rate"] == 1.0
    load = data["method"][1]["provider"]
    assert (load["rate"], load["requests"]) == (100.0, 250)  # planned rps × planned trip time
    breaker = data["method"][2]
    assert breaker["name"] == f"breaker-{POLICY}-opened-within-2-5s"
    assert breaker["provider"]["labels"] == {"policy": POLICY, "to_state": "open"}
    assert breaker["tolerance"]["range"] == [1, math.inf]


def test_latency_is_twice_the_planned_timeout_and_rate_limits_inject_the_outcome() -> None:
    made, _ = generate(
        facts(mode("FM-003", POLICY, "latency"), mode("FM-004", POLICY, "rate_limit"))
    )
    latency, limited = (g.data["method"][0]["provider"] for g in made)
    assert (latency["fault"], latency["latency"]) == ("latency", 0.1)
    assert limited["fault"] == "outcome"


def test_only_the_mechanisms_the_plan_counts_on_are_checked() -> None:
    data = only(
        generate(
            facts(
                mode("FM-009", POLICY, "crash", transient=False, mechanisms=(f"{POLICY}: timeout",))
            )
        )
    )
    assert [a["name"] for a in data["method"]] == [f"inject-fault-{POLICY}", "drive-load"]


def test_a_time_window_is_left_to_empty_before_the_outage_and_requests_get_the_budget() -> None:
    policies = {
        POLICY: {
            **TABLE["mechanisms"][POLICY],
            "circuit_breaker": {"window_type": "time", "window_size": 10, "minimum_calls": 100},
        }
    }
    plan = PlanFacts(
        system="s",
        slo=99.9,
        failure_modes=(mode("FM-010", POLICY, "crash"),),
        policies=policies,
        request_timeout=30.0,
        breakers={POLICY: BreakerFacts(trip_seconds=0.5, minimum_calls=100, rps=200.0)},
    )
    data = only(generate(plan))
    assert data["method"][0]["pauses"] == {"before": 10.0}
    assert data["method"][1]["provider"]["timeout"] == 30.0
    assert data["method"][1]["provider"]["requests"] == 100
    assert data["steady-state-hypothesis"]["probes"][0]["provider"]["timeout"] == 30.0


def test_wrong_answers_are_injected_as_outcomes() -> None:
    data = only(generate(facts(mode("FM-011", POLICY, "quality", transient=False))))
    assert data["method"][0]["provider"]["fault"] == "outcome"


def test_silent_modes_are_skipped_instead_of_an_experiment_that_cannot_fail() -> None:
    # wrong answers at HTTP 200: the plan says they reach every user with the mechanisms too, so
    # an error-ratio bound of 100 % would hold whatever happens
    silent = FailureModeFacts(
        **{
            **mode("FM-011", POLICY, "quality", transient=False, with_=100.0).__dict__,
            "silent": True,
        }
    )
    made, skipped = generate(facts(silent))
    assert made == []
    assert [s.id for s in skipped] == ["FM-011"]
    assert "answer validation" in skipped[0].reason


def test_blast_radius_bound_replaces_the_budget_when_the_plan_predicts_impact() -> None:
    data = only(generate(facts(mode("FM-005", POLICY, "errors", with_=30.0))))
    assert data["steady-state-hypothesis"]["probes"][0]["tolerance"]["range"][1] == 0.3
    assert "blast radius (30.00% of users)" in data["title"]


def test_modes_without_a_policy_are_skipped_with_the_reason_and_p3_ignored() -> None:
    made, skipped = generate(
        facts(
            mode("FM-006", "zone:a", "zone"),
            mode("FM-007", POLICY, "errors", priority="P3"),
            mode("FM-008", "cache", "crash", priority="P2"),
        )
    )
    assert [s.id for s in skipped] == ["FM-006"]
    assert "no policy" in skipped[0].reason
    assert [g.filename for g in made] == ["fm-008-cache-cache-crash.yaml"]
    assert made[0].data["method"][0]["provider"]["policy"] == "gateway.cache"


def test_configuration_placeholders_are_kept_for_the_file_and_resolved_for_the_run() -> None:
    made, _ = generate(
        facts(mode("FM-001", POLICY, "errors")), {"base_url": "http://127.0.0.1:9/ask"}
    )
    assert made[0].data["steady-state-hypothesis"]["probes"][0]["provider"]["url"] == (
        "${base_url}"
    )
    probe = made[0].experiment.steady_state_hypothesis.probes[0]  # type: ignore[union-attr]
    assert probe.provider.url == "http://127.0.0.1:9/ask"


def test_facts_from_the_planners_document() -> None:
    document = {
        "system": "s",
        "slo": 99.95,
        "mechanisms": {"defaults": {"timeout": "1s"}, POLICY: {"timeout": "2s"}},
        "report": {
            "failure_modes": [
                {
                    "id": "FM-001",
                    "component": POLICY,
                    "name": "outage",
                    "failure": "down",
                    "category": "crash",
                    "priority": "P1",
                    "transient": False,
                    "users_impacted": {"value": 100.0, "unit": "%", "formula": "f", "inputs": {}},
                    "users_impacted_with": {
                        "value": 0.0,
                        "unit": "%",
                        "formula": "f",
                        "inputs": {},
                    },
                }
            ],
            "mechanisms": [
                {
                    "policy": POLICY,
                    "mechanism": "deadline",
                    "figures": {
                        "deadline": {
                            "value": 2.0,
                            "unit": "s",
                            "formula": "budget - ...",
                            "inputs": {"budget": 30.0},
                        }
                    },
                },
                {
                    "policy": POLICY,
                    "mechanism": "circuit_breaker",
                    "figures": {
                        "trip": {
                            "value": 10.0,
                            "unit": "s",
                            "formula": "minimum_calls / rps",
                            "inputs": {"minimum_calls": 100, "rps": 10.0},
                        }
                    },
                },
            ],
        },
    }
    got = facts_from_plan_dict(document)
    assert got.slo == 99.95 and list(got.policies) == [POLICY]
    assert got.failure_modes[0].users_impacted_with == 0.0
    assert got.breakers[POLICY] == BreakerFacts(trip_seconds=10.0, minimum_calls=100, rps=10.0)
    assert got.request_timeout == 30.0


# --------------------------------------------------------------------------- against a service


def from_plan() -> Policy:
    return load_plan(TABLE).policy(POLICY, fallback=lambda failure, *a, **k: "cached answer")


@pytest.fixture
def admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)


def point_at(made: Generated, base_url: str) -> Any:
    from chaos.experiment import parse_experiment

    data = dict(made.data)
    data["configuration"] = {
        "base_url": f"{base_url}/ask",
        "admin_url": f"{base_url}/admin/chaos",
        "metrics_url": f"{base_url}/metrics",
    }
    return parse_experiment(data, made.filename)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("failure", "rate"),
    [(mode("FM-001", POLICY, "errors"), 0.5), (mode("FM-002", POLICY, "crash"), 1.0)],
    ids=["errors-at-50pct", "crash"],
)
async def test_generated_experiment_holds_with_the_plans_mechanisms(
    admin_token: None, failure: FailureModeFacts, rate: float
) -> None:
    (made,), _ = generate(facts(failure, trip=1.0, rps=100.0))
    async with running_service(POLICY, from_plan) as service:
        result = await run_experiment(point_at(made, service.base_url), stream=io.StringIO())
        assert not service.fault.enabled  # rolled back
    assert made.data["method"][0]["provider"]["injection_rate"] == rate
    assert result.verdict.held, format_verdict(result.verdict)


@pytest.mark.integration
async def test_generated_experiment_deviates_with_the_mechanisms_removed(
    admin_token: None,
) -> None:
    (made,), _ = generate(facts(mode("FM-001", POLICY, "errors")))
    async with running_service(POLICY, None) as service:
        result = await run_experiment(point_at(made, service.base_url), stream=io.StringIO())
        assert not service.fault.enabled
    verdict = result.verdict
    assert not verdict.held and verdict.held_after is False
    deviated = {d.probe for d in verdict.deviations}
    assert deviated == {"entry-error-ratio", f"fallback-{POLICY}-served"}
    assert verdict.rollbacks_run == 1 and verdict.rollbacks_failed == 0


def test_a_trip_time_rounded_to_twelve_digits_still_asks_for_the_planned_calls() -> None:
    # 100 calls at 150 calls/s: the plan writes the trip time as 0.666666666667 s
    modes = mode("FM-001", POLICY, "crash", transient=False)
    data = only(generate(facts(modes, trip=0.666666666667, rps=150.0)))
    load = data["method"][1]["provider"]
    assert (load["rate"], load["requests"]) == (150.0, 100)  # not 101


def test_a_plan_past_the_schemas_bounds_still_generates_what_the_runner_accepts() -> None:
    # 5,000 calls/s for 1 s: paced at the schema's 1,000 requests/s, the same 5,000 calls.
    data = only(generate(facts(mode("FM-005", POLICY, "crash", transient=False), rps=5_000.0)))
    load = data["method"][1]["provider"]
    assert (load["rate"], load["requests"]) == (1_000.0, 5_000)


@pytest.mark.parametrize("example", ["ai_gateway", "web_shop", "internal_tool"])
def test_the_refs_plan_file_gives_the_facts_of_the_full_one(example: str) -> None:
    from planner.analysis import build_plan
    from planner.document import plan_to_dict
    from planner.spec import load_spec
    from tests.paths import ROOT_DIR

    plan = build_plan(load_spec(str(ROOT_DIR / "examples" / example / "system.yaml")))
    full = facts_from_plan_dict(plan_to_dict(plan, "full"))
    assert facts_from_plan_dict(plan_to_dict(plan, "refs")) == full
    assert full.failure_modes and (full.breakers or full.inbound)


@given(
    st.lists(st.text("ab.", min_size=1, max_size=5), max_size=12, unique=True),
    st.text("ab.", min_size=1, max_size=4),
)
def test_the_policies_protecting_a_component_are_those_named_after_it_or_caller_dot_it(
    policies: list[str], component: str
) -> None:
    """The index made once (not a search of the table per failure mode) gives the table's
    policies named `component` or ending in `.component`, sorted; names may hold dots."""
    facts = PlanFacts(system="s", slo=99.9, failure_modes=(), policies={p: {} for p in policies})
    expected = sorted(p for p in policies if p == component or p.endswith(f".{component}"))
    assert facts.policies_for(component) == expected
