"""Anomaly detection in PromQL recording rules, as GitLab's metrics catalog does it
(`reliability rules --anomaly`).

Per entry point (the monitoring table's latency rows name them) and per signal — traffic
(requests/s), error ratio (5xx share) and p99 latency, each a 5-minute series (the error ratio
and the p99 only while there is traffic: an idle 5 minutes records nothing rather than a NaN
that would spoil a week of statistics):

- a weekly-seasonal prediction: the signal's 1-hour average one week ago (less 30 minutes, so
  the hour is centred on now) plus the week's growth (the change of its 1-week average over the
  last week), from 1, 2 and 3 weeks back, the median of those there are;
- bands: prediction ± max(3 × the week's standard deviation, a floor) — the floor (10 % of the
  prediction for traffic and latency, the SLO's error budget for the error ratio) keeps a signal
  that never moved from alerting on noise;
- alerts (`TrafficAnomaly` both ways, `ErrorRatioAnomaly` and `LatencyAnomaly` upwards, severity
  ticket, `derived: "true"`) when the signal stays outside its band for `ANOMALY_FOR`, with a
  minimum-traffic guard: the prediction (traffic) or the current rate (error ratio, latency) at
  least `MIN_ANOMALY_RPS`.

Limits: no alert before a week of history (the prediction needs the series a week back); a
holiday or a launch a week ago is predicted again this week; a signal that drifts slowly stays
inside its band; the 1-week `avg_over_time`/`stddev_over_time` are expensive, so the statistics
group is evaluated every `STATS_INTERVAL`; the signals, the statistics and the alerts are three
groups that Prometheus runs on their own timers, so an alert may act on a signal up to two
evaluation intervals old.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.model import Signal
from planner.slo.definition import SloDefinition

__all__ = ["ANOMALY_FOR", "MIN_ANOMALY_RPS", "STATS_INTERVAL", "anomaly_groups"]

#: Requests a second below which the 5-minute signals are too noisy to call anything an anomaly.
MIN_ANOMALY_RPS = 1.0

#: How long a signal must stay outside its band.
ANOMALY_FOR = "15m"

#: Evaluation interval of the weekly statistics (a 1-week range query per series).
STATS_INTERVAL = "5m"

_HISTOGRAM = "http_server_request_duration_seconds"
_TRAFFIC = "entry:http_requests:rate5m"
_ERRORS = "entry:http_errors:ratio_rate5m"
_LATENCY = "entry:http_latency_p99:seconds5m"

# (alert, base series, directions, floor of the band as PromQL over the prediction `{p}`)
_SIGNALS = (
    ("TrafficAnomaly", _TRAFFIC, ("<", ">"), "0.1 * {p}"),
    ("ErrorRatioAnomaly", _ERRORS, (">",), None),  # floor: the SLO's budget
    ("LatencyAnomaly", _LATENCY, (">",), "0.1 * {p}"),
)


def _base(entry: str) -> list[tuple[str, str]]:
    job = f'job="{entry}"'
    total = f"sum(rate({_HISTOGRAM}_count{{{job}}}[5m]))"
    errors = f'sum(rate({_HISTOGRAM}_count{{{job},http_response_status_code=~"5.."}}[5m]))'
    return [
        (_TRAFFIC, total),
        (_ERRORS, f"({errors} or 0 * {total})\n/\n({total} > 0)"),
        # No traffic, no p99: histogram_quantile of empty buckets is NaN, and one NaN in the
        # week would make its average, deviation and so the prediction NaN for a whole week.
        (
            _LATENCY,
            f"histogram_quantile(0.99, sum by (le) (rate({_HISTOGRAM}_bucket{{{job}}}[5m])))"
            f"\nand\n({total} > 0)",
        ),
    ]


def _prediction(series: str, sel: str) -> str:
    """The median over 1, 2 and 3 weeks back of (that hour's average + the week's growth)."""
    parts = []
    for weeks in (1, 2, 3):
        offset = weeks * 7 * 24 * 60 - 30  # minutes: the hour centred on now, w weeks ago
        parts.append(
            "label_replace(\n"
            f"    {series}:avg_over_time_1h{sel} offset {offset}m\n"
            f"    + delta({series}:avg_over_time_1w{sel}[{weeks}w]),\n"
            f'    "p", "{weeks}w", "", "")'
        )
    return "quantile without (p) (0.5,\n  " + "\n  or ".join(parts) + "\n)"


def anomaly_groups(signals: Sequence[Signal], main: SloDefinition) -> list[dict[str, Any]]:
    """The anomaly rules for the entry points of the monitoring table's latency rows."""
    entries = [row.scope[0] for row in signals if row.signal == "Latency" and row.scope]
    base: list[dict[str, Any]] = []
    stats: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for entry in entries:
        labels = {"service": main.service, "entry": entry}
        sel = f'{{service="{main.service}",entry="{entry}"}}'
        base += [{"record": n, "expr": e, "labels": labels} for n, e in _base(entry)]
        for alert, series, directions, floor in _SIGNALS:
            pred = f"{series}:prediction{sel}"
            floor_expr = floor.format(p=pred) if floor else f"0 * {pred} + {main.budget:g}"
            sd = f"{series}:stddev_over_time_1w{sel}"
            stats += [
                _rec(f"{series}:avg_over_time_1h", f"avg_over_time({series}{sel}[1h])", labels),
                _rec(f"{series}:avg_over_time_1w", f"avg_over_time({series}{sel}[1w])", labels),
                _rec(
                    f"{series}:stddev_over_time_1w", f"stddev_over_time({series}{sel}[1w])", labels
                ),
                _rec(f"{series}:prediction", _prediction(series, sel), labels),
                _rec(f"{series}:band", f"3 * {sd} > {floor_expr}\nor\n{floor_expr}", labels),
            ]
            alerts.append(_alert(alert, series, sel, directions, main, entry))
    if not entries:
        return []
    name = f"anomaly-{main.service}"
    return [
        {"name": name, "rules": base},
        {"name": f"{name}-stats", "interval": STATS_INTERVAL, "rules": stats},
        {"name": f"{name}-alerts", "rules": alerts},
    ]


def _rec(name: str, expr: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": labels}


def _alert(
    name: str,
    series: str,
    sel: str,
    directions: tuple[str, ...],
    main: SloDefinition,
    entry: str,
) -> dict[str, Any]:
    now, pred, band = f"{series}{sel}", f"{series}:prediction{sel}", f"{series}:band{sel}"
    sides = [
        f"{now} > {pred} + {band}" if d == ">" else f"{now} < {pred} - {band}" for d in directions
    ]
    guard = pred if series == _TRAFFIC else f"{_TRAFFIC}{sel}"
    expr = "(\n  " + "\n  or\n  ".join(sides) + f"\n)\nand\n{guard} >= {MIN_ANOMALY_RPS:g}"
    if series != _TRAFFIC:  # the guard is another series: match on the entry's labels
        expr = expr.replace("\nand\n", "\nand on (service, entry)\n")
    return {
        "alert": name,
        "expr": expr,
        "for": ANOMALY_FOR,
        "labels": {
            "service": main.service,
            "slo": main.name,
            "severity": "ticket",
            "derived": "true",
            "target": entry,
        },
        "annotations": {
            "summary": f"{main.service} {entry}: {series} outside its weekly band for"
            f" {ANOMALY_FOR}",
            "description": 'Now {{ $value | printf "%.4g" }}; the prediction is last week\'s'
            " value plus the week's growth, the band 3 standard deviations of the week (needs"
            " a week of history).",
        },
    }
