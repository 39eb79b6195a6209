"""Chaos Toolkit ``python`` providers: our probes and actions as plain synchronous functions.

An experiment exported with `chaos.ctk` calls these (``module: chaos.ctk_providers``) where Chaos
Toolkit has no native equivalent: many-request HTTP probes, bounded load, Prometheus values, and
metric increases. Install reliability-os next to chaostoolkit to run them. Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from chaos import actions, probes
from chaos.experiment import HttpProvider, LoadProvider, MetricProvider, PrometheusProvider

_baselines: dict[str, float] = {}


def http_requests(**arguments: Any) -> dict[str, Any]:
    """Send the requests of an ``http`` probe; returns its summary (error_ratio, latency_p99...)."""
    return asyncio.run(probes.http_requests(HttpProvider(type="http", **arguments)))


def drive_load(**arguments: Any) -> dict[str, Any]:
    """Drive the bounded load of a ``load`` action; returns its summary."""
    return asyncio.run(actions.drive_load(LoadProvider(type="load", **arguments)))


def prometheus_query(**arguments: Any) -> float | None:
    """The value of an instant query's first sample (None when empty)."""
    return asyncio.run(probes.prometheus_query(PrometheusProvider(type="prometheus", **arguments)))


def _key(arguments: dict[str, Any]) -> str:
    return json.dumps({k: arguments.get(k) for k in ("url", "name", "labels")}, sort_keys=True)


def metric_value(**arguments: Any) -> float:
    """The sum of a metric's matching samples."""
    return asyncio.run(probes.metric_value(MetricProvider(type="metric", **arguments)))


def metric_baseline(**arguments: Any) -> float:
    """Remember a metric's value now, for `metric_increase` later in the same run."""
    value = metric_value(**arguments)
    _baselines[_key(arguments)] = value
    return value


def metric_increase(**arguments: Any) -> float:
    """How much a metric grew since `metric_baseline` read it (the export adds that read)."""
    value = metric_value(**arguments)
    baseline = _baselines.get(_key(arguments))
    if baseline is None:
        raise probes.ActivityError(f"metric {arguments.get('name')}: no baseline was read")
    return value - baseline
