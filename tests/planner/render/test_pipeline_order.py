"""The report lists mechanisms in the runtime's pipeline order (resilience.policy.ORDER)."""

from __future__ import annotations

from planner.analysis import build_plan
from planner.pipeline import MECHANISM_ORDER, pipeline_rank
from planner.render.layers import layers
from planner.spec import load_spec
from resilience.policy import ORDER
from tests.paths import ROOT_DIR

GATEWAY = ROOT_DIR / "examples/ai_gateway/system.yaml"


def test_the_planners_order_is_the_runtimes() -> None:
    slot = {
        "circuit_breaker": "breaker",
        "outlier_detection": "breaker",  # the keyed breaker refuses an ejected host first
        "retry_budget": "retry",
        "load_shedding": "rate_limiter",
        "load_shedder": "adaptive_limiter",
    }
    slots = [slot.get(m, m) for m in MECHANISM_ORDER]
    runtime = [s if s != "circuit_breaker" else "breaker" for s in ORDER if s != "chaos"]
    assert list(dict.fromkeys(slots)) == runtime
    assert pipeline_rank("fallback") == 0 and pipeline_rank("unknown") == len(MECHANISM_ORDER)


def test_mechanism_rows_and_the_layers_box_read_outside_in() -> None:
    plan = build_plan(load_spec(GATEWAY))
    rows = [r.mechanism for r in plan.mechanisms if r.policy == "llm-primary"]
    assert rows == [
        "fallback",
        "deadline",
        "retry",
        "circuit_breaker",
        "rate_limiter",
        "timeout",
        "bulkhead",
    ]
    box = "\n".join(layers(plan))
    containment = box[box.index("LAYER 3") : box.index("LAYER 4")]
    names = ["Deadlines", "Circuit breakers", "Timeouts", "Bulkheads"]
    assert sorted(names, key=containment.index) == names
