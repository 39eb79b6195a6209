"""The runtime's pipeline order, in the planner's mechanism names: the one place the planner
reads it (`resilience.policy.ORDER`), so the report's mechanism rows and its layers box list
mechanisms in the order a call passes through them, outside-in."""

from __future__ import annotations

from resilience.policy import ORDER

__all__ = ["MECHANISM_ORDER", "pipeline_rank"]

#: A runtime slot → the planner's mechanisms that live in it, in order. The breaker slot is
#: listed under both spellings; the retry budget belongs to the retry; an entry point's own rate
#: limiter is its load shedding; the adaptive limiter's criticality shares are the load shedder
#: (the runtime's ``mechanism`` label); outlier detection runs in the (keyed) breaker's slot,
#: refusing an ejected host before its breaker is asked. Slots the planner never plans (chaos)
#: have no mechanisms.
_SLOT_MECHANISMS: dict[str, tuple[str, ...]] = {
    "breaker": ("circuit_breaker",),
    "circuit_breaker": ("outlier_detection", "circuit_breaker"),
    "retry": ("retry", "retry_budget"),
    "rate_limiter": ("load_shedding", "rate_limiter"),
    "adaptive_limiter": ("adaptive_limiter", "load_shedder"),
    "chaos": (),
}

#: The planner's mechanisms in the runtime's pipeline order, outermost first.
MECHANISM_ORDER: tuple[str, ...] = tuple(
    mechanism for slot in ORDER for mechanism in _SLOT_MECHANISMS.get(slot, (slot,))
)

_RANK = {mechanism: i for i, mechanism in enumerate(MECHANISM_ORDER)}


def pipeline_rank(mechanism: str) -> int:
    """Where `mechanism` sits in the pipeline (0 = outermost); unknown names sort last."""
    return _RANK.get(mechanism, len(_RANK))
