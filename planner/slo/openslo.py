"""OpenSLO v1 export of the spec's SLOs (`reliability slo export SPEC --format openslo`).

Export (`reliability slo export SPEC --format openslo`) writes, per spec: one `Service`; per SLO
an `SLI` (`ratioMetric` of Prometheus queries: `bad`/`good` + `total` counters, or a `raw`
success ratio for a 0/1 probe), an `SLO` (objective as `target`, the period as `timeWindow`,
`Occurrences` budgeting) and one `AlertPolicy` per burn-rate condition (a `burnrate`
`AlertCondition` with the factor, the long window as `lookbackWindow` and the short one as
`alertAfter`).

`planner.slo.importer` reads these documents (and Sloth specs) back into the spec's `slos:`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.slo.definition import SloDefinition, burn_windows, prom_duration
from planner.slo.interop import k8s_name
from planner.slo.selector import Selector

__all__ = ["API_VERSION", "PERIOD_OF_DURATION", "export_openslo"]

API_VERSION = "openslo/v1"

#: `slo_period` → OpenSLO time window; and back, with 4w read as 28d.
_WINDOWS: dict[str, dict[str, Any]] = {
    "30d": {"duration": "30d", "isRolling": True},
    "28d": {"duration": "28d", "isRolling": True},
    "calendar_month": {
        "duration": "1M",
        "isRolling": False,
        "calendar": {"startTime": "2020-01-01 00:00:00", "timeZone": "UTC"},
    },
}
#: OpenSLO duration → `slo_period`, for the import.
PERIOD_OF_DURATION = {"30d": "30d", "28d": "28d", "4w": "28d", "1M": "calendar_month"}


# ------------------------------------------------------------------------------------ export


def _name(text: str) -> str:
    """An OpenSLO `metadata.name`: a DNS-1123 label of at most 63 characters."""
    return k8s_name(text).replace(".", "-")[:63].rstrip("-") or "slo"


def _source(selector: Selector) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": selector.render()}}}


def _sli_spec(slo: SloDefinition) -> dict[str, Any]:
    if slo.kind == "probe":
        assert slo.probe is not None
        # a 0/1 gauge is a success ratio per sample: the SLO is time-based, as in our rules
        return {"ratioMetric": {"counter": False, "raw": _source(slo.probe), "rawType": "success"}}
    assert slo.total is not None
    ratio: dict[str, Any] = {"counter": True}
    if slo.kind == "errors":
        assert slo.errors is not None
        ratio["bad"] = _source(slo.errors)
    else:
        assert slo.good is not None
        ratio["good"] = _source(slo.good)
    ratio["total"] = _source(slo.total)
    return {"ratioMetric": ratio}


def _doc(kind: str, name: str, spec: dict[str, Any], display: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if display is not None:
        metadata["displayName"] = display
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def export_openslo(slos: Sequence[SloDefinition], description: str = "") -> list[dict[str, Any]]:
    """The OpenSLO v1 documents of `slos`: Service(s), then per SLO its SLI, SLO, AlertPolicies."""
    docs: list[dict[str, Any]] = []
    for service in dict.fromkeys(slo.service for slo in slos):
        about = {"description": description} if description else {}
        docs.append(_doc("Service", _name(service), about, service))
    for slo in slos:
        base = _name(f"{slo.service}-{slo.name}")
        sli = _sli_spec(slo)
        if slo.description:
            sli = {"description": slo.description, **sli}
        docs.append(_doc("SLI", base, sli, slo.name))
        period = prom_duration(slo.rule_period_seconds)
        policies: list[dict[str, Any]] = []
        for w in burn_windows(slo.rule_period_seconds):
            short, long = prom_duration(w.short), prom_duration(w.long)
            suffix = f"-{w.severity}-{long}"  # kept whole: it tells the four policies apart
            policy = _name(base[: 63 - len(suffix)].rstrip("-") + suffix)
            condition = {
                "severity": w.severity,
                "condition": {
                    "kind": "burnrate",
                    "op": "gt",
                    "threshold": w.factor,
                    "lookbackWindow": long,
                    "alertAfter": short,
                },
            }
            docs.append(
                _doc(
                    "AlertPolicy",
                    policy,
                    {
                        "description": (
                            f"{w.severity}: {w.budget_share * 100:g}% of the {period} error"
                            f" budget burnt in {long} (burn rate {w.factor:g}, confirmed over"
                            f" {short})"
                        ),
                        "alertWhenBreaching": True,
                        "alertWhenResolved": False,
                        "alertWhenNoData": False,
                        "conditions": [
                            {
                                "kind": "AlertCondition",
                                "metadata": {"name": policy},
                                "spec": condition,
                            }
                        ],
                    },
                )
            )
            policies.append({"kind": "AlertPolicy", "alertPolicyRef": policy})
        spec: dict[str, Any] = {}
        if slo.description:
            spec["description"] = slo.description
        spec |= {
            "service": _name(slo.service),
            "indicatorRef": base,
            "timeWindow": [dict(_WINDOWS[slo.period])],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": slo.name, "target": round(slo.objective / 100, 12)}],
            "alertPolicies": policies,
        }
        docs.append(_doc("SLO", base, spec, slo.name))
    return docs
