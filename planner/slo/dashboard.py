"""The Grafana dashboard: SLOs against their targets, and the resilience runtime behind them.

One row per SLO (availability vs target, error budget left, burn rates, the failure ratio of the
entry points' hard dependencies: which dependency is spending the budget), then the runtime
(calls, failures, rejections, timeouts, breaker states, bulkhead saturation, retries, p99
latency) from the exporters' metrics. SLO panels read the recording rules of `reliability rules`.

The JSON is Grafana's classic dashboard model (`schemaVersion` 41, Grafana 12), the format
Dashboards → Import takes in every current Grafana; the data source is an import input
(`${DS_PROMETHEUS}`), so the importer picks the Prometheus it points at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from planner.slo.definition import SloDefinition, burn_windows, prom_duration
from planner.spec import SystemSpec

__all__ = ["SCHEMA_VERSION", "build_dashboard", "panel_queries"]

#: Classic dashboard model version written (Grafana 12); Grafana migrates older ones on import.
SCHEMA_VERSION = 41

_DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
_WIDTH = 24
_RATE = "$__rate_interval"
_POLICY = 'policy=~"$policy"'


def _target(expr: str, legend: str, ref: int) -> dict[str, Any]:
    return {
        "datasource": _DS,
        "expr": expr,
        "legendFormat": legend,
        "refId": chr(ord("A") + ref),
        "range": True,
    }


class _Layout:
    """Hands out panel ids and grid positions, left to right, top to bottom."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self._id = 0
        self._x = 0
        self._y = 0
        self._row_h = 0

    def _next_id(self) -> int:
        self._id += 1
        return self._id

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "id": self._next_id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": _WIDTH, "x": 0, "y": self._y},
                "panels": [],
            }
        )
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_h
            self._x, self._row_h = 0, 0

    def add(
        self,
        kind: str,
        title: str,
        queries: Sequence[tuple[str, str]],
        *,
        width: int,
        height: int = 8,
        unit: str = "short",
        description: str = "",
        thresholds: Sequence[tuple[str, float | None]] = (("green", None),),
        extra: dict[str, Any] | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        if self._x + width > _WIDTH:
            self._newline()
        steps = [{"color": color, "value": value} for color, value in thresholds]
        panel: dict[str, Any] = {
            "type": kind,
            "id": self._next_id(),
            "title": title,
            "description": description,
            "datasource": _DS,
            "gridPos": {"h": height, "w": width, "x": self._x, "y": self._y},
            "targets": [_target(expr, legend, i) for i, (expr, legend) in enumerate(queries)],
            "fieldConfig": {
                "defaults": {
                    "unit": unit,
                    "thresholds": {"mode": "absolute", "steps": steps},
                    **(defaults or {}),
                },
                "overrides": [],
            },
            "options": {},
        }
        if kind == "timeseries":
            panel["fieldConfig"]["defaults"]["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 10,
                "showPoints": "never",
                "thresholdsStyle": {"mode": "line" if len(steps) > 1 else "off"},
            }
            panel["options"] = {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
        elif kind in ("stat", "gauge"):
            panel["options"] = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value",
                "graphMode": "area",
                "textMode": "auto",
            }
        if extra:
            panel.update(extra)
        self.panels.append(panel)
        self._x += width
        self._row_h = max(self._row_h, height)


def _slo_row(layout: _Layout, slo: SloDefinition, dependencies: Sequence[str]) -> None:
    sel = slo.selector_labels
    period = prom_duration(slo.rule_period_seconds)
    objective = slo.objective / 100
    layout.row(f"SLO {slo.service} / {slo.name} — {slo.objective:g}% over {period}")
    layout.add(
        "stat",
        f"Availability ({period})",
        [(f"1 - slo:sli_error:ratio_rate{period}{sel}", "availability")],
        width=6,
        unit="percentunit",
        description="Event-weighted over the SLO period; red below the objective.",
        thresholds=(("red", None), ("green", objective)),
        defaults={"decimals": 4},
    )
    layout.add(
        "gauge",
        "Error budget remaining",
        [(f"slo:period_error_budget_remaining:ratio{sel}", "remaining")],
        width=6,
        unit="percentunit",
        description=f"Share of the {period} error budget not yet spent.",
        thresholds=(("red", None), ("orange", 0.25), ("green", 0.5)),
        defaults={"min": 0, "max": 1},
    )
    layout.add(
        "timeseries",
        "Availability vs target",
        [
            (f"1 - slo:sli_error:ratio_rate1h{sel}", "availability (1h)"),
            (f"1 - slo:sli_error:ratio_rate1d{sel}", "availability (1d)"),
            (f"slo:objective:ratio{sel}", "target"),
        ],
        width=12,
        unit="percentunit",
        defaults={"decimals": 4},
    )
    windows = burn_windows(slo.rule_period_seconds)
    page, ticket = windows[0].factor, windows[2].factor
    layout.add(
        "timeseries",
        "Burn rate",
        [("slo:current_burn_rate:ratio" + sel, "5m")]
        + [
            (f"slo:sli_error:ratio_rate{w}{sel} / {slo.budget:.12g}", w)
            for w in ("1h", "6h", "1d", "3d")
        ],
        width=12,
        unit="x",
        description=f"1 = spending the budget exactly over {period}; the page fires above"
        f" {page:g}x (5m and 1h), the ticket above {ticket:g}x (2h and 1d).",
        thresholds=(("green", None), ("orange", ticket), ("red", page)),
    )
    if dependencies:
        layout.add(
            "timeseries",
            "Hard dependencies: failed, rejected or fallen back",
            [(f"slo:dependency_error:ratio_rate5m{sel}", "{{policy}}")],
            width=12,
            unit="percentunit",
            description="Calls to the entry points' hard dependencies that failed, were"
            f" rejected or fell back ({', '.join(dependencies)}): the one failing is the one"
            " spending this SLO's budget.",
        )


#: The runtime row's panels, two per line: (title, PromQL, legend, unit); the breaker-state and
#: bulkhead panels get their own drawing options in `_runtime_rows`.
_RUNTIME_PANELS: tuple[tuple[str, str, str, str], ...] = (
    (
        "Calls by outcome",
        f"sum by (policy, outcome) (rate(resilience_calls_total{{{_POLICY}}}[{_RATE}]))",
        "{{policy}} {{outcome}}",
        "reqps",
    ),
    (
        "Failure ratio",
        f'sum by (policy) (rate(resilience_calls_total{{{_POLICY},outcome="failure"}}'
        f"[{_RATE}]))\n/\nsum by (policy) (rate(resilience_calls_total{{{_POLICY}}}"
        f"[{_RATE}]))",
        "{{policy}}",
        "percentunit",
    ),
    (
        "Rejections by mechanism",
        f"sum by (policy, mechanism) (rate(resilience_rejections_total{{{_POLICY}}}[{_RATE}]))",
        "{{policy}} {{mechanism}}",
        "reqps",
    ),
    (
        "Timeouts",
        f"sum by (policy, kind) (rate(resilience_timeouts_total{{{_POLICY}}}[{_RATE}]))",
        "{{policy}} {{kind}}",
        "reqps",
    ),
    (
        "Circuit breaker state",
        f"max by (policy, state) (resilience_circuit_breaker_state{{{_POLICY}}}) == 1",
        "{{policy}} {{state}}",
        "short",
    ),
    (
        "Bulkhead saturation",
        f"max by (policy) (resilience_bulkhead_in_flight{{{_POLICY}}}\n/\n"
        f"resilience_bulkhead_capacity{{{_POLICY}}})",
        "{{policy}}",
        "percentunit",
    ),
    (
        "Retries per call",
        f"sum by (policy) (rate(resilience_retries_total{{{_POLICY}}}[{_RATE}]))\n/\n"
        f"sum by (policy) (rate(resilience_calls_total{{{_POLICY}}}[{_RATE}]))",
        "{{policy}}",
        "short",
    ),
    (
        "p99 latency per policy",
        "histogram_quantile(0.99, sum by (policy, le) "
        f"(rate(resilience_call_duration_seconds_bucket{{{_POLICY}}}[{_RATE}])))",
        "{{policy}}",
        "s",
    ),
    (
        "HTTP p99 latency per route",
        "histogram_quantile(0.99, sum by (http_route, le) "
        f"(rate(http_server_request_duration_seconds_bucket[{_RATE}])))",
        "{{http_route}}",
        "s",
    ),
    (
        "HTTP requests by status",
        "sum by (http_response_status_code) "
        f"(rate(http_server_request_duration_seconds_count[{_RATE}]))",
        "{{http_response_status_code}}",
        "reqps",
    ),
)


def _runtime_rows(layout: _Layout) -> None:
    layout.row("Resilience runtime")
    for title, expr, legend, unit in _RUNTIME_PANELS:
        if title == "Circuit breaker state":
            layout.add(
                "state-timeline",
                title,
                [(expr, legend)],
                width=12,
                description="The state each breaker is in (one-hot gauge).",
                extra={"options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.9}},
            )
        elif title == "Bulkhead saturation":
            layout.add(
                "timeseries",
                title,
                [(expr, legend)],
                width=12,
                unit=unit,
                thresholds=(("green", None), ("orange", 0.8), ("red", 1.0)),
            )
        else:
            layout.add("timeseries", title, [(expr, legend)], width=12, unit=unit)


def build_dashboard(spec: SystemSpec, slos: Sequence[SloDefinition]) -> dict[str, Any]:
    """The dashboard document for `spec` (a JSON-serialisable dict)."""
    layout = _Layout()
    for slo in slos:
        _slo_row(layout, slo, slo.dependencies)
    _runtime_rows(layout)
    uid = re.sub(r"[^a-zA-Z0-9-]", "-", f"reliability-{spec.system}")[:40]
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "The Prometheus that scrapes the services and holds the SLO rules",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "11.0.0"},
        ],
        "id": None,
        "uid": uid,
        "title": f"{spec.system} — SLOs and resilience",
        "description": "Generated by `reliability dashboard` from the system spec.",
        "tags": ["reliability-os", "slo"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-7d", "to": "now"},
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [],
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "policy",
                    "label": "Policy",
                    "type": "query",
                    "datasource": _DS,
                    "query": {
                        "query": "label_values(resilience_calls_total, policy)",
                        "refId": "policy",
                    },
                    "definition": "label_values(resilience_calls_total, policy)",
                    "includeAll": True,
                    "allValue": ".*",
                    "multi": True,
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                    "refresh": 2,
                    "sort": 1,
                }
            ]
        },
        "panels": layout.panels,
    }


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
