"""The seed's RESILIENCE LAYERS box for a plan, and the display names of the mechanisms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from planner.model import MechanismRow, Plan
from planner.pipeline import pipeline_rank
from planner.render import figures as fmt
from planner.render.layout import tree_box
from resilience.config import MECHANISMS

__all__ = [
    "LayerItem",
    "item_text",
    "layer_groups",
    "layers",
    "layers_box",
    "mechanism_label",
    "mechanism_name",
]

_LAYERS = (
    ("LAYER 1: Prevention", ("Prevention",)),
    ("LAYER 2: Detection", ()),
    ("LAYER 3: Containment", ("Containment", "Isolation")),
    ("LAYER 4: Recovery", ("Recovery", "Degradation")),
)

_MECHANISM_NAMES = {
    "circuit_breaker": "Circuit breakers",
    "bulkhead": "Bulkheads",
    "timeout": "Timeouts",
    "deadline": "Deadlines",
    "retry": "Retry with backoff",
    "retry_budget": "Retry budgets",
    "rate_limiter": "Rate limiting",
    "load_shedding": "Load shedding",
    "fallback": "Fallbacks",
    "hedge": "Hedged requests",
    "adaptive_limiter": "Adaptive concurrency limits",
    "load_shedder": "Shedding by request criticality",
    "outlier_detection": "Outlier ejection",
}


_MECHANISM_SINGULAR = {
    "circuit_breaker": "Circuit breaker",
    "bulkhead": "Bulkhead",
    "timeout": "Timeout",
    "deadline": "Deadline",
    "retry": "Retry",
    "retry_budget": "Retry budget",
    "rate_limiter": "Rate limiter",
    "fallback": "Fallback",
    "hedge": "Hedge",
    "adaptive_limiter": "Adaptive limit",
    "load_shedder": "Criticality shares",
    "outlier_detection": "Outlier detection",
}


def mechanism_label(mechanism: str) -> str:
    """The seed's name of one mechanism (`circuit_breaker` → `Circuit breaker`)."""
    label = _MECHANISM_SINGULAR.get(mechanism)
    return label if label is not None else mechanism.replace("_", " ").capitalize()


def mechanism_name(mechanism: str) -> str:
    """Plural display name, for the layers box (`circuit_breaker` → `Circuit breakers`)."""
    name = _MECHANISM_NAMES.get(mechanism)
    return name if name is not None else mechanism.replace("_", " ").capitalize()


#: Mechanism names that are keys of a mechanism-table policy entry.
_TABLE_KEYS = frozenset(("timeout", "deadline", *MECHANISMS))


def _configured(plan: Plan, row: MechanismRow) -> bool:
    """Whether the mechanism table really sets up `row` (a row may explain why it does not)."""
    entry = plan.mechanism_table.get(row.policy)
    if type(entry) is not dict and not isinstance(entry, Mapping):  # dict: no ABC check
        return True
    if row.mechanism == "retry_budget":
        retry = entry.get("retry")
        return isinstance(retry, Mapping) and retry.get("budget") is not None
    if row.mechanism == "load_shedder":
        limiter = entry.get("adaptive_limiter")
        return isinstance(limiter, Mapping) and limiter.get("shares") is not None
    if row.mechanism in _TABLE_KEYS:
        return entry.get(row.mechanism) is not None
    return True


#: One item of a layer: its label, the values it lists (policies, signals) and their separator.
LayerItem = tuple[str, tuple[str, ...], str]


def _layer_items(plan: Plan) -> list[list[LayerItem]]:
    """Per layer of _LAYERS, its mechanisms (in pipeline order) and the policies that set each
    up, from one pass over the plan's mechanism rows."""
    layer_of = {kind: index for index, (_name, types) in enumerate(_LAYERS) for kind in types}
    # policies per mechanism as dict keys: unique, in first-seen order, in linear time
    found: list[dict[str, dict[str, None]]] = [{} for _ in _LAYERS]
    for row in plan.mechanisms:
        layer = layer_of.get(row.type)
        if layer is not None and _configured(plan, row):
            # an entry point's own rate limiter refuses its users' excess: load shedding
            shed = row.inbound and row.mechanism == "rate_limiter"
            mechanism = "load_shedding" if shed else row.mechanism
            found[layer].setdefault(mechanism, {})[row.policy] = None
    return [
        # the pipeline's order, outside-in
        [
            (mechanism_name(m), tuple(by_mechanism[m]), ", ")
            for m in sorted(by_mechanism, key=pipeline_rank)
        ]
        for by_mechanism in found
    ]


def item_text(item: LayerItem) -> str:
    """`Label: a, b` (or the label alone when it lists nothing)."""
    label, values, separator = item
    return f"{label}: {separator.join(values)}" if values else label


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def layer_groups(plan: Plan) -> list[tuple[str, list[LayerItem]]]:
    """The seed's four resilience layers with what this plan puts in each."""
    groups: list[tuple[str, list[LayerItem]]] = []
    for (name, types), mechanisms in zip(_LAYERS, _layer_items(plan), strict=True):
        if types:
            items = mechanisms
        else:
            signals = plan.monitoring.signals
            alerts = plan.monitoring.burn_rate_alerts
            items = []
            if signals:
                names = tuple(_unique(s.signal.lower() for s in signals))
                items.append(("Health signals", names, ", "))
            if alerts:
                rates = tuple(_unique(fmt.figure(a.burn_rate) for a in alerts))
                items.append(("Burn-rate alerts", rates, "/"))
        if name == "LAYER 4: Recovery" and plan.recovery.failover:
            items.append(("Failover", (plan.recovery.strategy.label,), ", "))
        groups.append((name, items or [("nothing planned", (), "")]))
    return groups


def layers(plan: Plan) -> list[str]:
    """The seed's RESILIENCE LAYERS box, listing what this plan puts in each layer."""
    return layers_box(layer_groups(plan))


def layers_box(groups: Sequence[tuple[str, Sequence[LayerItem]]]) -> list[str]:
    """The RESILIENCE LAYERS box of `layer_groups(plan)`, for a caller that has them already."""
    return tree_box(
        "RESILIENCE LAYERS", [(name, [item_text(i) for i in items]) for name, items in groups]
    )
